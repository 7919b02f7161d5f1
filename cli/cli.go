// Package cli is VetBridge's command line: `vetbridge` alone starts the
// desktop app, `vetbridge <command>` runs one command. Commands that read or
// change an installation go through app.Connect, so they give the same
// answers whether or not VetBridge is running.
package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Env is what the commands may touch besides their arguments, so tests run
// them in-process and read their output.
type Env struct {
	Stdout, Stderr io.Writer
	// Desktop shows the desktop UI for a started app; nil where the binary
	// has no UI (the desktop commands then say so).
	Desktop Desktop
	// Version is the program's version, as the build set it.
	Version string
}

func init() {
	register("version", "print VetBridge's version", func(ctx context.Context, env Env, args []string) error {
		fmt.Fprintf(env.Stdout, "VetBridge %s\n", cmp.Or(env.Version, "dev"))
		return nil
	})
}

// command is one `vetbridge <name>`.
type command struct {
	summary string
	run     func(ctx context.Context, env Env, args []string) error
}

// errUsage marks a command-line mistake; the usage has already been printed.
var errUsage = errors.New("usage")

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, env Env, args []string) error) {
	commands[name] = command{summary: summary, run: run}
}

// Main runs the command line and returns the process exit code: 0 done,
// 1 failed, 2 a usage mistake.
func Main(ctx context.Context, args []string, env Env) int {
	name, rest := "", args
	if len(args) > 0 {
		name, rest = args[0], args[1:]
	}
	var err error
	switch {
	case name == "help" || name == "-h" || name == "--help":
		usage(env.Stdout)
		return 0
	case name == "" || strings.HasPrefix(name, "-"):
		// Flags alone (`vetbridge --view settings`) start the desktop app.
		name, err = "", runDesktop(ctx, env, args, false)
	case name == "demo" && !hasFlag(rest, "headless"):
		err = runDesktop(ctx, env, rest, true)
	default:
		cmd, ok := commands[name]
		if !ok {
			fmt.Fprintf(env.Stderr, "vetbridge: unknown command %q\n\n", name)
			usage(env.Stderr)
			return 2
		}
		err = cmd.run(ctx, env, rest)
	}
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		return 2
	}
	if name != "" {
		name = " " + name
	}
	fmt.Fprintf(env.Stderr, "vetbridge%s: %v\n", name, err)
	return 1
}

// hasFlag reports whether a boolean flag is set in args (-x, --x, --x=true).
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		switch strings.TrimLeft(a, "-") {
		case name, name + "=true":
			return strings.HasPrefix(a, "-")
		}
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "VetBridge: Provet Cloud imaging referrals as a DICOM Modality Worklist.")
	fmt.Fprintln(w, "\nUsage:\n  vetbridge [--data DIR] [--view worklist|modalities|unmatched|settings]   start the desktop app (tray)")
	fmt.Fprintln(w, "  vetbridge demo [--referrals N]                                 the desktop app on the built-in Provet simulator")
	fmt.Fprintln(w, "  vetbridge <command> [flags]")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun `vetbridge <command> -h` for a command's flags.")
}

// newFlags makes a flag set that reports errors instead of exiting, so the
// caller decides the exit code.
func newFlags(env Env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: vetbridge %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags and positional arguments in any order
// (`vetbridge find HOST PORT -k Modality=DX`), as DICOM tools' users
// expect, and checks the number of positional arguments.
func parse(fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != positional {
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

// multiFlag collects a repeated flag such as -k.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
