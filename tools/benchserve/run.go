package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

type options struct {
	Bin    string
	Items  int
	Starts int           // starts timed to the first C-ECHO
	Idle   time.Duration // how long after start the idle memory is read
	Out    string
	Build  bool
	Env    []string // extra environment for the server, to try runtime settings
	Keep   bool
	Check  bool // fail when a target is missed
}

// The targets of issue 10.
const (
	targetEcho = 300 * time.Millisecond
	targetRSS  = 40 << 10 // KiB
)

// met says whether the run reached both targets.
func (r *report) met() (echo, rss bool) {
	return r.EchoMedian() <= targetEcho, r.Idle.RSS <= targetRSS
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, " ") }
func (e *envFlag) Set(s string) error {
	if !strings.Contains(s, "=") {
		return fmt.Errorf("%q is not NAME=VALUE", s)
	}
	*e = append(*e, s)
	return nil
}

func run(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	var o options
	fs := flag.NewFlagSet("benchserve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Bin, "bin", "bin/vetbridge", "the vetbridge binary to measure")
	fs.IntVar(&o.Items, "items", 10000, "referrals in the store")
	fs.IntVar(&o.Starts, "starts", 5, "starts timed to the first C-ECHO")
	fs.DurationVar(&o.Idle, "idle", 20*time.Second, "when, after start, the idle memory is read")
	fs.StringVar(&o.Out, "out", "", "write the Markdown report here (default: standard output)")
	fs.BoolVar(&o.Build, "build", true, "build --bin first when it is missing or older than the sources")
	fs.Var((*envFlag)(&o.Env), "env", "NAME=VALUE for the server's environment (repeatable), to compare runtime settings")
	fs.BoolVar(&o.Keep, "keep", false, "keep the generated data directory")
	fs.BoolVar(&o.Check, "check", false, "exit non-zero when a target (first C-ECHO ≤ 300 ms, idle RSS ≤ 40 MB) is missed")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 || o.Items < 1 || o.Starts < 1 || o.Idle <= 0 {
		fs.Usage()
		return errUsage
	}
	if o.Build {
		if err := ensureBinary(ctx, o.Bin, stderr); err != nil {
			return err
		}
	}
	rep, err := measure(ctx, o, stderr)
	if err != nil {
		return err
	}
	if o.Out == "" {
		rep.writeMarkdown(stdout)
	} else {
		f, err := os.Create(o.Out)
		if err != nil {
			return err
		}
		rep.writeMarkdown(f)
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "benchserve: first C-ECHO %s (median of %d), idle RSS %.1f MB; wrote %s\n",
			ms(rep.EchoMedian()), len(rep.Echoes), mb(rep.Idle.RSS), o.Out)
	}
	if echoOK, rssOK := rep.met(); o.Check && !(echoOK && rssOK) {
		return fmt.Errorf("targets missed: first C-ECHO %s (target %s), idle RSS %.1f MB (target %d MB)",
			ms(rep.EchoMedian()), ms(targetEcho), mb(rep.Idle.RSS), targetRSS>>10)
	}
	return nil
}

// ensureBinary builds bin from the module when it is missing or older than
// any Go source, so the figures are never of a stale binary.
func ensureBinary(ctx context.Context, bin string, log io.Writer) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if st, err := os.Stat(bin); err == nil {
		newest, err := newestSource(root)
		if err != nil {
			return err
		}
		if !newest.After(st.ModTime()) {
			return nil
		}
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "benchserve: building %s (the first build takes minutes: Fyne is cgo)\n", bin)
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "migrated_fynedo", "-o", abs, ".")
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s (make build shows why): %w", bin, err)
	}
	return nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the vetbridge module: run from its directory")
		}
		dir = parent
	}
}

func newestSource(root string) (time.Time, error) {
	var newest time.Time
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", "dist", "node_modules":
				return filepath.SkipDir
			}
			return nil
		}
		if n := d.Name(); strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") || n == "go.mod" || n == "go.sum" {
			if info, err := d.Info(); err == nil && info.ModTime().After(newest) {
				newest = info.ModTime()
			}
		}
		return nil
	})
	return newest, err
}

// report is one benchmark run's figures.
type report struct {
	When     time.Time
	Machine  string
	Items    int
	Env      []string
	FillTime time.Duration
	DBBytes  int64
	Echoes   []time.Duration
	Idle     procMem
	IdleAt   time.Duration
	Timeline []sample
	GC       gcLine
	GCs      int
	Query    string
	Matches  int
	// The same binary on an empty store: what the items cost is the
	// difference.
	EmptyEcho time.Duration
	EmptyMem  procMem
}

