// Command benchserve measures `vetbridge serve` as a clinic would run it: a
// data directory holding many referrals, the real binary started as a
// process, a modality's C-ECHO, and the memory the process keeps while it
// waits for the next query (`make bench`, docs/bench-serve.md). It is a
// tool, not part of the product; it listens and connects on loopback only,
// and reads the process's memory from /proc, so it runs on Linux.
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
		fmt.Fprintln(os.Stderr, "benchserve:", err)
		os.Exit(1)
	}
}
