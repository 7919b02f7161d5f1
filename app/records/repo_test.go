package records

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/dicom/worklist"
	"github.com/vetbridge/vetbridge/store"
)

func testRecord(i int, state provet.Status) Record {
	key := fmt.Sprintf("provet:t:%d", i)
	return Record{
		Item: worklist.Item{
			Key: key, PatientName: "Mäkinen^Musti", PatientID: "P1", OtherPatientIDs: []string{"246098000000001"},
			SpeciesCode: &worklist.Code{Value: "1", Scheme: "99PROVET", Meaning: "Dog"},
			Modality:    "DX", StationAETitle: "DX1", StartDate: "20261130", StartTime: "083000",
			AccessionNumber: fmt.Sprintf("A%d", i), SPSID: fmt.Sprintf("SPS%d", i), SPSStatus: "SCHEDULED",
			RequestedProcedureComments: "handle gently <aggressive> & \"scared\"",
		},
		Source: SourceProvet, ProvetID: i, ProvetState: state.String(), PetName: "Musti",
		Remarks: "handle gently", Arrived: time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC),
		Audit: []AuditEntry{{At: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC), By: "DX1", From: "requested", To: "requested"}},
	}
}

func openTest(t *testing.T, dir string, log *bytes.Buffer) (*store.Store, *Repo) {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r, err := Open(st, slog.New(slog.NewTextHandler(log, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return st, r
}

// TestOpenLoadsWhatApplyWrote writes through one Repo and reopens the
// store: the index, the waiting count, StartKeys and Get must agree with
// what was written, on more records than one decoding worker takes.
func TestOpenLoadsWhatApplyWrote(t *testing.T) {
	dir := t.TempDir()
	var logBuf bytes.Buffer
	st, r := openTest(t, dir, &logBuf)
	var puts []Record
	const n = 1200
	for i := range n {
		state := provet.StatusRequested
		switch i % 4 {
		case 1:
			state = provet.StatusCompleted
		case 2:
			state = provet.StatusInProgress
		}
		rec := testRecord(i, state)
		if state == provet.StatusInProgress {
			rec.Item.SPSStatus = "STARTED"
		}
		puts = append(puts, rec)
	}
	if err := r.Apply(puts, nil); err != nil {
		t.Fatal(err)
	}
	wantIdx, wantWaiting := r.Index().Len(), r.Waiting()
	if wantIdx != n*3/4 || wantWaiting != n/2 {
		t.Fatalf("before reopen: %d indexed, %d waiting; want %d, %d", wantIdx, wantWaiting, n*3/4, n/2)
	}
	st.Close()

	_, r2 := openTest(t, dir, &logBuf)
	if got := r2.Index().Len(); got != wantIdx {
		t.Errorf("reopened index holds %d items, want %d", got, wantIdx)
	}
	if got := r2.Waiting(); got != wantWaiting {
		t.Errorf("reopened waiting count %d, want %d", got, wantWaiting)
	}
	keys := r2.StartKeys()
	if len(keys) != n {
		t.Fatalf("StartKeys gave %d keys, want %d", len(keys), n)
	}
	want := make([]string, n)
	for i := range want {
		want[i] = puts[i].Item.Key
	}
	slices.Sort(want)
	slices.Sort(keys)
	if !slices.Equal(keys, want) {
		t.Error("StartKeys are not the stored keys")
	}
	started := testRecord(0, provet.StatusInProgress)
	started.Item.SPSStatus = "STARTED"
	if err := r2.Apply([]Record{started}, []string{puts[4].Item.Key}); err != nil {
		t.Fatal(err)
	}
	if got := r2.Waiting(); got != wantWaiting-2 {
		t.Errorf("after starting one waiting referral and deleting another, %d waiting, want %d", got, wantWaiting-2)
	}
	if again := r2.StartKeys(); again != nil {
		t.Errorf("StartKeys handed %d keys a second time", len(again))
	}
	items := r2.Index().All()
	slices.SortFunc(items, func(a, b worklist.Item) int { return strings.Compare(a.Key, b.Key) })
	got, ok := r2.Get(items[0].Key)
	if !ok {
		t.Fatalf("Get(%q) found nothing", items[0].Key)
	}
	if got.Item.PatientName != items[0].PatientName || got.Item.RequestedProcedureComments != items[0].RequestedProcedureComments ||
		got.Item.SpeciesCode == nil || *got.Item.SpeciesCode != *items[0].SpeciesCode || got.Remarks != "handle gently" {
		t.Errorf("the index and the store disagree on %s:\nindex %+v\nstore %+v", items[0].Key, items[0], got.Item)
	}
}

// TestOpenSkipsUnreadableRecords: one bad record is logged and left out,
// the others load; an item whose stored key differs from its own key is
// indexed under the store's key, which Get and Apply use.
func TestOpenSkipsUnreadableRecords(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := testRecord(1, provet.StatusRequested).Encode()
	nokey := testRecord(2, provet.StatusRequested)
	nokey.Item.Key = ""
	nokeyB, _ := nokey.Encode()
	err = st.ApplyItems([]store.Item{
		{Key: "provet:t:1", Date: "20261130", Data: good},
		{Key: "provet:t:2", Date: "20261130", Data: nokeyB},
		{Key: "provet:t:3", Date: "20261130", Data: []byte(`{"item": 7}`)},
	}, nil)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	_, r := openTest(t, dir, &logBuf)
	var keys []string
	for _, it := range r.Index().All() {
		keys = append(keys, it.Key)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"provet:t:1", "provet:t:2"}) {
		t.Errorf("indexed %q, want the two readable records", keys)
	}
	if !strings.Contains(logBuf.String(), "provet:t:3") {
		t.Errorf("the unreadable record is not in the log:\n%s", logBuf.String())
	}
}

// TestInternerSharesRepeatedStrings: equal field values of different
// items end up as one copy, and no value changes.
func TestInternerSharesRepeatedStrings(t *testing.T) {
	a, b := testRecord(1, provet.StatusRequested).Item, testRecord(2, provet.StatusRequested).Item
	// Separate copies, as JSON decoding makes them.
	b.PatientName = strings.Clone(a.PatientName)
	b.SpeciesCode = &worklist.Code{Value: strings.Clone("1"), Scheme: "99PROVET", Meaning: "Dog"}
	before := b
	in := newInterner()
	in.item(&a)
	in.item(&b)
	if unsafe.StringData(a.PatientName) != unsafe.StringData(b.PatientName) {
		t.Error("PatientName not shared")
	}
	if unsafe.StringData(a.SpeciesCode.Value) != unsafe.StringData(b.SpeciesCode.Value) {
		t.Error("species code value not shared")
	}
	if b.PatientName != before.PatientName || b.AccessionNumber != "A2" || *b.SpeciesCode != (worklist.Code{Value: "1", Scheme: "99PROVET", Meaning: "Dog"}) {
		t.Errorf("interning changed values: %+v", b)
	}
}

func TestByAccessionThroughTheIndexOrAWalk(t *testing.T) {
	var log bytes.Buffer
	_, r := openTest(t, t.TempDir(), &log)
	rec := testRecord(7, provet.StatusRequested)
	rec.Item.AccessionNumber = "ACC-7a"
	if err := r.Apply([]Record{rec}, nil); err != nil {
		t.Fatal(err)
	}
	for _, acc := range []string{"ACC-7a", "acc-7A"} {
		got, ok := r.ByAccession(acc)
		if !ok || got.Item.Key != rec.Item.Key {
			t.Errorf("ByAccession(%q) = %q, %v; want %q", acc, got.Item.Key, ok, rec.Item.Key)
		}
	}
	if _, ok := r.ByAccession("ACC-8"); ok {
		t.Error("an unknown accession was found")
	}
}
