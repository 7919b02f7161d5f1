package worklist

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// planItems are items that exercise every branch of answer encoding: plain
// ASCII, Latin-1, text Latin-1 cannot hold, Greek digraphs, empty values
// (fallbacks), over-long values (clipping), codes and microchips.
func planItems() []Item {
	a := baseItem()
	b := baseItem()
	b.Key, b.PatientName, b.ResponsiblePerson, b.SpeciesCode, b.OtherPatientIDs = "k2", "Smith^Rex", "Smith^John", nil, nil
	b.BreedDescription, b.ResponsiblePerson = "Labrador", ""
	c := Item{Key: "k3", Updated: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)} // everything falls back
	d := baseItem()
	d.Key, d.PatientName, d.ReferringPhysician = "k4", "Иванов^Шарик", "Παπαδόπουλου^Ουρανία"
	d.RequestedProcedureDescription = strings.Repeat("Thorax and abdomen, two views ", 5)
	d.StationAETitle, d.SPSDescription = "DX1-STATION-LONGER-THAN-16", "Hüfte"
	e := baseItem()
	e.Key, e.PatientName, e.AccessionNumber, e.RequestedProcedureID, e.SPSID = "k5", "Dvořák^Ötzi", "ACC5", "", ""
	e.StartTime, e.Modality, e.StationAETitle = "", "", ""
	f := baseItem()
	f.Key, f.PatientName, f.PatientWeightKg = "k6", "  Virtanen^Musti^^^  ", 0
	f.RequestedProcedureCode = &Code{Value: "RP1", Scheme: "99VB", Meaning: "Röntgen"}
	f.OtherPatientIDs = []string{"", "985000000000001", "985000000000002"}
	return []Item{a, b, c, d, e, f}
}

// planQueries: return keys as modalities send them, with and without the SPS
// sequence, keys the package does not know, injected profile keys and
// declared character sets.
func planQueries() []Query {
	var all []Key
	for i := range attrs {
		all = append(all, Key{Tag: attrs[i].tag, Name: attrs[i].keyword, VR: attrs[i].vr, InSPS: attrs[i].inSPS})
	}
	modality := []Key{
		key(tagPatientName, false, "Virtanen^M*"), key(tagPatientID, false, ""), key(0x00100030, false, ""), key(0x00100040, false, ""),
		key(0x00080050, false, ""), key(tagStudyInstanceUID, false, ""), key(tagReqProcID, false, ""), key(tagReqProcDescription, false, ""),
		key(tagModality, true, "DX"), key(tagStationAE, true, ""), key(tagSPSStartDate, true, "20261120-20261126"), key(tagSPSStartTime, true, ""),
		key(tagSPSID, true, ""), key(tagSPSDescription, true, ""),
	}
	odd := []Key{
		{Tag: 0x00102000, Name: "MedicalAlerts", VR: "LO"}, {Tag: 0x00091010, Name: "Private", VR: "LO"},
		{Tag: 0x7FE00010, Name: "PixelData", VR: "OW"}, key(0x00102202, false, ""), key(0x00101002, false, ""),
		key(0x00101030, false, ""), key(0x00321064, false, ""), key(0x00081110, false, ""),
		{Tag: tagStationAE, Name: "ScheduledStationAETitle", VR: "AE", InSPS: true, Value: "DX1", Profile: true, Injected: true},
		{Tag: 0x00400012, Name: "PreMedication", VR: "LO", InSPS: true}, key(0x00400008, true, ""),
	}
	var qs []Query
	for _, cs := range []string{"", "ISO_IR 100", "ISO_IR 192", `\ISO 2022 IR 87`} {
		qs = append(qs,
			Query{SPS: true, Keys: modality, CharacterSet: cs, CallingAE: "DX1", Today: "20261122"},
			Query{SPS: true, Keys: all, CharacterSet: cs},
			Query{SPS: true, Keys: odd, CharacterSet: cs, CallingAE: "US1"},
			Query{SPS: true, Keys: modality[:4], CharacterSet: cs}, // SPS asked, empty: all its attributes
			Query{Keys: modality[:6], CharacterSet: cs},
		)
	}
	// Shuffled key order with duplicates: the plan must sort exactly as
	// sortElems does.
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		ks := append(append([]Key(nil), modality...), odd...)
		r.Shuffle(len(ks), func(i, j int) { ks[i], ks[j] = ks[j], ks[i] })
		ks = append(ks, ks[:r.IntN(4)]...)
		qs = append(qs, Query{SPS: r.IntN(2) == 0, Keys: ks})
	}
	return qs
}

func TestPlanEncodesLikeEncode(t *testing.T) {
	items := planItems()
	n := 0
	for qi, q := range planQueries() {
		for _, cs := range []Charset{CharsetAuto, CharsetLatin1, CharsetUTF8, CharsetASCII} {
			for _, s := range syntaxes {
				if s.bigEndian && s.implicit {
					continue
				}
				// One plan for all items, as Find uses it: scratch reuse
				// must not leak one answer into the next.
				plan := newAnswerPlan(&q)
				for _, it := range items {
					want, err := encode(it, q, cs, s.bigEndian, s.implicit)
					if err != nil {
						t.Fatal(err)
					}
					wantCS := resolveCharset(cs, q.CharacterSet, answerElements(&it, &q))
					gotCS, got := plan.encode(&it, cs, s.bigEndian, s.implicit)
					if !bytes.Equal(got, want) || gotCS != wantCS {
						t.Fatalf("query %d, charset %s, %s, item %s: plan gives %s %x\nEncode gives %s %x", qi, cs, s.name, it.Key, gotCS, got, wantCS, want)
					}
					n++
				}
			}
		}
	}
	t.Logf("%d answers compared", n)
}

