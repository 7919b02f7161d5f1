// VetBridge puts Provet Cloud's imaging referrals on a clinic's X-ray and
// ultrasound machines as a DICOM Modality Worklist.
//
// `vetbridge` starts the desktop app (tray and window); `vetbridge demo`
// starts it on the built-in Provet simulator; `vetbridge <command>` runs a
// command (see `vetbridge help`). Built with -tags headless it has no
// window: a server's `vetbridge serve` then needs no graphics libraries and
// about a third less memory.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vetbridge/vetbridge/app/console"
	"github.com/vetbridge/vetbridge/cli"
)

// version is set by the build (-X main.version=…, from FyneApp.toml).
var version = "dev"

func main() {
	// A Windows GUI program has no console of its own: commands print to
	// the terminal that started them.
	console.Attach()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Desktop: desktop, Version: version})
	stop()
	os.Exit(code)
}
