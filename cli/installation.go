package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/app/platform"
)

// dataFlags are the flags every command on an installation takes.
type dataFlags struct {
	data  *string
	debug *bool
}

func addDataFlags(fs *flag.FlagSet) dataFlags {
	return dataFlags{
		data:  fs.String("data", "", "data directory (default: the per-user VetBridge directory)"),
		debug: fs.Bool("debug", false, "verbose logs, including patient names: for troubleshooting only"),
	}
}

func (df dataFlags) logger(w io.Writer) *slog.Logger { return app.NewLogger(w, *df.debug) }

// connect reaches the running instance, or opens the data directory when
// none runs; log lines go to stderr.
func (df dataFlags) connect(ctx context.Context, env Env) (app.Control, error) {
	return app.Connect(ctx, app.ConnectOptions{DataDir: *df.data, Logger: df.logger(env.Stderr), OpenURL: platform.OpenBrowser})
}

// withInstallation runs fn on the installation the flags name.
func (df dataFlags) with(ctx context.Context, env Env, fn func(app.Control) error) error {
	c, err := df.connect(ctx, env)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c)
}

// printURL shows the sign-in address, for a remote shell or a desktop
// whose browser did not open.
func printURL(w io.Writer) func(string) {
	return func(u string) {
		fmt.Fprintf(w, "Open this address in a browser to sign in to Provet (the sign-in waits 5 minutes):\n%s\n", u)
	}
}
