package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// command is one `vetbridge <name>` subcommand that runs without a window.
type command struct {
	summary string
	run     func(ctx context.Context, env cliEnv, args []string) error
}

// cliEnv is what a command may touch besides its arguments, so tests can run
// commands in-process and read their output.
type cliEnv struct {
	stdout, stderr io.Writer
}

// errUsage marks a command-line mistake; the usage has already been printed.
var errUsage = errors.New("usage")

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, env cliEnv, args []string) error) {
	commands[name] = command{summary: summary, run: run}
}

// IsCommand reports whether args name a headless command. Anything else
// (no arguments, or `demo` without --headless) starts the desktop app.
func IsCommand(args []string) bool {
	if len(args) == 0 {
		return false
	}
	if args[0] == "demo" {
		for _, a := range args[1:] {
			if a == "--headless" || a == "-headless" || a == "--headless=true" {
				return true
			}
		}
		return false
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		return true
	}
	_, ok := commands[args[0]]
	return ok
}

// RunCommand runs one headless command and returns the process exit code.
func RunCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	env := cliEnv{stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "vetbridge: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(ctx, env, args[1:]); err != nil {
		if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
			return 2
		}
		if errors.Is(err, context.Canceled) {
			return 0
		}
		fmt.Fprintf(stderr, "vetbridge %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "VetBridge: Provet Cloud imaging referrals as a DICOM Modality Worklist.")
	fmt.Fprintln(w, "\nUsage:\n  vetbridge                 start the desktop app (tray)\n  vetbridge <command> [flags]")
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
func newFlags(env cliEnv, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: vetbridge %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterspersed lets flags follow positional arguments
// (`vetbridge find HOST PORT -k Modality=DX`), as DICOM tools' users expect.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// multiFlag collects a repeated flag such as -k.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// flagSet lets helpers return a flag set with extra methods later.
type flagSet struct{ *flag.FlagSet }
