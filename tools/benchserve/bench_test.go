package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/records"
	"github.com/vetbridge/vetbridge/store"
)

// TestFillStoreServesWhatWasGenerated: the generated referrals go through
// the app's repository and come back from a fresh Open as the server
// would load them, waiting and finished in the proportions the report
// describes.
func TestFillStoreServesWhatWasGenerated(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.Local)
	recs := genRecords(600, now)
	if err := fillStore(context.Background(), dir, recs); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	repo, err := records.Open(st, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	onList, waiting, finished := 0, 0, 0
	for _, r := range recs {
		if r.OnWorklist() {
			onList++
		} else {
			finished++
		}
		if r.Waiting() {
			waiting++
		}
		if d := r.Item.StartDate; d < now.AddDate(0, 0, -7).Format("20060102") {
			t.Errorf("%s is dated %s, before retention keeps it", r.Item.Key, d)
		}
	}
	if got := repo.Index().Len(); got != onList {
		t.Errorf("index holds %d items, want %d", got, onList)
	}
	if got := repo.Waiting(); got != waiting {
		t.Errorf("%d waiting, want %d", got, waiting)
	}
	if finished == 0 || finished > len(recs)/3 {
		t.Errorf("%d of %d finished: not a clinic's mix", finished, len(recs))
	}
}

func TestParseGCLine(t *testing.T) {
	g, ok := parseGCLine("gc 17 @0.794s 3%: 0.082+50+0.25 ms clock, 0.16+0.13/17/22+0.51 ms cpu, 54->54->37 MB, 64 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)")
	if !ok || g.LiveMB != 37 || g.GoalMB != 64 || !g.Forced || g.At != 794*time.Millisecond {
		t.Errorf("got %+v, %v", g, ok)
	}
	if _, ok := parseGCLine(`time=2026-11-29T19:58:46Z level=INFO msg="gc 1 @1s"`); ok {
		t.Error("a log line parsed as a GC trace")
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{7: "7", 999: "999", 1000: "1,000", 10000: "10,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseProcStatus(t *testing.T) {
	m, err := parseProcStatus("Name:\tvetbridge\nVmHWM:\t  110000 kB\nVmRSS:\t  105000 kB\nRssAnon:\t   60000 kB\nRssFile:\t   45000 kB\n")
	if err != nil || m != (procMem{RSS: 105000, HWM: 110000, Anon: 60000, File: 45000}) {
		t.Errorf("got %+v, %v", m, err)
	}
	if _, err := parseProcStatus("VmRSS:\t1 kB\n"); err == nil {
		t.Error("a status without RssAnon and RssFile was accepted")
	}
}

// TestMeasureRealBinary runs the whole measurement, briefly, against the
// binary named by VETBRIDGE_BIN, an absolute path (make build makes
// bin/vetbridge; it needs cgo, which these tests do not).
func TestMeasureRealBinary(t *testing.T) {
	bin := os.Getenv("VETBRIDGE_BIN")
	if bin == "" || testing.Short() {
		t.Skip("set VETBRIDGE_BIN to a built vetbridge to run it")
	}
	rep, err := measure(context.Background(), options{Bin: bin, Items: 300, Starts: 2, Idle: 2 * time.Second}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Echoes) != 2 || rep.Idle.RSS == 0 || rep.Matches == 0 || rep.EmptyMem.RSS == 0 {
		t.Errorf("incomplete report: %+v", rep)
	}
	var md bytes.Buffer
	rep.writeMarkdown(&md)
	for _, s := range []string{"first C-ECHO", "VmRSS", "empty store", "Method:"} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("report lacks %q", s)
		}
	}
}
