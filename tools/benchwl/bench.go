package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/scp"
	"github.com/vetbridge/vetbridge/dicom/scu"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// The targets, checked at the end of every run.
const (
	benchTargetRatio    = 50.0
	benchTargetOneDay   = 10 * time.Millisecond
	benchTargetItems    = 1_000
	benchTargetScaleRun = 32
	benchWLAE           = "BENCHWL"
	benchVBAE           = "VETBRIDGE"
	benchCallingAE      = "BENCHSCU"
)

func run(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("benchwl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	items := fs.String("items", "1000,100000", "worklist sizes to measure, comma-separated")
	clients := fs.String("clients", "1,8", "concurrent clients, comma-separated; each client holds its own association")
	queries := fs.Int("queries", 200, "queries per client and run (slow runs stop earlier, at --budget)")
	keep := fs.String("keep", "", "write the wlmscpfs .wl files under DIR and leave them there")
	out := fs.String("out", "", "also write the results as Markdown to FILE")
	budget := fs.Duration("budget", 10*time.Second, "time after which a run starts no further queries (it bounds wlmscpfs's runs; VetBridge's rarely reach it)")
	scale := fs.Int("scale-clients", benchTargetScaleRun, "clients of the VetBridge-only scaling run at 1,000 items (0: none)")
	wlm := fs.String("wlmscpfs", "wlmscpfs", "the DCMTK wlmscpfs binary")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return errUsage
	}
	opts := benchWLOptions{Queries: *queries, Keep: *keep, Budget: *budget, ScaleClients: *scale,
		WLMSCPFS: *wlm, Progress: stderr}
	var err error
	if opts.Items, err = parseIntList(*items); err != nil {
		return fmt.Errorf("--items: %w", err)
	}
	if opts.Clients, err = parseIntList(*clients); err != nil {
		return fmt.Errorf("--clients: %w", err)
	}
	if opts.Queries < 1 {
		return errors.New("--queries must be at least 1")
	}
	rep, err := runBenchWL(ctx, opts)
	if err != nil {
		return err
	}
	rep.writeText(stdout)
	if *out != "" {
		var b bytes.Buffer
		rep.writeMarkdown(&b)
		if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", *out, err)
		}
	}
	return nil
}

func parseIntList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ReplaceAll(f, "_", ""))
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}

type benchWLOptions struct {
	Items, Clients []int
	Queries        int
	Keep           string
	// Budget bounds wlmscpfs runs: past it, clients start no new query.
	// VetBridge runs get the same budget; only its largest answers reach it.
	Budget       time.Duration
	ScaleClients int
	WLMSCPFS     string
	// Today is the centre of the generated schedule; zero means a fixed
	// date, so every run serves byte-identical items.
	Today    time.Time
	Progress io.Writer
}

type benchStats struct {
	Queries        int
	Median, P95    time.Duration
	QPS            float64
	Matches        int // per query; -1 when the queries disagreed
	Bounded        bool
	Skipped        string
	Err            string
	PeakAssocs     int
	WallClock      time.Duration
	mismatchDetail string
}

type benchRow struct {
	Items    int
	Query    string
	Clients  int
	NewAssoc bool
	WLM, VB  benchStats
	Warning  string
}

// benchSplit separates VetBridge's own work on a query (decode, match,
// encode every answer, no network) from what the loopback round trip adds.
type benchSplit struct {
	Items           int
	Query           string
	Matches         int
	InProcess, Wire time.Duration // medians
}

type benchReport struct {
	Started  time.Time
	Env      string
	Rows     []benchRow
	Scale    []benchRow // VetBridge only
	Split    []benchSplit
	Notes    []string
	Warnings []string
}

// benchQuery is one query both servers can answer identically: wlmscpfs
// 3.6.7 matches names byte-exact and case-sensitively and knows no
// veterinary keys, so the values are ASCII and the keys standard.
type benchQuery struct {
	Name, Desc string
	Match      []string
}

func benchQueries(today time.Time) []benchQuery {
	d := func(off int) string { return today.AddDate(0, 0, off).Format("20060102") }
	return []benchQuery{
		{Name: "one-day DX", Desc: "Modality=DX, ScheduledProcedureStepStartDate=" + d(0) + " (today, a busy day)",
			Match: []string{"Modality=DX", "ScheduledProcedureStepStartDate=" + d(0)}},
		{Name: "patient name", Desc: "PatientName=Virtanen^M* (no date: every day)",
			Match: []string{"PatientName=Virtanen^M*"}},
		{Name: "week range", Desc: "ScheduledProcedureStepStartDate=" + d(-3) + "-" + d(3) + ", any modality",
			Match: []string{"ScheduledProcedureStepStartDate=" + d(-3) + "-" + d(3)}},
	}
}

// benchReturnKeys is what an X-ray or ultrasound unit asks for.
var benchReturnKeys = []string{
	"PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyInstanceUID",
	"RequestedProcedureID", "RequestedProcedureDescription", "Modality", "ScheduledStationAETitle",
	"ScheduledProcedureStepStartDate", "ScheduledProcedureStepStartTime", "ScheduledProcedureStepID",
	"ScheduledProcedureStepDescription",
}