type sample struct {
	At  time.Duration
	Mem procMem
}

func (r *report) EchoMedian() time.Duration {
	s := slices.Clone(r.Echoes)
	slices.Sort(s)
	return s[len(s)/2]
}

func measure(ctx context.Context, o options, log io.Writer) (*report, error) {
	rep := &report{When: time.Now().UTC(), Machine: machine(), Items: o.Items, Env: o.Env}
	dir, err := os.MkdirTemp("", "benchserve-")
	if err != nil {
		return nil, err
	}
	if o.Keep {
		fmt.Fprintf(log, "benchserve: data directory %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	t0 := time.Now()
	if err := fillStore(ctx, dir, genRecords(o.Items, time.Now())); err != nil {
		return nil, fmt.Errorf("fill the store: %w", err)
	}
	rep.FillTime = time.Since(t0)
	if st, err := os.Stat(filepath.Join(dir, "vetbridge.db")); err == nil {
		rep.DBBytes = st.Size()
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := writeConfig(dir, port); err != nil {
		return nil, err
	}
	for i := 0; i < o.Starts; i++ {
		last := i == o.Starts-1
		if err := oneStart(ctx, o, dir, port, rep, last); err != nil {
			return nil, err
		}
	}
	if err := emptyStart(ctx, o, port, rep); err != nil {
		return nil, fmt.Errorf("empty store: %w", err)
	}
	return rep, nil
}

// emptyStart measures the binary's floor: serve on a store with no items,
// read a few seconds after start (nothing is loaded that could settle).
func emptyStart(ctx context.Context, o options, port int, rep *report) (err error) {
	dir, err := os.MkdirTemp("", "benchserve-empty-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := writeConfig(dir, port); err != nil {
		return err
	}
	p, err := startServe(o.Bin, dir, port, o.Env)
	if err != nil {
		return err
	}
	defer func() {
		if serr := p.stop(); err == nil {
			err = serr
		}
	}()
	if rep.EmptyEcho, err = p.firstEcho(ctx, 10*time.Second); err != nil {
		return err
	}
	if err := p.sleepUntil(ctx, 3*time.Second); err != nil {
		return err
	}
	rep.EmptyMem, err = readProcMem(p.cmd.Process.Pid)
	return err
}

// oneStart starts serve, times its first C-ECHO and, on the last start,
// stays to read its memory when idle and to check it serves the items.
func oneStart(ctx context.Context, o options, dir string, port int, rep *report, idle bool) (err error) {
	p, err := startServe(o.Bin, dir, port, o.Env)
	if err != nil {
		return err
	}
	defer func() {
		if serr := p.stop(); err == nil {
			err = serr
		}
	}()
	d, err := p.firstEcho(ctx, 10*time.Second)
	if err != nil {
		return err
	}
	rep.Echoes = append(rep.Echoes, d)
	if !idle {
		return nil
	}
	for _, at := range timelinePoints(o.Idle) {
		if err := p.sleepUntil(ctx, at); err != nil {
			return err
		}
		m, err := readProcMem(p.cmd.Process.Pid)
		if err != nil {
			return err
		}
		rep.Timeline = append(rep.Timeline, sample{At: time.Since(p.started), Mem: m})
	}
	last := rep.Timeline[len(rep.Timeline)-1]
	rep.Idle, rep.IdleAt = last.Mem, last.At
	rep.GC, rep.GCs = p.lastGC()
	rep.Query = "PatientName=Virtanen^*"
	rep.Matches, err = p.countMatches(ctx, []string{rep.Query, "PatientID", "AccessionNumber", "ScheduledProcedureStepStartDate"})
	if err != nil {
		return fmt.Errorf("check query: %w", err)
	}
	if rep.Matches == 0 {
		return errors.New("the check query matched nothing: the server did not serve the generated items")
	}
	return nil
}

// timelinePoints are when memory is read: soon after start, then every
// few seconds up to the idle point.
func timelinePoints(idle time.Duration) []time.Duration {
	var out []time.Duration
	for _, at := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second} {
		if at < idle {
			out = append(out, at)
		}
	}
	return append(out, idle)
}

func (p *serveProc) sleepUntil(ctx context.Context, at time.Duration) error {
	t := time.NewTimer(time.Until(p.started.Add(at)))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.exited:
		return fmt.Errorf("vetbridge serve exited while idle (%v):\n%s", p.waitErr, p.output())
	}
}

func machine() string {
	cpu := runtime.GOARCH
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	s := fmt.Sprintf("%s, %d CPUs, %s/%s, tool built with %s", cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			s += fmt.Sprintf("; load average %s %s %s (shared machine)", f[0], f[1], f[2])
		}
	}
	return s
}