// TestPlanAnswersAreOwned: send may keep an answer, so the next one must not
// overwrite it.
func TestPlanAnswersAreOwned(t *testing.T) {
	q := planQueries()[0]
	plan := newAnswerPlan(&q)
	items := planItems()
	var kept [][]byte
	for _, it := range items {
		_, b := plan.encode(&it, CharsetAuto, false, false)
		kept = append(kept, b)
	}
	for i, it := range items {
		want, _ := encode(it, q, CharsetAuto, false, false)
		if !bytes.Equal(kept[i], want) {
			t.Errorf("answer %d changed after later answers were encoded", i)
		}
	}
}

// TestIndexNameMatchingAgreesWithMatches checks the pre-folded name groups of
// the index against Matches on names with accents, scripts, groups, padding
// and every kind of wildcard.
func TestIndexNameMatchingAgreesWithMatches(t *testing.T) {
	names := []string{"Mäkinen^Pörri", "MAKINEN^PORRI", "Virtanen^Musti", "virtanen^mörkö", "Иванов^Шарик",
		"Παπαδόπουλος^Ουρανία", "Smith^Rex=スミス^レックス=すみす^れっくす", "  O'Brien^Max^^^ ", "", "^", "=Doe^J",
		"Dvořák^Ötzi", "Sørensen^Åsa", "ABC Farms", "Hämäläinen^Räpsy"}
	pats := []string{"MAKINEN", "mäkinen^p*", "Virtanen^M*", "virt*", "*^M?STI", "IVANOV", "Иванов*", "PAPADOPOULOS*",
		"スミス*", "o'brien^max", "*", "?", "DVORAK^OTZI", "SORENSEN", "abc farms", "HAMALAINEN^RAPSY", "Smith^Rex\\Doe",
		"*^*", "A*", "=すみす*"}
	name := func(t Tag, v string) Key { return key(t, false, v) }
	for _, n := range names {
		it := baseItem()
		it.PatientName, it.ResponsiblePerson, it.ReferringPhysician = n, n, n
		x := NewIndex()
		if err := x.Put(it); err != nil {
			t.Fatal(err)
		}
		for _, p := range pats {
			for _, tg := range []Tag{tagPatientName, 0x00102297, 0x00080090} {
				q := Query{Keys: []Key{name(tg, p)}}
				want := matches(q, it)
				if got := len(indexMatch(x, q)) == 1; got != want {
					t.Errorf("%v %q against %q: index says %v, Matches %v", tg, p, n, got, want)
				}
			}
		}
	}
}

func BenchmarkPlanEncode(b *testing.B) {
	q := planQueries()[0]
	items := planItems()
	plan := newAnswerPlan(&q)
	b.ReportAllocs()
	for b.Loop() {
		for i := range items {
			plan.encode(&items[i], CharsetAuto, false, false)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/answer")
}

func BenchmarkEncodeAnswers(b *testing.B) {
	q := planQueries()[0]
	items := planItems()
	b.ReportAllocs()
	for b.Loop() {
		for i := range items {
			if _, err := encode(items[i], q, CharsetAuto, false, false); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/answer")
}

// TestCachedAnswersMatchEncode interleaves queries of different shapes,
// calling AEs, days, character sets and syntaxes over the same entries, so
// every reuse of a cached answer is checked against a fresh Encode.
func TestCachedAnswersMatchEncode(t *testing.T) {
	var entries []*entry
	for _, it := range planItems() {
		entries = append(entries, newEntry(&it))
	}
	qs := planQueries()[:10]
	hits, n := 0, 0
	for round := range 3 {
		for qi, q := range qs {
			q.CallingAE = []string{"DX1", "US1", ""}[(qi+round)%3]
			q.Today = []string{"20261122", "20261123"}[round%2]
			for _, cs := range []Charset{CharsetAuto, CharsetLatin1} {
				for _, s := range syntaxes {
					if s.bigEndian && s.implicit {
						continue
					}
					plan := newAnswerPlan(&q)
					// Twice: the second pass must reuse the first's answers.
					for _, e := range append(entries[:len(entries):len(entries)], entries...) {
						before := e.answer.Load()
						gotCS, got := plan.encodeEntry(e, cs, s.bigEndian, s.implicit)
						if e.answer.Load() == before {
							hits++
						}
						want, err := encode(e.Item, q, cs, s.bigEndian, s.implicit)
						if err != nil {
							t.Fatal(err)
						}
						wantCS := resolveCharset(cs, q.CharacterSet, answerElements(&e.Item, &q))
						if !bytes.Equal(got, want) || gotCS != wantCS {
							t.Fatalf("round %d query %d %s %s item %s: cached path gives %s %x, Encode %s %x", round, qi, cs, s.name, e.Key, gotCS, got, wantCS, want)
						}
						n++
					}
				}
			}
		}
	}
	if hits == 0 {
		t.Error("no answer was ever reused")
	}
	t.Logf("%d answers, %d reused", n, hits)
}
