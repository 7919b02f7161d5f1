package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vetbridge/vetbridge/app"
)

func init() {
	register("serve", "sync with Provet and serve the worklist, without a window", cmdServe)
}

func cmdServe(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "serve", "[--data DIR] [--dicom-port N] [--ae TITLE]")
	df := addDataFlags(fs)
	port := fs.Int("dicom-port", 0, "DICOM port for this run (default from the configuration, 11112)")
	ae := fs.String("ae", "", "DICOM AE title for this run (default from the configuration, VETBRIDGE)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	a, err := app.Open(app.Options{
		DataDir: *df.data,
		Logger:  df.logger(env.Stderr),
		Override: func(c *app.Config) {
			// Serving is asked for explicitly here: no first-run window
			// stands between IT and the worklist server.
			c.SetupDone = true
			if *port > 0 {
				c.DICOM.Port = *port
			}
			if *ae != "" {
				c.DICOM.AETitle = *ae
			}
		},
		OpenURL: func(u string) error { printURL(env.Stdout)(u); return nil },
	})
	if errors.Is(err, app.ErrRunning) {
		return fmt.Errorf("%w; `vetbridge status` shows it, `vetbridge quit` stops it", app.ErrRunning)
	}
	if err != nil {
		return err
	}
	defer a.Close()
	// Loading the stored worklist leaves garbage the runtime hands back only
	// slowly; a server idles for days, so give it back once, as the desktop does.
	releaseStartupMemory := time.AfterFunc(15*time.Second, a.ReleaseMemory)
	defer releaseStartupMemory.Stop()
	return a.Run(ctx)
}
