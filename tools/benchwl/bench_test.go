package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestBenchWLTiny runs the whole harness at a size that takes seconds: the
// point is that both servers were really queried and agreed on every query,
// so the published figures compare like with like.
func TestBenchWLTiny(t *testing.T) {
	if _, err := exec.LookPath("wlmscpfs"); err != nil {
		t.Skip("DCMTK wlmscpfs is not installed (Debian: apt-get install dcmtk); the benchmark compares against it")
	}
	if testing.Short() {
		t.Skip("starts wlmscpfs; not in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := runBenchWL(ctx, benchWLOptions{Items: []int{50}, Clients: []int{1, 2}, Queries: 2,
		Budget: 10 * time.Second, WLMSCPFS: "wlmscpfs"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) > 0 {
		t.Fatalf("warnings:\n%s", strings.Join(rep.Warnings, "\n"))
	}
	// 3 queries × 2 client counts, plus the association-per-query variant.
	if len(rep.Rows) != 8 {
		t.Fatalf("%d rows, want 8", len(rep.Rows))
	}
	anyMatch := false
	for _, r := range rep.Rows {
		if r.WLM.Queries == 0 || r.VB.Queries == 0 {
			t.Errorf("%s, %d clients: %d wlmscpfs and %d VetBridge queries timed", r.Query, r.Clients, r.WLM.Queries, r.VB.Queries)
		}
		if r.WLM.Matches != r.VB.Matches {
			t.Errorf("%s, %d clients: wlmscpfs %d matches, VetBridge %d", r.Query, r.Clients, r.WLM.Matches, r.VB.Matches)
		}
		anyMatch = anyMatch || r.VB.Matches > 0
	}
	if len(rep.Split) != 3 {
		t.Errorf("%d in-process timings, want one per query", len(rep.Split))
	}
	if !anyMatch {
		t.Error("no query matched anything: the comparison proves nothing")
	}
	var text, md bytes.Buffer
	rep.writeText(&text)
	rep.writeMarkdown(&md)
	for _, s := range []string{"one-day DX", "patient name", "week range", "wlmscpfs"} {
		if !strings.Contains(text.String(), s) || !strings.Contains(md.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, text.String())
		}
	}
}

func TestBenchWLItemsDeterministic(t *testing.T) {
	a, b := genBenchItems(500, benchDay), genBenchItems(500, benchDay)
	days := map[string]int{}
	nonASCII := false
	for i := range a {
		if a[i].PatientName != b[i].PatientName || a[i].StartDate != b[i].StartDate || a[i].Modality != b[i].Modality {
			t.Fatalf("item %d differs between runs", i)
		}
		days[a[i].StartDate]++
		for _, r := range a[i].PatientName {
			nonASCII = nonASCII || r > 0x7e
		}
	}
	if len(days) != 61 {
		t.Errorf("items on %d days, want 61 (±30)", len(days))
	}
	if !nonASCII {
		t.Error("no non-ASCII patient name generated")
	}
}
