package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/app/platform"
	"github.com/vetbridge/vetbridge/demo"
)

func init() {
	register("demo", "the Provet simulator, sign-in, sync and DICOM server in one process (--headless; without it, the desktop app)", cmdDemo)
}

// cmdDemo is the headless demo; `vetbridge demo` without --headless is the
// desktop app on the simulator (runDesktop).
func cmdDemo(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "demo", "--headless [--data DIR] [--referrals N] [--seed S] [--dicom-port N]")
	fs.Bool("headless", false, "run without a window")
	df := addDataFlags(fs)
	flags := demo.AddFlags(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	dir, err := demoDir(*df.data)
	if err != nil {
		return err
	}
	o := flags.Options(dir)
	o.Logger, o.Out = df.logger(env.Stderr), env.Stdout
	d, err := demo.Start(ctx, o)
	if err != nil {
		return err
	}
	defer d.Close()
	runErr := make(chan error, 1)
	go func() { runErr <- d.App.Run(ctx) }()
	if addr := waitDICOMAddr(ctx, d.App); addr != "" {
		fmt.Fprintf(env.Stdout, "dicom: %s\n", addr)
	}
	return <-runErr
}

// demoDir keeps the demo's made-up data apart from the clinic's.
func demoDir(data string) (string, error) {
	if data != "" {
		return data, nil
	}
	d, err := platform.DefaultDataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "demo"), nil
}

// waitDICOMAddr waits until the DICOM server listens, so the printed line is
// true when a script reads it.
func waitDICOMAddr(ctx context.Context, a *app.App) string {
	ready := make(chan struct{}, 1)
	unsubscribe := a.Subscribe(func(e app.Event) {
		if e.Kind == app.EventStatus && a.Status().DICOMAddr != "" {
			select {
			case ready <- struct{}{}:
			default:
			}
		}
	})
	defer unsubscribe()
	if s := a.Status().DICOMAddr; s != "" {
		return s
	}
	select {
	case <-ready:
		return a.Status().DICOMAddr
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
	return ""
}
