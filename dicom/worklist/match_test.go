package worklist

import (
	"strings"
	"testing"
)

func baseItem() Item {
	return Item{
		Key:                     "provet:wl:1",
		PatientName:             "Mäkinen^Pörri",
		PatientID:               "P-10042",
		OtherPatientIDs:         []string{"985112345678901"},
		PatientSex:              "F",
		PatientSexNeutered:      "ALTERED",
		PatientWeightKg:         12.5,
		PatientBirthDate:        "20190301",
		SpeciesDescription:      "Dog",
		SpeciesCode:             &Code{Value: "448771007", Scheme: "SCT", Meaning: "Canis lupus familiaris"},
		BreedDescription:        "Finnish Lapphund",
		BreedCode:               &Code{Value: "1234", Scheme: "VB", Meaning: "Suomenlapinkoira"},
		ResponsiblePerson:       "Mäkinen^Liisa",
		ResponsiblePersonRole:   "OWNER",
		ResponsibleOrganization: "Kennel Pohjola",
		AccessionNumber:         "ACC20261122001",
		RequestedProcedureID:    "RP1001",
		StudyInstanceUID:        "1.2.826.0.1.3680043.2.1143.1",
		ReferringPhysician:      "Virtanen^Anna",
		StationAETitle:          "DX1",
		Modality:                "DX",
		StartDate:               "20261122",
		StartTime:               "093000",
		PerformingPhysician:     "Korhonen^Mikko",
		SPSID:                   "SPS1001",
		SPSStatus:               "SCHEDULED",
	}
}

func key(t Tag, inSPS bool, v string) Key {
	a := lookupAttr(t, inSPS)
	return Key{Tag: t, Name: a.keyword, VR: a.vr, InSPS: inSPS, Value: v}
}

