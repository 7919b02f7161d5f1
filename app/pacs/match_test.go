package pacs_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/vetbridge/vetbridge/app/pacs"
)

// fakePACS answers Studies from a fixed list, matching like a PACS, and
// records the queries; err, when set, fails every call.
type fakePACS struct {
	mu      sync.Mutex
	studies []pacs.Study
	err     error
	queries []pacs.Query
}

func (f *fakePACS) String() string { return "fake PACS" }

func (f *fakePACS) Ping(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *fakePACS) Studies(_ context.Context, q pacs.Query) ([]pacs.Study, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	if f.err != nil {
		return nil, f.err
	}
	var out []pacs.Study
	for _, s := range f.studies {
		if (q.Accession == "" || q.Accession == s.Accession) && (q.StudyUID == "" || q.StudyUID == s.UID) &&
			(q.PatientID == "" || q.PatientID == s.PatientID) &&
			(q.From.IsZero() || s.Date >= q.From.Format("20060102")) && (q.To.IsZero() || s.Date <= q.To.Format("20060102")) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (f *fakePACS) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fakePACS) asked() []pacs.Query {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pacs.Query(nil), f.queries...)
}

var (
	stA    = pacs.Study{UID: "1.1", Accession: "A1", PatientID: "P1", Date: "20261120", Series: 2, Instances: 5}
	stB    = pacs.Study{UID: "1.2", Accession: "", PatientID: "P2", Date: "20261120", Series: 1, Instances: 1}
	stC    = pacs.Study{UID: "1.3", Accession: "OTHER", PatientID: "P3", Date: "20261120", Series: 1, Instances: 3}
	stOld  = pacs.Study{UID: "1.4", Accession: "A9", PatientID: "P9", Date: "20261119", Series: 1, Instances: 2}
	stUIDd = pacs.Study{UID: "1.5", Accession: "TYPED", PatientID: "P5", Date: "20261120", Series: 1, Instances: 4}
)

func TestMatchOrder(t *testing.T) {
	f := &fakePACS{studies: []pacs.Study{stA, stB, stC, stOld, stUIDd}}
	m := pacs.Matcher{Client: f}
	ctx := context.Background()
	cases := []struct {
		ref     pacs.Referral
		by      pacs.MatchedBy
		uids    string
		queries int
	}{
		{pacs.Referral{Accession: "A1", StudyUID: "1.5", PatientID: "P2", Date: examDay}, pacs.ByAccession, "[1.1]", 1},
		{pacs.Referral{Accession: "NOPE", StudyUID: "1.5", PatientID: "P2", Date: examDay}, pacs.ByStudyUID, "[1.5]", 2},
		{pacs.Referral{Accession: "NOPE", StudyUID: "9.9", PatientID: "P2", Date: examDay}, pacs.ByPatientAndDate, "[1.2]", 3},
		{pacs.Referral{PatientID: "P2", Date: examDay}, pacs.ByPatientAndDate, "[1.2]", 1},
		{pacs.Referral{PatientID: "P9", Date: examDay}, pacs.NotFound, "[]", 1},
		{pacs.Referral{PatientID: "P9"}, pacs.NotFound, "[]", 0}, // no date: patient ID alone is too loose
		{pacs.Referral{Accession: "A9"}, pacs.ByAccession, "[1.4]", 1},
	}
	for _, tc := range cases {
		before := len(f.asked())
		got, err := m.Match(ctx, tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		if got.By != tc.by || uids(got.Studies) != tc.uids || len(f.asked())-before != tc.queries {
			t.Errorf("%+v: by %q %s after %d queries; want by %q %s after %d", tc.ref, got.By, uids(got.Studies),
				len(f.asked())-before, tc.by, tc.uids, tc.queries)
		}
	}
	f.setErr(errors.New("down"))
	if _, err := m.Match(ctx, pacs.Referral{Accession: "A1"}); err == nil {
		t.Error("a failing PACS matched")
	}
}

func uids(ss []pacs.Study) string {
	var out []string
	for _, s := range ss {
		out = append(out, s.UID)
	}
	return fmt.Sprint(out)
}

func TestDayAssignsAndListsUnmatched(t *testing.T) {
	f := &fakePACS{studies: []pacs.Study{stA, stB, stC, stOld, stUIDd}}
	refs := []pacs.Referral{
		{Key: "a", Accession: "A1", PatientID: "P3", Date: examDay},  // accession wins; P3's study stays free
		{Key: "b", Accession: "NEW", PatientID: "P2", Date: examDay}, // typed at the console: patient and day
		{Key: "c", Accession: "A9", Date: examDay},                   // its study is dated the day before
		{Key: "d", StudyUID: "1.5", Date: examDay},
	}
	day, err := pacs.Matcher{Client: f}.Day(context.Background(), examDay, refs)
	if err != nil {
		t.Fatal(err)
	}
	if q := f.asked(); len(q) != 1 || !q[0].From.Equal(examDay) || !q[0].To.Equal(examDay) {
		t.Errorf("queries %+v, want one for the day", q)
	}
	want := []struct {
		by   pacs.MatchedBy
		uids string
	}{{pacs.ByAccession, "[1.1]"}, {pacs.ByPatientAndDate, "[1.2]"}, {pacs.NotFound, "[]"}, {pacs.ByStudyUID, "[1.5]"}}
	for i, w := range want {
		m := day.Matches[i]
		if m.Referral.Key != refs[i].Key || m.By != w.by || uids(m.Studies) != w.uids {
			t.Errorf("%s: by %q %s, want %q %s", refs[i].Key, m.By, uids(m.Studies), w.by, w.uids)
		}
	}
	if uids(day.Unmatched) != "[1.3]" {
		t.Errorf("unmatched %s, want [1.3]", uids(day.Unmatched))
	}
	if n := day.Matches[0].Instances(); n != 5 {
		t.Errorf("instances %d", n)
	}
}

func TestDayWithoutReferralsListsEverything(t *testing.T) {
	_, unmatched := pacs.Assign([]pacs.Study{stA, stB}, nil)
	if uids(unmatched) != "[1.1 1.2]" {
		t.Errorf("unmatched %s", uids(unmatched))
	}
}