func mb(kib int64) float64           { return float64(kib) / 1024 }
func ms(d time.Duration) string      { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
func seconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func (r *report) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "# `vetbridge serve` with %s stored referrals\n\n", thousands(r.Items))
	fmt.Fprintf(w, "Measured %s by `tools/benchserve` (`make bench`, `scripts/bench-serve.sh`) on %s.\n\n",
		r.When.Format("2006-01-02 15:04 UTC"), r.Machine)
	if len(r.Env) > 0 {
		fmt.Fprintf(w, "Server environment: `%s`.\n\n", strings.Join(r.Env, " "))
	}
	sorted := slices.Clone(r.Echoes)
	slices.Sort(sorted)
	gc := "no GC cycle ran"
	if r.GCs > 0 {
		gc = fmt.Sprintf("%.0f MB live after the last of %d cycles (at %s%s), next goal %.0f MB",
			r.GC.LiveMB, r.GCs, seconds(r.GC.At), map[bool]string{true: ", forced", false: ""}[r.GC.Forced], r.GC.GoalMB)
	}
	echoOK, rssOK := r.met()
	fmt.Fprintln(w, "| figure | measured | target |")
	fmt.Fprintln(w, "|---|---|---|")
	fmt.Fprintf(w, "| first C-ECHO answered, from process start (median of %d starts; fastest, slowest) | %s (%s, %s) | ≤ 300 ms: %s |\n",
		len(sorted), ms(r.EchoMedian()), ms(sorted[0]), ms(sorted[len(sorted)-1]), verdict(echoOK))
	fmt.Fprintf(w, "| resident memory (VmRSS) idle, %s after start | %.1f MB | ≤ 40 MB: %s |\n", seconds(r.IdleAt), mb(r.Idle.RSS), verdict(rssOK))
	fmt.Fprintf(w, "| of which anonymous (heap, stacks, runtime) / file-backed (binary, database pages) | %.1f MB / %.1f MB | |\n",
		mb(r.Idle.Anon), mb(r.Idle.File))
	fmt.Fprintf(w, "| peak resident memory (VmHWM) | %.1f MB | |\n", mb(r.Idle.HWM))
	fmt.Fprintf(w, "| the same binary on an empty store: first C-ECHO, VmRSS (anonymous / file-backed) | %s, %.1f MB (%.1f / %.1f) | |\n",
		ms(r.EmptyEcho), mb(r.EmptyMem.RSS), mb(r.EmptyMem.Anon), mb(r.EmptyMem.File))
	fmt.Fprintf(w, "| Go heap (GODEBUG=gctrace=1) | %s | |\n", gc)
	fmt.Fprintf(w, "| database file | %.1f MB (filled in %s) | |\n", float64(r.DBBytes)/(1<<20), seconds(r.FillTime))
	fmt.Fprintf(w, "| check query `%s` after the idle reading | %d answers | > 0 |\n\n", r.Query, r.Matches)
	fmt.Fprintln(w, "Resident memory after start:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| after | VmRSS | anonymous | file-backed |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, s := range r.Timeline {
		fmt.Fprintf(w, "| %s | %.1f MB | %.1f MB | %.1f MB |\n", seconds(s.At), mb(s.Mem.RSS), mb(s.Mem.Anon), mb(s.Mem.File))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Method: %s Provet-shaped referrals (a week back to three weeks ahead, most waiting, past ones mostly "+
		"completed) are written through `app/records` into a fresh data directory whose configuration finished "+
		"first run and has no Provet sign-in; `vetbridge serve --data DIR --dicom-port P` is started %d times and a "+
		"C-ECHO retried every 2 ms from loopback is timed from the process's start; on the last start /proc/PID/status "+
		"is read at the times above, then one patient-name C-FIND checks the items are served. MB = 2^20 bytes.\n",
		thousands(r.Items), len(r.Echoes))
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