func (q benchQuery) identifier() ([]byte, error) {
	keys := slices.Clone(benchReturnKeys)
	for _, m := range q.Match {
		name, _, _ := strings.Cut(m, "=")
		for i, k := range keys {
			if k == name {
				keys[i] = m
			}
		}
	}
	// Explicit VR Little Endian: the only syntax the benchmark proposes.
	return scu.EncodeWorklistQuery(keys, false, false)
}

var (
	benchOwners = []string{"Virtanen", "Mäkinen", "Nieminen", "Korhonen", "Smith", "Müller", "Sørensen",
		"García", "Dvořák", "O'Brien", "Johansson", "Lehtonen", "Jansen", "Rossi", "Żak", "Hämäläinen",
		"Andersson", "Kowalski", "Novak", "Laine", "Peeters", "Dubois", "Fischer", "Heikkinen", "ABC Farms"}
	benchGiven = []string{"Anna", "Jukka", "Sofie", "Pekka", "Maria", "Åsa", "Jörg", "Liam", "Eva", "Mikko"}
	benchPets  = []struct{ name, species, breed string }{
		{"Pörri", "Canine", "Finnish Lapphund"}, {"Musti", "Canine", "Labrador Retriever"},
		{"Mörkö", "Feline", "Norwegian Forest Cat"}, {"Fluffy", "Feline", "Persian"},
		{"Max", "Canine", "German Shepherd"}, {"Nalle", "Canine", "Karelian Bear Dog"},
		{"Mirri", "Feline", "European Shorthair"}, {"Rex", "Canine", "Boxer"},
		{"Bella", "Canine", "Golden Retriever"}, {"Sisu", "Equine", "Finnhorse"},
		{"Luna", "Feline", "Maine Coon"}, {"Räpsy", "Rabbit", "Lionhead"},
		{"Milo", "Canine", "Dachshund"}, {"Kaapo", "Canine", "Finnish Spitz"},
		{"Running on Water", "Equine", "Thoroughbred"}, {"Ötzi", "Canine", "Bernese Mountain Dog"},
	}
	benchModalities = []struct {
		mod      string
		stations []string
		descs    []string
		weight   int
	}{
		{"DX", []string{"DX1", "DX2"}, []string{"Thorax 2 views", "Hip dysplasia screening", "Left forelimb", "Abdomen lateral"}, 45},
		{"CR", []string{"CR1"}, []string{"Dental", "Skull"}, 15},
		{"US", []string{"US1", "US2"}, []string{"Abdominal ultrasound", "Echocardiography", "Pregnancy check"}, 30},
		{"CT", []string{"CT1"}, []string{"Head CT", "Thorax CT"}, 10},
	}
)

// benchDay is the fixed centre of the generated schedule.
var benchDay = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// genBenchItems makes n items deterministically: a pool of n/3 patients
// (so an animal comes back), ±30 days around today with about n/61 items a
// day, office hours in 15-minute slots.
func genBenchItems(n int, today time.Time) []worklist.Item {
	r := rand.New(rand.NewPCG(uint64(n), 0x7e7b1d9e))
	patients := max(n/3, 1)
	total := 0
	for _, m := range benchModalities {
		total += m.weight
	}
	items := make([]worklist.Item, n)
	for i := range items {
		p := r.IntN(patients)
		owner := benchOwners[p%len(benchOwners)]
		pet := benchPets[(p/len(benchOwners))%len(benchPets)]
		w := r.IntN(total)
		mi := 0
		for ; w >= benchModalities[mi].weight; mi++ {
			w -= benchModalities[mi].weight
		}
		m := benchModalities[mi]
		day := today.AddDate(0, 0, r.IntN(61)-30)
		key := fmt.Sprintf("bench:%d:%07d", n, i)
		acc := fmt.Sprintf("VB%07d", i+1)
		sex := []string{"M", "F"}[p%2]
		neut := []string{"ALTERED", "UNALTERED"}[(p/2)%2]
		it := worklist.Item{
			Key:                           key,
			PatientName:                   owner + "^" + pet.name,
			PatientID:                     fmt.Sprintf("P%06d", p+1),
			PatientBirthDate:              today.AddDate(-1-p%14, -(p % 12), 0).Format("20060102"),
			PatientSex:                    sex,
			PatientSexNeutered:            neut,
			PatientWeightKg:               float64(2+p%40) + 0.5,
			SpeciesDescription:            pet.species,
			BreedDescription:              pet.breed,
			ResponsiblePerson:             owner + "^" + benchGiven[p%len(benchGiven)],
			ResponsiblePersonRole:         "OWNER",
			AccessionNumber:               acc,
			RequestedProcedureID:          acc,
			RequestedProcedureDescription: m.descs[r.IntN(len(m.descs))],
			RequestedProcedurePriority:    "ROUTINE",
			StudyInstanceUID:              worklist.DerivedStudyInstanceUID(key),
			ReferringPhysician:            "Lahti^Kaisa",
			StationAETitle:                m.stations[r.IntN(len(m.stations))],
			Modality:                      m.mod,
			StartDate:                     day.Format("20060102"),
			StartTime:                     fmt.Sprintf("%02d%02d00", 8+r.IntN(10), 15*r.IntN(4)),
			SPSID:                         acc + "-1",
			SPSStatus:                     "SCHEDULED",
			Updated:                       today,
		}
		if owner == "ABC Farms" {
			it.ResponsiblePerson, it.ResponsiblePersonRole, it.ResponsibleOrganization = "", "", owner
		}
		it.SPSDescription = it.RequestedProcedureDescription
		items[i] = it
	}
	return items
}