func TestMatch(t *testing.T) {
	const (
		name    = tagPatientName
		pid     = tagPatientID
		acc     = Tag(0x00080050)
		rpid    = tagReqProcID
		suid    = tagStudyInstanceUID
		refphys = Tag(0x00080090)
		species = Tag(0x00102201)
		spcode  = Tag(0x00102202)
		breed   = Tag(0x00102292)
		brcode  = Tag(0x00102293)
		neut    = Tag(0x00102203)
		resp    = Tag(0x00102297)
		role    = Tag(0x00102298)
		org     = Tag(0x00102299)
		weight  = Tag(0x00101030)
		others  = Tag(0x00101002)
		birth   = Tag(0x00100030)
		perf    = Tag(0x00400006)
	)
	top := func(tg Tag, v string) Key { return key(tg, false, v) }
	sps := func(tg Tag, v string) Key { return key(tg, true, v) }
	code := func(tg Tag, c Code) Key { k := key(tg, false, ""); k.Code = &c; return k }
	cases := []struct {
		name string
		keys []Key
		edit func(*Item)
		want bool
	}{
		{"no keys", nil, nil, true},
		{"universal empty", []Key{top(name, ""), sps(tagModality, "")}, nil, true},
		{"universal star", []Key{top(name, "*"), top(pid, "*")}, nil, true},
		// Names: case- and accent-insensitive, implicit trailing ^*.
		{"name exact", []Key{top(name, "Mäkinen^Pörri")}, nil, true},
		{"name family only", []Key{top(name, "MAKINEN")}, nil, true},
		{"name lower no accents", []Key{top(name, "makinen^porri")}, nil, true},
		{"name trailing carets", []Key{top(name, "MAKINEN^PORRI^^")}, nil, true},
		{"name wildcard", []Key{top(name, "MAK*")}, nil, true},
		{"name question mark", []Key{top(name, "M?KINEN^P?RRI")}, nil, true},
		{"name other family", []Key{top(name, "MAKI")}, nil, false},
		{"name wrong given", []Key{top(name, "MAKINEN^REX")}, nil, false},
		{"name empty item", []Key{top(name, "MAKINEN")}, func(it *Item) { it.PatientName = "" }, false},
		{"name cyrillic by latin", []Key{top(name, "IVANOV^SHARIK")}, func(it *Item) { it.PatientName = "Иванов^Шарик" }, true},
		{"name cyrillic by cyrillic", []Key{top(name, "иванов")}, func(it *Item) { it.PatientName = "Иванов^Шарик" }, true},
		{"name greek", []Key{top(name, "ΠΑΠΑΔΟΠΟΥΛΟΣ")}, func(it *Item) { it.PatientName = "Παπαδόπουλος^Άρης" }, true},
		{"name japanese does not match another", []Key{top(name, "山田")}, func(it *Item) { it.PatientName = "木村^太郎" }, false},
		{"name japanese", []Key{top(name, "山田*")}, func(it *Item) { it.PatientName = "山田^太郎" }, true},
		{"name query with groups", []Key{top(name, "YAMADA^TARO=山田^太郎")}, func(it *Item) { it.PatientName = "山田^太郎" }, true},
		{"name ideographic group", []Key{top(name, "YAMADA")}, func(it *Item) { it.PatientName = "Yamada^Taro=山田^太郎" }, true},
		// IDs: wildcards allowed, case-sensitive.
		{"patient id", []Key{top(pid, "P-10042")}, nil, true},
		{"patient id wildcard", []Key{top(pid, "P-100*")}, nil, true},
		{"patient id case", []Key{top(pid, "p-10042")}, nil, false},
		{"patient id empty item", []Key{top(pid, "P*")}, func(it *Item) { it.PatientID = "" }, false},
		{"accession", []Key{top(acc, "ACC20261122001")}, nil, true},
		{"accession wildcard", []Key{top(acc, "ACC2026112200?")}, nil, true},
		{"accession other", []Key{top(acc, "ACC9")}, nil, false},
		{"requested procedure id", []Key{top(rpid, "RP1001")}, nil, true},
		{"requested procedure id other", []Key{top(rpid, "RP1002")}, nil, false},
		{"sps id", []Key{sps(tagSPSID, "SPS1001")}, nil, true},
		{"sps id other", []Key{sps(tagSPSID, "SPS1")}, nil, false},
		// UID list matching.
		{"study uid", []Key{top(suid, "1.2.826.0.1.3680043.2.1143.1")}, nil, true},
		{"study uid list", []Key{top(suid, `1.2.3\1.2.826.0.1.3680043.2.1143.1`)}, nil, true},
		{"study uid list miss", []Key{top(suid, `1.2.3\1.2.4`)}, nil, false},
		{"study uid is not a prefix", []Key{top(suid, "1.2.826.0.1.3680043.2.1143")}, nil, false},
		{"referring vet", []Key{top(refphys, "virtanen")}, nil, true},
		{"referring vet other", []Key{top(refphys, "LAINE")}, nil, false},
		// SPS keys.
		{"modality", []Key{sps(tagModality, "DX")}, nil, true},
		{"modality other", []Key{sps(tagModality, "US")}, nil, false},
		{"modality list tolerated", []Key{sps(tagModality, `CR\DX`)}, nil, true},
		{"modality empty item", []Key{sps(tagModality, "DX")}, func(it *Item) { it.Modality = "" }, false},
		{"station", []Key{sps(tagStationAE, "DX1")}, nil, true},
		{"station case", []Key{sps(tagStationAE, "dx1")}, nil, true},
		{"station other", []Key{sps(tagStationAE, "US1")}, nil, false},
		{"station multi-valued item", []Key{sps(tagStationAE, "AA33")}, func(it *Item) { it.StationAETitle = `AA32\AA33` }, true},
		{"station empty item", []Key{sps(tagStationAE, "DX1")}, func(it *Item) { it.StationAETitle = "" }, false},
		{"performing vet", []Key{sps(perf, "KORHONEN")}, nil, true},
		{"performing vet other", []Key{sps(perf, "LAINE")}, nil, false},
		{"status", []Key{sps(tagSPSStatus, "SCHEDULED")}, nil, true},
		{"status other", []Key{sps(tagSPSStatus, "STARTED")}, nil, false},
		// Dates and times.
		{"date single", []Key{sps(tagSPSStartDate, "20261122")}, nil, true},
		{"date single miss", []Key{sps(tagSPSStartDate, "20261123")}, nil, false},
		{"date range", []Key{sps(tagSPSStartDate, "20261121-20261123")}, nil, true},
		{"date range miss", []Key{sps(tagSPSStartDate, "20261123-20261130")}, nil, false},
		{"date open start", []Key{sps(tagSPSStartDate, "-20261122")}, nil, true},
		{"date open end", []Key{sps(tagSPSStartDate, "20261122-")}, nil, true},
		{"date open end miss", []Key{sps(tagSPSStartDate, "20261123-")}, nil, false},
		{"date undated item", []Key{sps(tagSPSStartDate, "20261122")}, func(it *Item) { it.StartDate = "" }, false},
		{"time single hour", []Key{sps(tagSPSStartTime, "09")}, nil, true},
		{"time range", []Key{sps(tagSPSStartTime, "0800-1000")}, nil, true},
		{"time range miss", []Key{sps(tagSPSStartTime, "1000-1200")}, nil, false},
		{"time open", []Key{sps(tagSPSStartTime, "093000-")}, nil, true},
		{"time empty item", []Key{sps(tagSPSStartTime, "0800-1000")}, func(it *Item) { it.StartTime = "" }, false},
		// One continuous period: from 21st 18:00 to 22nd 08:00 excludes 22nd 09:30...
		{"period excludes", []Key{sps(tagSPSStartDate, "20261121-20261122"), sps(tagSPSStartTime, "180000-080000")}, nil, false},
		// ...but includes 21st 23:00, which separate date and time matching would not.
		{"period includes night", []Key{sps(tagSPSStartDate, "20261121-20261122"), sps(tagSPSStartTime, "180000-080000")},
			func(it *Item) { it.StartDate, it.StartTime = "20261121", "230000" }, true},
		{"period open end", []Key{sps(tagSPSStartDate, "20261122-"), sps(tagSPSStartTime, "0900-")}, nil, true},
		{"period open end before", []Key{sps(tagSPSStartDate, "20261122-"), sps(tagSPSStartTime, "1000-")}, nil, false},
		{"single date with time range", []Key{sps(tagSPSStartDate, "20261122"), sps(tagSPSStartTime, "0900-0959")}, nil, true},
		{"birth date range", []Key{top(birth, "20190101-20191231")}, nil, true},
		{"birth date miss", []Key{top(birth, "20200101")}, nil, false},
		// Veterinary keys.
		{"species", []Key{top(species, "dog")}, nil, true},
		{"species wildcard", []Key{top(species, "D*")}, nil, true},
		{"species other", []Key{top(species, "Cat")}, nil, false},
		{"species empty item", []Key{top(species, "Dog")}, func(it *Item) { it.SpeciesDescription = "" }, false},
		{"species code", []Key{code(spcode, Code{Value: "448771007", Scheme: "SCT"})}, nil, true},
		{"species code meaning", []Key{code(spcode, Code{Meaning: "canis*"})}, nil, true},
		{"species code other", []Key{code(spcode, Code{Value: "448169003"})}, nil, false},
		{"species code absent", []Key{code(spcode, Code{Value: "448771007"})}, func(it *Item) { it.SpeciesCode = nil }, false},
		{"breed", []Key{top(breed, "finnish*")}, nil, true},
		{"breed other", []Key{top(breed, "Beagle")}, nil, false},
		{"breed code", []Key{code(brcode, Code{Value: "1234"})}, nil, true},
		{"breed code other", []Key{code(brcode, Code{Value: "9"})}, nil, false},
		{"neutered", []Key{top(neut, "ALTERED")}, nil, true},
		{"neutered other", []Key{top(neut, "UNALTERED")}, nil, false},
		{"owner", []Key{top(resp, "MAKINEN^LIISA")}, nil, true},
		{"owner family", []Key{top(resp, "mäkinen")}, nil, true},
		{"owner other", []Key{top(resp, "SMITH")}, nil, false},
		{"owner role", []Key{top(role, "OWNER")}, nil, true},
		{"owner role other", []Key{top(role, "BREEDER")}, nil, false},
		{"organisation", []Key{top(org, "kennel*")}, nil, true},
		{"organisation other", []Key{top(org, "ABC Farms")}, nil, false},
		{"organisation empty item", []Key{top(org, "*Farm*")}, func(it *Item) { it.ResponsibleOrganization = "" }, false},
		{"weight", []Key{top(weight, "12.5")}, nil, true},
		{"weight other", []Key{top(weight, "12")}, nil, false},
		{"weight range", []Key{top(weight, "10-15")}, nil, true},
		{"weight open range", []Key{top(weight, "20-")}, nil, false},
		{"weight unknown", []Key{top(weight, "12.5")}, func(it *Item) { it.PatientWeightKg = 0 }, false},
		{"microchip", []Key{top(others, "985112345678901")}, nil, true},
		{"microchip wildcard", []Key{top(others, "985*")}, nil, true},
		{"microchip other", []Key{top(others, "900000000000000")}, nil, false},
		{"microchip none", []Key{top(others, "985*")}, func(it *Item) { it.OtherPatientIDs = nil }, false},
		// Several keys: all must match.
		{"all match", []Key{top(name, "MAKINEN"), sps(tagModality, "DX"), sps(tagStationAE, "DX1"), sps(tagSPSStartDate, "20261122")}, nil, true},
		{"one fails", []Key{top(name, "MAKINEN"), sps(tagModality, "DX"), sps(tagStationAE, "US1")}, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			it := baseItem()
			if c.edit != nil {
				c.edit(&it)
			}
			q := Query{SPS: true, Keys: c.keys}
			got := matches(q, it)
			if got != c.want {
				t.Errorf("Matches = %v, want %v", got, c.want)
			}
			// Explain runs the same predicates: it is empty exactly when the item matches.
			reasons := Explain(q, it)
			if (len(reasons) == 0) != got {
				t.Errorf("Explain disagrees with Matches: %+v", reasons)
			}
			for _, r := range reasons {
				if r.Text == "" || r.Key == "" {
					t.Errorf("reason without words: %+v", r)
				}
			}
			// The index answers exactly like the predicate.
			x := NewIndex()
			if err := x.Put(it); err != nil {
				t.Fatal(err)
			}
			if n := len(indexMatch(x, q)); (n == 1) != c.want {
				t.Errorf("index returned %d items, want match=%v", n, c.want)
			}
		})
	}
}

