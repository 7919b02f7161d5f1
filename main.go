// VetBridge puts Provet Cloud's imaging referrals on a clinic's X-ray and
// ultrasound machines as a DICOM Modality Worklist.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/vetbridge/vetbridge/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	if app.IsCommand(args) {
		os.Exit(app.RunCommand(ctx, args, os.Stdout, os.Stderr))
	}
	fmt.Fprintln(os.Stderr, "vetbridge: the desktop app is not built in yet; use a command (vetbridge help)")
	os.Exit(2)
}