func (o benchWLOptions) logf(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

func runBenchWL(ctx context.Context, o benchWLOptions) (*benchReport, error) {
	wlm, err := exec.LookPath(o.WLMSCPFS)
	if err != nil {
		return nil, fmt.Errorf("DCMTK wlmscpfs not found (Debian: apt-get install dcmtk): %w", err)
	}
	if o.Today.IsZero() {
		o.Today = benchDay
	}
	if o.Budget <= 0 {
		o.Budget = 10 * time.Second
	}
	rep := &benchReport{Started: time.Now().UTC()}
	ver, _ := exec.Command(wlm, "--version").Output()
	verLine, _, _ := strings.Cut(strings.TrimSpace(string(ver)), "\n")
	rep.Env = fmt.Sprintf("%s, %s/%s, %d CPUs (GOMAXPROCS %d), %s; client: VetBridge's scu in the same process, loopback TCP",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), strings.Trim(verLine, "$ "))
	// Figures from a shared machine mean little without its load.
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			rep.Env += fmt.Sprintf("; load average at start %s %s %s", f[0], f[1], f[2])
		}
	}
	queries := benchQueries(o.Today)
	for _, n := range o.Items {
		if err := benchOneSize(ctx, o, wlm, n, queries, rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func benchOneSize(ctx context.Context, o benchWLOptions, wlm string, n int, queries []benchQuery, rep *benchReport) error {
	items := genBenchItems(n, o.Today)
	root := o.Keep
	if root == "" {
		dir, err := os.MkdirTemp("", "vetbridge-bench-wl-")
		if err != nil {
			return fmt.Errorf("make the wlmscpfs directory: %w", err)
		}
		defer os.RemoveAll(dir)
		root = dir
	} else {
		root = filepath.Join(root, fmt.Sprintf("items-%d", n))
	}
	o.logf("bench-wl: %d items: writing .wl files under %s", n, root)
	t0 := time.Now()
	if err := writeBenchWL(filepath.Join(root, benchWLAE), items); err != nil {
		return err
	}
	o.logf("bench-wl: %d items: wrote %d files in %s", n, n, time.Since(t0).Round(time.Millisecond))

	wlAddr, stopWLM, err := startBenchWLMSCPFS(ctx, wlm, root)
	if err != nil {
		return err
	}
	defer stopWLM()

	idx := worklist.NewIndex()
	if err := idx.ReplaceAll(items); err != nil {
		return fmt.Errorf("index the items: %w", err)
	}
	vbAddr, srv, svc, stopVB, err := startBenchVetBridge(ctx, idx, o.Today)
	if err != nil {
		return err
	}
	defer stopVB()

	type target struct {
		addr, ae string
		wlm      bool
	}
	wlT, vbT := target{wlAddr, benchWLAE, true}, target{vbAddr, benchVBAE, false}
	run := func(t target, ident []byte, clients, perClient, minPerClient int, newAssoc bool) benchStats {
		var peak func() int
		if !t.wlm {
			stop := make(chan struct{})
			var p atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				tick := time.NewTicker(2 * time.Millisecond)
				defer tick.Stop()
				for {
					if a := int64(srv.ActiveAssociations()); a > p.Load() {
						p.Store(a)
					}
					select {
					case <-stop:
						return
					case <-tick.C:
					}
				}
			}()
			peak = func() int { close(stop); <-done; return int(p.Load()) }
		}
		st := benchClients(ctx, t.addr, t.ae, ident, clients, perClient, minPerClient, newAssoc, o.Budget)
		if peak != nil {
			st.PeakAssocs = peak()
		}
		return st
	}

	// One untimed query per server fills caches (wlmscpfs's file reads, our
	// first-use allocations). At large sizes wlmscpfs's files are still in
	// the page cache from being written, and its warm-up would cost a
	// whole query, so it is left out there.
	warm, err := queries[0].identifier()
	if err != nil {
		return err
	}
	run(vbT, warm, 1, 3, 1, false)
	if n <= 10_000 {
		run(wlT, warm, 1, 1, 1, false)
	}

	for qi, q := range queries {
		ident, err := q.identifier()
		if err != nil {
			return fmt.Errorf("build query %q: %w", q.Name, err)
		}
		var wlmMedian1 time.Duration
		variants := []bool{false}
		if qi == 0 {
			variants = append(variants, true)
		}
		for _, newAssoc := range variants {
			for _, c := range o.Clients {
				row := benchRow{Items: n, Query: q.Name, Clients: c, NewAssoc: newAssoc}
				o.logf("bench-wl: %d items, %s, %d client(s)%s: VetBridge", n, q.Name, c, map[bool]string{true: ", association per query"}[newAssoc])
				row.VB = run(vbT, ident, c, o.Queries, 1, newAssoc)
				// wlmscpfs reads every file for every query whatever the
				// query, so its cost is known from the one-client run; skip
				// concurrent runs that would only confirm it at great length.
				est := time.Duration(float64(wlmMedian1) * float64(c) / float64(runtime.NumCPU()))
				switch {
				case newAssoc && n > 10_000:
					row.WLM.Skipped = "not run: at this size each query costs the same as on a held association"
				case c > 1 && wlmMedian1 > 0 && est > 2*o.Budget && qi > 0:
					row.WLM.Skipped = fmt.Sprintf("not run: one round would take about %s", est.Round(time.Second))
				default:
					o.logf("bench-wl: %d items, %s, %d client(s): wlmscpfs", n, q.Name, c)
					// A median needs a few queries, whatever they cost.
					minQ := 1
					if c == 1 && qi == 0 {
						minQ = min(3, o.Queries)
					}
					row.WLM = run(wlT, ident, c, o.Queries, minQ, newAssoc)
				}
				if c == 1 && !newAssoc && row.VB.Err == "" && row.VB.Queries > 0 {
					rep.Split = append(rep.Split, benchSplit{Items: n, Query: q.Name, Matches: row.VB.Matches,
						InProcess: benchInProcess(ctx, svc, ident, min(o.Queries, 50), o.Budget), Wire: row.VB.Median})
				}
				if c == 1 && !newAssoc && row.WLM.Err == "" && row.WLM.Skipped == "" {
					wlmMedian1 = row.WLM.Median
					if qi == 0 {
						rep.Notes = append(rep.Notes, fmt.Sprintf("At %d items wlmscpfs took %s ms per query (one client, one-day query): %.3f ms per stored item.",
							n, fmtMS(wlmMedian1), float64(wlmMedian1)/float64(time.Millisecond)/float64(n)))
					}
				}
				row.Warning = compareMatches(row)
				if row.Warning != "" {
					rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d items, %s, %d clients: %s", n, q.Name, c, row.Warning))
					o.logf("bench-wl: WARNING: %s", row.Warning)
				}
				rep.Rows = append(rep.Rows, row)
			}
		}
	}
	if n == benchTargetItems && o.ScaleClients > 0 {
		ident, err := queries[0].identifier()
		if err != nil {
			return err
		}
		for _, c := range []int{1, o.ScaleClients} {
			o.logf("bench-wl: %d items, %s, %d client(s): VetBridge scaling run", n, queries[0].Name, c)
			row := benchRow{Items: n, Query: queries[0].Name, Clients: c}
			row.VB = run(vbT, ident, c, o.Queries, 1, false)
			rep.Scale = append(rep.Scale, row)
		}
	}
	return nil
}

// compareMatches says why the two servers' answers differ, if they do.
func compareMatches(r benchRow) string {
	switch {
	case r.VB.Err != "":
		return "VetBridge failed: " + r.VB.Err
	case r.WLM.Err != "":
		return "wlmscpfs failed: " + r.WLM.Err
	case r.VB.Matches < 0:
		return "VetBridge's answers varied between identical queries: " + r.VB.mismatchDetail
	case r.WLM.Matches < 0:
		return "wlmscpfs's answers varied between identical queries: " + r.WLM.mismatchDetail
	case r.WLM.Skipped != "" || r.WLM.Queries == 0:
		return ""
	case r.WLM.Matches != r.VB.Matches:
		why := "wlmscpfs matches names byte-exact and case-sensitively, rejects incomplete .wl files, and ignores keys it does not know; VetBridge does none of that"
		if r.WLM.Matches < r.VB.Matches {
			why = "wlmscpfs rejected some .wl files or matched case-sensitively (its log says which); " + why
		}
		return fmt.Sprintf("match counts differ: wlmscpfs %d, VetBridge %d (%s)", r.WLM.Matches, r.VB.Matches, why)
	}
	return ""
}

func writeBenchWL(dir string, items []worklist.Item) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	// wlmscpfs refuses to serve an AE directory without its lock file.
	if err := os.WriteFile(filepath.Join(dir, "lockfile"), nil, 0o644); err != nil {
		return fmt.Errorf("create the wlmscpfs lock file: %w", err)
	}
	workers := max(runtime.NumCPU(), 1)
	errs := make(chan error, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for {
				i := int(next.Add(1) - 1)
				if i >= len(items) {
					return
				}
				buf.Reset()
				if err := worklist.WriteFile(&buf, items[i]); err != nil {
					errs <- fmt.Errorf("encode item %s: %w", items[i].Key, err)
					return
				}
				path := filepath.Join(dir, fmt.Sprintf("item%07d.wl", i))
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					errs <- fmt.Errorf("write %s: %w", path, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// tailBuffer keeps the end of a process's output for error messages.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 8192 {
		t.b = append(t.b[:0], t.b[len(t.b)-4096:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startBenchWLMSCPFS runs wlmscpfs the way clinics do, forking a process per
// association, with host name lookups off so they do not count against it.
func startBenchWLMSCPFS(ctx context.Context, bin, root string) (addr string, stop func(), err error) {
	port, err := freeLoopbackPort()
	if err != nil {
		return "", nil, err
	}
	var out tailBuffer
	cmd := exec.Command(bin, "-dhl", "-ac", "-dfp", root, strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start wlmscpfs: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			return "", nil, fmt.Errorf("wlmscpfs exited at start (%v): %s", err, out.String())
		default:
		}
		c, derr := net.DialTimeout("tcp", addr, time.Second)
		if derr == nil {
			c.Close()
			return addr, stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return "", nil, fmt.Errorf("wlmscpfs did not listen on %s: %w (%s)", addr, derr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startBenchVetBridge serves idx as the app does, with a profile that adds
// no filter of its own, so both servers answer the very same query.
func startBenchVetBridge(ctx context.Context, idx *worklist.Index, today time.Time) (string, *scp.Server, *worklist.Service, func(), error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := &worklist.Service{
		Index: idx,
		Profile: func(string) worklist.Profile {
			return worklist.Profile{DaysBefore: -1, DaysAfter: -1, ShowStarted: true}
		},
		Now: func() time.Time { return today.Add(9 * time.Hour) },
		Log: quiet,
	}
	srv := scp.New(scp.Config{
		AETitle: benchVBAE,
		// Every client comes from 127.0.0.1: the per-address caps that keep
		// one host from crowding out the others would cap the benchmark.
		MaxAssociationsPerIP: -1,
		MaxPendingPerIP:      -1,
		Find: func(ctx context.Context, req scp.FindRequest, send func([]byte) error) uint16 {
			return svc.Find(ctx, worklist.Request{
				CallingAE: req.Peer.CallingAE, CalledAE: req.Peer.CalledAE, Addr: req.Peer.Addr,
				BigEndian: req.Syntax.BigEndian, Implicit: req.Syntax.Implicit, Identifier: req.Identifier,
			}, send)
		},
		Logger: quiet,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, nil, fmt.Errorf("listen for VetBridge's server: %w", err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = srv.Serve(sctx, ln); close(done) }()
	return ln.Addr().String(), srv, svc, func() { cancel(); <-done }, nil
}

// benchInProcess is the median time of svc.Find alone for ident.
func benchInProcess(ctx context.Context, svc *worklist.Service, ident []byte, n int, budget time.Duration) time.Duration {
	var ds []time.Duration
	start := time.Now()
	for i := 0; i < n && (i == 0 || time.Since(start) < budget); i++ {
		t0 := time.Now()
		svc.Find(ctx, worklist.Request{CallingAE: benchCallingAE, CalledAE: benchVBAE, Identifier: ident},
			func([]byte) error { return nil })
		ds = append(ds, time.Since(t0))
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// benchClients runs clients concurrent clients of perClient queries each and
// returns latencies and throughput. Past budget a client starts no new
// query once it has run minPerClient, so a slow server ends a run early.
func benchClients(ctx context.Context, addr, calledAE string, ident []byte, clients, perClient, minPerClient int, newAssoc bool, budget time.Duration) benchStats {
	opts := scu.Options{CallingAE: benchCallingAE, CalledAE: calledAE, Timeout: 10 * time.Minute,
		Contexts: []scu.Context{{AbstractSyntax: dimse.ModalityWorklistFind, TransferSyntaxes: []string{dimse.ExplicitVRLittleEndian}}}}
	type result struct {
		lat     []time.Duration
		counts  []int
		bounded bool
		err     error
	}
	results := make([]result, clients)
	var ready, wg sync.WaitGroup
	startGate := make(chan struct{})
	ready.Add(clients)
	wg.Add(clients)
	for ci := range clients {
		go func() {
			defer wg.Done()
			res := &results[ci]
			var as *scu.Assoc
			var err error
			if !newAssoc {
				// Associations are opened before the clock starts: a modality
				// holding one open is what the throughput figure is about.
				as, err = scu.Dial(ctx, addr, opts)
			}
			ready.Done()
			<-startGate
			if err != nil {
				res.err = fmt.Errorf("associate: %w", err)
				return
			}
			start := time.Now()
			for q := 0; q < perClient; q++ {
				if q >= max(minPerClient, 1) && time.Since(start) > budget {
					res.bounded = true
					break
				}
				t0 := time.Now()
				if newAssoc {
					if as, err = scu.Dial(ctx, addr, opts); err != nil {
						res.err = fmt.Errorf("associate: %w", err)
						return
					}
				}
				n := 0
				st, err := as.Find(ctx, dimse.ModalityWorklistFind, ident, func([]byte) error { n++; return nil })
				if err == nil && st != dimse.StatusSuccess {
					err = fmt.Errorf("final status 0x%04X", st)
				}
				if err != nil {
					as.Abort()
					res.err = fmt.Errorf("C-FIND: %w", err)
					return
				}
				if newAssoc {
					if err := as.Release(ctx); err != nil {
						res.err = fmt.Errorf("release: %w", err)
						return
					}
				}
				res.lat = append(res.lat, time.Since(t0))
				res.counts = append(res.counts, n)
			}
			if !newAssoc {
				_ = as.Release(ctx)
			}
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(startGate)
	wg.Wait()
	wall := time.Since(t0)

	var st benchStats
	var all []time.Duration
	st.Matches = -2
	for _, r := range results {
		if r.err != nil && st.Err == "" {
			st.Err = r.err.Error()
		}
		st.Bounded = st.Bounded || r.bounded
		all = append(all, r.lat...)
		for _, c := range r.counts {
			switch st.Matches {
			case -2:
				st.Matches = c
			case -1, c:
			default:
				st.mismatchDetail = fmt.Sprintf("%d and %d matches", st.Matches, c)
				st.Matches = -1
			}
		}
	}
	if st.Matches == -2 {
		st.Matches = 0
	}
	st.Queries = len(all)
	st.WallClock = wall
	if len(all) > 0 {
		slices.Sort(all)
		st.Median = all[len(all)/2]
		if len(all)%2 == 0 {
			st.Median = (all[len(all)/2-1] + all[len(all)/2]) / 2
		}
		st.P95 = all[max(int(math.Ceil(0.95*float64(len(all))))-1, 0)]
		st.QPS = float64(len(all)) / wall.Seconds()
	}
	return st
}

func fmtMS(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms >= 100:
		return strconv.FormatFloat(ms, 'f', 0, 64)
	case ms >= 10:
		return strconv.FormatFloat(ms, 'f', 1, 64)
	default:
		return strconv.FormatFloat(ms, 'f', 2, 64)
	}
}

func fmtQPS(q float64) string {
	switch {
	case q >= 100:
		return strconv.FormatFloat(q, 'f', 0, 64)
	case q >= 1:
		return strconv.FormatFloat(q, 'f', 1, 64)
	default:
		return strconv.FormatFloat(q, 'f', 3, 64)
	}
}

func fmtRatio(r float64) string {
	if r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		return "–"
	}
	if r >= 10 {
		return strconv.FormatFloat(r, 'f', 0, 64) + "×"
	}
	return strconv.FormatFloat(r, 'f', 1, 64) + "×"
}

// cells are one row of the results table, shared by text and Markdown.
func (r benchRow) cells() []string {
	q := r.Query
	if r.NewAssoc {
		q += " (association per query)"
	}
	lat := func(s benchStats) string {
		switch {
		case s.Skipped != "":
			return "–"
		case s.Err != "":
			return "error"
		case s.Queries == 0:
			return "–"
		}
		return fmt.Sprintf("%s (p95 %s)", fmtMS(s.Median), fmtMS(s.P95))
	}
	qps := func(s benchStats) string {
		if s.Skipped != "" || s.Err != "" || s.Queries == 0 {
			return "–"
		}
		v := fmtQPS(s.QPS)
		if s.Bounded {
			v += "*"
		}
		return v
	}
	ratioLat, ratioQPS := 0.0, 0.0
	if r.WLM.Queries > 0 && r.VB.Queries > 0 && r.WLM.Err == "" && r.VB.Err == "" {
		ratioLat = float64(r.WLM.Median) / float64(r.VB.Median)
		ratioQPS = r.VB.QPS / r.WLM.QPS
	}
	matches := strconv.Itoa(r.VB.Matches)
	if r.WLM.Queries > 0 && r.WLM.Matches != r.VB.Matches {
		matches = fmt.Sprintf("%d ≠ %d", r.WLM.Matches, r.VB.Matches)
	}
	n := func(s benchStats) string {
		if s.Queries == 0 {
			return "–"
		}
		return strconv.Itoa(s.Queries)
	}
	return []string{strconv.Itoa(r.Items), q, strconv.Itoa(r.Clients), matches,
		lat(r.WLM), lat(r.VB), fmtRatio(ratioLat), qps(r.WLM), qps(r.VB), fmtRatio(ratioQPS),
		n(r.WLM) + " / " + n(r.VB)}
}

var benchHeader = []string{"items", "query", "clients", "matches", "wlmscpfs ms/query", "VetBridge ms/query",
	"ratio", "wlmscpfs q/s", "VetBridge q/s", "ratio", "queries timed (wlm / VB)"}

// targets evaluates the goals against the measured rows.
func (rep *benchReport) targets() []string {
	var out []string
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	var minLat, minQPS = math.Inf(1), math.Inf(1)
	var haveLat, haveQPS bool
	for _, r := range rep.Rows {
		if r.Items != benchTargetItems || r.NewAssoc || r.WLM.Queries == 0 || r.VB.Queries == 0 || r.WLM.Err != "" || r.VB.Err != "" {
			continue
		}
		if r.Clients == 1 {
			minLat = math.Min(minLat, float64(r.WLM.Median)/float64(r.VB.Median))
			haveLat = true
		}
		if r.Clients == 8 {
			minQPS = math.Min(minQPS, r.VB.QPS/r.WLM.QPS)
			haveQPS = true
		}
	}
	if haveLat {
		out = append(out, fmt.Sprintf("≥%.0f× faster per query at %d items (one client, every query): worst ratio %s — %s",
			benchTargetRatio, benchTargetItems, fmtRatio(minLat), verdict(minLat >= benchTargetRatio)))
	}
	if haveQPS {
		out = append(out, fmt.Sprintf("≥%.0f× the throughput with 8 clients at %d items (every query): worst ratio %s — %s",
			benchTargetRatio, benchTargetItems, fmtRatio(minQPS), verdict(minQPS >= benchTargetRatio)))
	}
	for _, r := range rep.Rows {
		if r.Items == 100_000 && r.Query == "one-day DX" && r.Clients == 1 && !r.NewAssoc && r.VB.Queries > 0 {
			tail := ""
			if r.VB.Median < benchTargetOneDay && r.VB.P95 >= benchTargetOneDay {
				tail = " by the median; the slowest 5% were not"
			}
			out = append(out, fmt.Sprintf("one-day query at 100,000 items under %s ms (one client): median %s ms, p95 %s ms, %d matches — %s%s",
				fmtMS(benchTargetOneDay), fmtMS(r.VB.Median), fmtMS(r.VB.P95), r.VB.Matches, verdict(r.VB.Median < benchTargetOneDay), tail))
		}
	}
	if len(rep.Scale) == 2 && rep.Scale[0].VB.Queries > 0 && rep.Scale[1].VB.Queries > 0 {
		one, many := rep.Scale[0].VB, rep.Scale[1].VB
		scale := many.QPS / one.QPS
		// Serialised, 32 clients would get one client's throughput at 32
		// times its latency; served in parallel, the throughput rises until
		// the CPUs are busy.
		ok := scale >= 1.2 && many.PeakAssocs >= rep.Scale[1].Clients
		out = append(out, fmt.Sprintf("%d concurrent clients served without serialising (one-day query, %d items): "+
			"%s q/s vs %s q/s with one client (%s), %d associations open at once, median %s ms vs %s ms — %s",
			rep.Scale[1].Clients, benchTargetItems, fmtQPS(many.QPS), fmtQPS(one.QPS), fmtRatio(scale), many.PeakAssocs,
			fmtMS(many.Median), fmtMS(one.Median), verdict(ok)))
	}
	return out
}

func (rep *benchReport) notes() []string {
	notes := []string{
		"ms/query is the median (and 95th percentile) time from sending the C-FIND to its final response, over every query of the run; with several clients it includes waiting for the server under load.",
		"q/s is all queries completed divided by the run's wall-clock time, associations opened before the clock starts (except for \"association per query\", where each query associates, queries and releases, as many modalities do).",
		"Both servers get the same queries from the same client (VetBridge's scu, TCP_NODELAY), in Explicit VR Little Endian, over loopback; DCMTK's findscu is not used because it adds tens of ms per query by itself.",
		"wlmscpfs runs as clinics run it: a process forked per association, reading every .wl file for every query; VetBridge serves the same items from its in-memory index with a device profile that adds no filter.",
		"* marks a run bounded by the time budget: clients started no new query once it had passed (wlmscpfs's one-client one-day runs still do at least 3), so fewer queries were timed. Concurrent wlmscpfs runs whose single round would take more than twice the budget are not run, nor its association-per-query runs beyond 10,000 items: it reads every file for every query, so its cost hardly depends on the query.",
		"Queries are chosen so both servers can answer them identically: wlmscpfs 3.6.7 matches names byte-exact and case-sensitively and knows no veterinary keys.",
	}
	return append(notes, rep.Notes...)
}

func (rep *benchReport) queryList() []string {
	var out []string
	for _, q := range benchQueries(benchDay) {
		out = append(out, fmt.Sprintf("%s: %s", q.Name, q.Desc))
	}
	return out
}

func (rep *benchReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "VetBridge vs DCMTK wlmscpfs, %s\n%s\n\n", rep.Started.Format("2006-01-02 15:04 MST"), rep.Env)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(benchHeader, "\t")+"\t")
	for _, r := range rep.Rows {
		fmt.Fprintln(tw, strings.Join(r.cells(), "\t")+"\t")
	}
	tw.Flush()
	for _, r := range rep.Rows {
		if r.WLM.Skipped != "" {
			fmt.Fprintf(w, "  wlmscpfs, %d items, %s, %d clients: %s\n", r.Items, r.cells()[1], r.Clients, r.WLM.Skipped)
		}
	}
	if len(rep.Scale) > 0 {
		fmt.Fprintln(w, "\nVetBridge only, scaling:")
		for _, r := range rep.Scale {
			fmt.Fprintf(w, "  %d items, %s, %3d clients: %s q/s, median %s ms, p95 %s ms, %d associations open at once\n",
				r.Items, r.Query, r.Clients, fmtQPS(r.VB.QPS), fmtMS(r.VB.Median), fmtMS(r.VB.P95), r.VB.PeakAssocs)
		}
	}
	if len(rep.Split) > 0 {
		fmt.Fprintln(w, "\nWhere VetBridge's time goes (one client, medians):")
		for _, s := range rep.Split {
			fmt.Fprintf(w, "  %6d items, %-12s %6d matches: Service.Find alone %s ms, over loopback %s ms\n",
				s.Items, s.Query, s.Matches, fmtMS(s.InProcess), fmtMS(s.Wire))
		}
	}
	fmt.Fprintln(w, "\nQueries:")
	for _, q := range rep.queryList() {
		fmt.Fprintf(w, "  %s\n", q)
	}
	fmt.Fprintln(w, "\nTargets:")
	for _, t := range rep.targets() {
		fmt.Fprintf(w, "  %s\n", t)
	}
	for _, wn := range rep.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", wn)
	}
	fmt.Fprintln(w, "\nNotes:")
	for _, n := range rep.notes() {
		fmt.Fprintf(w, "  - %s\n", n)
	}
}

func (rep *benchReport) writeMarkdown(w io.Writer) {
	fmt.Fprintf(w, "# Worklist server: VetBridge vs DCMTK wlmscpfs\n\n")
	fmt.Fprintf(w, "Generated by `vetbridge bench-wl` (`scripts/bench-vs-wlmscpfs.sh`) on %s.\n\n%s.\n\n",
		rep.Started.Format("2006-01-02 15:04 MST"), rep.Env)
	fmt.Fprintf(w, "## Targets\n\n")
	for _, t := range rep.targets() {
		fmt.Fprintf(w, "- %s\n", t)
	}
	if len(rep.Warnings) > 0 {
		fmt.Fprintf(w, "\n## Warnings\n\n")
		for _, wn := range rep.Warnings {
			fmt.Fprintf(w, "- %s\n", wn)
		}
	}
	fmt.Fprintf(w, "\n## Results\n\n| %s |\n|%s\n", strings.Join(benchHeader, " | "), strings.Repeat("---|", len(benchHeader)))
	for _, r := range rep.Rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r.cells(), " | "))
	}
	var skipped []string
	for _, r := range rep.Rows {
		if r.WLM.Skipped != "" {
			skipped = append(skipped, fmt.Sprintf("- wlmscpfs, %d items, %s, %d clients: %s", r.Items, r.cells()[1], r.Clients, r.WLM.Skipped))
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(skipped, "\n"))
	}
	if len(rep.Scale) > 0 {
		fmt.Fprintf(w, "\n## VetBridge alone, many clients\n\n| items | query | clients | q/s | median ms | p95 ms | associations open at once |\n|---|---|---|---|---|---|---|\n")
		for _, r := range rep.Scale {
			fmt.Fprintf(w, "| %d | %s | %d | %s | %s | %s | %d |\n", r.Items, r.Query, r.Clients, fmtQPS(r.VB.QPS),
				fmtMS(r.VB.Median), fmtMS(r.VB.P95), r.VB.PeakAssocs)
		}
	}
	if len(rep.Split) > 0 {
		fmt.Fprintf(w, "\n## Where VetBridge's time goes\n\nOne client, medians: `worklist.Service.Find` alone "+
			"(decode, match, encode every answer; no network) against the whole C-FIND over loopback.\n\n"+
			"| items | query | matches | Service.Find alone ms | over loopback ms | loopback µs per answer |\n|---|---|---|---|---|---|\n")
		for _, s := range rep.Split {
			per := "–"
			if s.Matches > 0 {
				per = strconv.FormatFloat(float64(s.Wire-s.InProcess)/float64(time.Microsecond)/float64(s.Matches), 'f', 1, 64)
			}
			fmt.Fprintf(w, "| %d | %s | %d | %s | %s | %s |\n", s.Items, s.Query, s.Matches, fmtMS(s.InProcess), fmtMS(s.Wire), per)
		}
	}
	fmt.Fprintf(w, "\n## Queries\n\nEvery query asks for the return keys a modality asks for (%s).\n\n", strings.Join(benchReturnKeys, ", "))
	for _, q := range rep.queryList() {
		fmt.Fprintf(w, "- %s\n", q)
	}
	fmt.Fprintf(w, "\nItems: generated deterministically, owner^animal names (some non-ASCII, e.g. Mäkinen^Pörri), species and breed, "+
		"DX/CR/US/CT on stations DX1, DX2, CR1, US1, US2, CT1, spread over ±30 days around %s (about items/61 a day).\n",
		benchDay.Format("2006-01-02"))
	fmt.Fprintf(w, "\n## How it was measured\n\n")
	for _, n := range rep.notes() {
		fmt.Fprintf(w, "- %s\n", n)
	}
}
