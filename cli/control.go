package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/vetbridge/vetbridge/app"
)

func init() {
	register("status", "sign-in, last sync, waiting status updates and the DICOM address", cmdStatus)
	register("sync", "sync with Provet now", cmdSync)
	register("quit", "stop the running VetBridge (installers use it before an upgrade)", cmdQuit)
}

func cmdStatus(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "status", "[--data DIR]")
	df := addDataFlags(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	return df.with(ctx, env, func(c app.Control) error {
		s, err := c.Status(ctx)
		if err != nil {
			return err
		}
		printStatus(env.Stdout, c.Running(), s)
		return nil
	})
}

// printStatus writes the status in the same words whether it came from the
// running instance or the data directory.
func printStatus(w io.Writer, running bool, s app.Status) {
	line := func(k, v string) { fmt.Fprintf(w, "%-18s %s\n", k+":", v) }
	if running {
		line("VetBridge", "running")
	} else {
		line("VetBridge", "not running (read from the data directory)")
	}
	line("State", s.State.String())
	line("Signed in as", orDash(s.SignedInAs))
	last := "never"
	if !s.LastSync.IsZero() {
		last = s.LastSync.Format(time.DateTime)
	}
	line("Last sync", last)
	line("Waiting referrals", fmt.Sprint(s.Waiting))
	line("Status updates", fmt.Sprintf("%d waiting for Provet", s.PendingUpdates))
	line("DICOM", orDash(s.DICOMAddr))
	if s.Message != "" {
		line("Note", s.Message)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmdSync(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "sync", "[--data DIR]")
	df := addDataFlags(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	return df.with(ctx, env, func(c app.Control) error {
		if err := c.SyncNow(ctx); err != nil {
			return err
		}
		if c.Running() {
			fmt.Fprintln(env.Stdout, "The running VetBridge syncs now.")
		} else {
			fmt.Fprintln(env.Stdout, "Synced with Provet.")
		}
		return nil
	})
}

func cmdQuit(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "quit", "[--data DIR]")
	df := addDataFlags(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	return df.with(ctx, env, func(c app.Control) error {
		if !c.Running() {
			fmt.Fprintln(env.Stdout, "VetBridge is not running.")
			return nil
		}
		if err := c.Quit(ctx); err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, "VetBridge has stopped.")
		return nil
	})
}