func TestExplainWords(t *testing.T) {
	it := baseItem()
	cases := []struct {
		name string
		q    Query
		edit func(*Item)
		want string
	}{
		{"modality", Query{Keys: []Key{key(tagModality, true, "US")}}, nil,
			"the device asked for modality US; this referral is DX"},
		{"station", Query{Keys: []Key{key(tagStationAE, true, "US1")}}, nil,
			"the device asked for station US1; this referral is scheduled on DX1"},
		{"tomorrow", Query{Today: "20261122", Keys: []Key{key(tagSPSStartDate, true, "20261122")}},
			func(it *Item) { it.StartDate = "20261123" },
			"scheduled tomorrow (2026-11-23); the device asked for 2026-11-22"},
		{"status hidden", Query{HiddenStatuses: []string{"STARTED", "COMPLETED", "DISCONTINUED"}},
			func(it *Item) { it.SPSStatus = "STARTED" },
			"status STARTED is hidden for this device"},
		{"device modalities", Query{Modalities: []string{"US"}}, nil,
			"this device is set up for modality US; this referral is DX"},
		{"missing value", Query{Keys: []Key{key(0x00102201, false, "Cat")}},
			func(it *Item) { it.SpeciesDescription = "" },
			"the device asked for species Cat; this referral has no species"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			item := it
			if c.edit != nil {
				c.edit(&item)
			}
			rs := Explain(c.q, item)
			if len(rs) != 1 || rs[0].Text != c.want {
				t.Errorf("Explain = %+v\nwant text %q", rs, c.want)
			}
		})
	}
	// Profile-set windows are explained as the device's defaults.
	p := Profile{DaysBefore: 0, DaysAfter: 0}
	q := p.Apply(Query{SPS: true}, "DX1", mustTime(t, "2026-11-22T10:00:00Z"))
	item := it
	item.StartDate = "20261125"
	rs := Explain(q, item)
	if len(rs) != 1 || !strings.Contains(rs[0].Text, "default window") {
		t.Errorf("Explain = %+v", rs)
	}
}
