// Command benchwl measures VetBridge's worklist server against DCMTK's
// wlmscpfs on the same generated items and queries (`make bench`). It is a
// tool, not part of the product: it starts both servers on loopback.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
)

// errUsage marks a command-line mistake; flag has printed the usage.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Stdout, os.Stderr, os.Args[1:])
	stop()
	switch {
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "benchwl:", err)
		os.Exit(1)
	}
}
