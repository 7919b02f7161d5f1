package mpps

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

type syntax struct {
	name      string
	bigEndian bool
	implicit  bool
}

var syntaxes = []syntax{
	{"ImplicitLE", false, true},
	{"ExplicitLE", false, false},
	{"ExplicitBE", true, false},
}

func el(t testing.TB, tg tag.Tag, v any) *dicom.Element {
	t.Helper()
	e, err := dicom.NewElement(tg, v)
	if err != nil {
		t.Fatalf("element %s: %v", tg, err)
	}
	return e
}

func s1(v string) []string { return []string{v} }

// encode writes elements with the library's writer in the given syntax.
func encode(t testing.TB, sx syntax, els []*dicom.Element) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := dicom.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if sx.bigEndian {
		bo = binary.BigEndian
	}
	w.SetTransferSyntax(bo, sx.implicit)
	for _, e := range els {
		if err := w.WriteElement(e); err != nil {
			t.Fatalf("write %s: %v", e.Tag, err)
		}
	}
	return buf.Bytes()
}

type ds map[tag.Tag]*dicom.Element

func (d ds) list() []*dicom.Element {
	out := make([]*dicom.Element, 0, len(d))
	for _, e := range d {
		out = append(out, e)
	}
	// Data sets are sorted by tag on the wire.
	slices.SortFunc(out, func(a, b *dicom.Element) int { return int(tagID(a.Tag)) - int(tagID(b.Tag)) })
	return out
}

func ssItem(t testing.TB, study, acc, rpid, spsid string) []*dicom.Element {
	return []*dicom.Element{
		el(t, tag.AccessionNumber, s1(acc)),
		el(t, tag.StudyInstanceUID, s1(study)),
		el(t, tag.ScheduledProcedureStepID, s1(spsid)),
		el(t, tag.RequestedProcedureID, s1(rpid)),
	}
}

// createDS is a complete, valid N-CREATE data set.
func createDS(t testing.TB) ds {
	return ds{
		tag.SpecificCharacterSet:              el(t, tag.SpecificCharacterSet, s1("ISO_IR 192")),
		tag.Modality:                          el(t, tag.Modality, s1("dx")),
		tag.PatientName:                       el(t, tag.PatientName, s1("Müller^Bella")),
		tag.PatientID:                         el(t, tag.PatientID, s1("P123")),
		tag.PerformedStationAETitle:           el(t, tag.PerformedStationAETitle, s1("XRAY1")),
		tag.PerformedStationName:              el(t, tag.PerformedStationName, s1("Room 2")),
		tag.PerformedProcedureStepStartDate:   el(t, tag.PerformedProcedureStepStartDate, s1("20260105")),
		tag.PerformedProcedureStepStartTime:   el(t, tag.PerformedProcedureStepStartTime, s1("101500")),
		tag.PerformedProcedureStepEndDate:     el(t, tag.PerformedProcedureStepEndDate, s1("")),
		tag.PerformedProcedureStepEndTime:     el(t, tag.PerformedProcedureStepEndTime, s1("")),
		tag.PerformedProcedureStepStatus:      el(t, tag.PerformedProcedureStepStatus, s1("IN PROGRESS")),
		tag.PerformedProcedureStepID:          el(t, tag.PerformedProcedureStepID, s1("PPS1")),
		tag.PerformedProcedureStepDescription: el(t, tag.PerformedProcedureStepDescription, s1("Thorax 2 views")),
		tag.ScheduledStepAttributesSequence: el(t, tag.ScheduledStepAttributesSequence, [][]*dicom.Element{
			ssItem(t, "2.25.1", "ACC1", "RP1", "SPS1"),
		}),
	}
}

const testUID = "1.2.826.0.1.3680043.10.999.1"

func tagsOf(ts ...tag.Tag) []uint32 {
	var out []uint32
	for _, t := range ts {
		out = append(out, tagID(t))
	}
	return out
}

func checkFailure(t *testing.T, f *Failure, status, errID uint16, tags []uint32) {
	t.Helper()
	if status == StatusSuccess {
		if f != nil {
			t.Fatalf("unexpected failure: %v", f)
		}
		return
	}
	if f == nil {
		t.Fatalf("succeeded, want status 0x%04X", status)
	}
	if f.Status != status || f.ErrorID != errID || !slices.Equal(f.Tags, tags) {
		t.Fatalf("got %v, want status 0x%04X error ID 0x%04X tags %08X", f, status, errID, tags)
	}
	if f.Comment == "" || len(f.Comment) > 64 {
		t.Fatalf("error comment %q must be 1-64 characters", f.Comment)
	}
}

func TestCreate(t *testing.T) {
	cases := []struct {
		name     string
		uid      string
		existing bool
		edit     func(t testing.TB, d ds)
		raw      []byte // used instead of the data set when set
		status   uint16
		tags     []uint32
	}{
		{name: "valid", uid: testUID},
		{name: "lower-case status", uid: testUID, edit: func(t testing.TB, d ds) {
			d[tag.PerformedProcedureStepStatus] = el(t, tag.PerformedProcedureStepStatus, s1("in progress"))
		}},
		{name: "duplicate", uid: testUID, existing: true, status: StatusDuplicateInstance},
		{name: "invalid UID", uid: "1.2.abc", status: StatusInvalidObjectInstance},
		{name: "UID too long", uid: "1." + strings.Repeat("9", 70), status: StatusInvalidObjectInstance},
		{name: "missing PPS ID", uid: testUID, edit: func(_ testing.TB, d ds) {
			delete(d, tag.PerformedProcedureStepID)
		}, status: StatusMissingAttribute, tags: tagsOf(tag.PerformedProcedureStepID)},
		{name: "missing several", uid: testUID, edit: func(_ testing.TB, d ds) {
			delete(d, tag.PerformedStationAETitle)
			delete(d, tag.PerformedProcedureStepStartDate)
			delete(d, tag.PerformedProcedureStepStartTime)
			delete(d, tag.PerformedProcedureStepStatus)
			delete(d, tag.ScheduledStepAttributesSequence)
		}, status: StatusMissingAttribute, tags: tagsOf(tag.PerformedStationAETitle, tag.PerformedProcedureStepStartDate,
			tag.PerformedProcedureStepStartTime, tag.PerformedProcedureStepStatus, tag.ScheduledStepAttributesSequence)},
		{name: "empty PPS ID and station", uid: testUID, edit: func(t testing.TB, d ds) {
			d[tag.PerformedProcedureStepID] = el(t, tag.PerformedProcedureStepID, s1(""))
			d[tag.PerformedStationAETitle] = el(t, tag.PerformedStationAETitle, s1("  "))
		}, status: StatusMissingAttributeValue, tags: tagsOf(tag.PerformedProcedureStepID, tag.PerformedStationAETitle)},
		{name: "missing wins over empty", uid: testUID, edit: func(t testing.TB, d ds) {
			d[tag.PerformedProcedureStepID] = el(t, tag.PerformedProcedureStepID, s1(""))
			delete(d, tag.PerformedProcedureStepStartTime)
		}, status: StatusMissingAttribute, tags: tagsOf(tag.PerformedProcedureStepStartTime)},
		{name: "empty scheduled step sequence", uid: testUID, edit: func(t testing.TB, d ds) {
			d[tag.ScheduledStepAttributesSequence] = el(t, tag.ScheduledStepAttributesSequence, [][]*dicom.Element{})
		}, status: StatusMissingAttributeValue, tags: tagsOf(tag.ScheduledStepAttributesSequence)},
		{name: "scheduled step without study UID", uid: testUID, edit: func(t testing.TB, d ds) {
			d[tag.ScheduledStepAttributesSequence] = el(t, tag.ScheduledStepAttributesSequence, [][]*dicom.Element{
				ssItem(t, "2.25.1", "ACC1", "RP1", "SPS1"),
				{el(t, tag.AccessionNumber, s1("ACC2"))},
			})
		}, status: StatusMissingAttribute, tags: tagsOf(tag.StudyInstanceUID)},
		{name: "scheduled step with empty study UID", uid: testUID, edit: func(t testing.TB, d ds) {
			d[tag.ScheduledStepAttributesSequence] = el(t, tag.ScheduledStepAttributesSequence, [][]*dicom.Element{
				ssItem(t, "", "ACC1", "RP1", "SPS1"),
			})
		}, status: StatusMissingAttributeValue, tags: tagsOf(tag.StudyInstanceUID)},
		{name: "status COMPLETED", uid: testUID, edit: func(t testing.TB, d ds) {
			d[tag.PerformedProcedureStepStatus] = el(t, tag.PerformedProcedureStepStatus, s1("COMPLETED"))
		}, status: StatusInvalidAttributeValue, tags: tagsOf(tag.PerformedProcedureStepStatus)},
		{name: "status garbage", uid: testUID, edit: func(t testing.TB, d ds) {
			d[tag.PerformedProcedureStepStatus] = el(t, tag.PerformedProcedureStepStatus, s1("STARTED"))
		}, status: StatusInvalidAttributeValue, tags: tagsOf(tag.PerformedProcedureStepStatus)},
		{name: "malformed start date", uid: testUID, edit: func(t testing.TB, d ds) {
			d[tag.PerformedProcedureStepStartDate] = el(t, tag.PerformedProcedureStepStartDate, s1("2026-01-05"))
		}, status: StatusInvalidAttributeValue, tags: tagsOf(tag.PerformedProcedureStepStartDate)},
		{name: "undecodable", uid: testUID, raw: []byte{0x10, 0x00, 0x10, 0x00, 0xff, 0xff, 0xff, 0x7f, 'x'}, status: StatusProcessingFailure},
	}
	for _, sx := range syntaxes {
		for _, c := range cases {
			t.Run(sx.name+"/"+c.name, func(t *testing.T) {
				d := createDS(t)
				if c.edit != nil {
					c.edit(t, d)
				}
				data := c.raw
				if data == nil {
					data = encode(t, sx, d.list())
				}
				st, f := Create(c.uid, data, sx.bigEndian, sx.implicit, c.existing)
				checkFailure(t, f, c.status, 0, c.tags)
				if f != nil {
					return
				}
				want := Step{
					SOPInstanceUID: testUID, Status: InProgress, PPSID: "PPS1",
					PerformedStationAE: "XRAY1", PerformedStationName: "Room 2", Modality: "DX",
					StartDate: "20260105", StartTime: "101500", PatientID: "P123", PatientName: "Müller^Bella",
					Description:    "Thorax 2 views",
					ScheduledSteps: []ScheduledStepRef{{StudyInstanceUID: "2.25.1", AccessionNumber: "ACC1", RequestedProcedureID: "RP1", SPSID: "SPS1"}},
				}
				if time.Since(st.Created) > time.Minute || !st.Updated.Equal(st.Created) {
					t.Fatalf("timestamps %v %v", st.Created, st.Updated)
				}
				st.Created, st.Updated = time.Time{}, time.Time{}
				if !reflect.DeepEqual(st, want) {
					t.Fatalf("step\n got %+v\nwant %+v", st, want)
				}
			})
		}
	}
}

func TestCreateAssignsUID(t *testing.T) {
	data := encode(t, syntaxes[0], createDS(t).list())
	a, f := Create("", data, false, true, false)
	checkFailure(t, f, 0, 0, nil)
	b, _ := Create("", data, false, true, false)
	if !strings.HasPrefix(a.SOPInstanceUID, "2.25.") || !validUID(a.SOPInstanceUID) || a.SOPInstanceUID == b.SOPInstanceUID {
		t.Fatalf("assigned UIDs %q and %q", a.SOPInstanceUID, b.SOPInstanceUID)
	}
}

func TestNewUID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		u := NewUID()
		if !strings.HasPrefix(u, "2.25.") || len(u) > 64 || !validUID(u) || seen[u] {
			t.Fatalf("bad or repeated UID %q", u)
		}
		// PS3.5 9.1: no leading zero in a component.
		if strings.HasPrefix(u, "2.25.0") {
			t.Fatalf("leading zero in %q", u)
		}
		seen[u] = true
	}
}

func TestCreateUnscheduled(t *testing.T) {
	d := createDS(t)
	d[tag.ScheduledStepAttributesSequence] = el(t, tag.ScheduledStepAttributesSequence, [][]*dicom.Element{
		ssItem(t, "2.25.777", "", "", ""),
	})
	st, f := Create(testUID, encode(t, syntaxes[1], d.list()), false, false, false)
	checkFailure(t, f, 0, 0, nil)
	if !st.Unscheduled() || Link(st) != nil {
		t.Fatalf("unscheduled exam: Unscheduled()=%v Link=%v", st.Unscheduled(), Link(st))
	}
}

func created(t *testing.T) Step {
	t.Helper()
	st, f := Create(testUID, encode(t, syntaxes[0], createDS(t).list()), false, true, false)
	if f != nil {
		t.Fatal(f)
	}
	return st
}

func TestSet(t *testing.T) {
	reason := el(t, tag.PerformedProcedureStepDiscontinuationReasonCodeSequence, [][]*dicom.Element{{
		el(t, tag.CodeValue, s1("110514")),
		el(t, tag.CodingSchemeDesignator, s1("DCM")),
		el(t, tag.CodeMeaning, s1("Incorrect worklist entry selected")),
	}})
	status := func(v string) *dicom.Element { return el(t, tag.PerformedProcedureStepStatus, s1(v)) }
	endDate := el(t, tag.PerformedProcedureStepEndDate, s1("20260105"))
	endTime := el(t, tag.PerformedProcedureStepEndTime, s1("103000"))
	cases := []struct {
		name    string
		cur     func(Step) Step
		els     []*dicom.Element
		status  uint16
		errID   uint16
		tags    []uint32
		checkFn func(t *testing.T, s Step)
	}{
		{name: "complete", els: []*dicom.Element{endDate, endTime, status("COMPLETED")}, checkFn: func(t *testing.T, s Step) {
			if s.Status != Completed || s.EndDate != "20260105" || s.EndTime != "103000" {
				t.Fatalf("%+v", s)
			}
		}},
		{name: "lower-case completed", els: []*dicom.Element{endDate, endTime, status("completed ")}, checkFn: func(t *testing.T, s Step) {
			if s.Status != Completed {
				t.Fatalf("status %q", s.Status)
			}
		}},
		{name: "discontinue with reason", els: []*dicom.Element{endDate, endTime, status("DISCONTINUED"), reason}, checkFn: func(t *testing.T, s Step) {
			if s.Status != Discontinued || s.DiscontinuationReason != "Incorrect worklist entry selected" {
				t.Fatalf("%+v", s)
			}
		}},
		{name: "stay in progress with new description", els: []*dicom.Element{
			el(t, tag.PerformedProcedureStepDescription, s1("Thorax 3 views")),
		}, checkFn: func(t *testing.T, s Step) {
			if s.Status != InProgress || s.Description != "Thorax 3 views" || s.EndDate != "" {
				t.Fatalf("%+v", s)
			}
		}},
		{name: "empty data set changes nothing", els: nil, checkFn: func(t *testing.T, s Step) {
			if s.Status != InProgress || s.Description != "Thorax 2 views" {
				t.Fatalf("%+v", s)
			}
		}},
		{name: "final without end date and time gets them filled", els: []*dicom.Element{status("COMPLETED")}, checkFn: func(t *testing.T, s Step) {
			if !validDate(s.EndDate) || !validTime(s.EndTime) {
				t.Fatalf("end %q %q", s.EndDate, s.EndTime)
			}
		}},
		{name: "identical identity resent is accepted", els: []*dicom.Element{
			el(t, tag.PatientName, s1("Müller^Bella")),
			el(t, tag.PerformedStationAETitle, s1("XRAY1")),
			status("COMPLETED"),
			el(t, tag.PerformedProcedureStepID, s1("PPS1")),
			el(t, tag.ScheduledStepAttributesSequence, [][]*dicom.Element{ssItem(t, "2.25.1", "ACC1", "RP1", "SPS1")}),
		}, checkFn: func(t *testing.T, s Step) {
			if s.Status != Completed {
				t.Fatalf("status %q", s.Status)
			}
		}},
		{name: "invalid status", els: []*dicom.Element{status("DONE")},
			status: StatusInvalidAttributeValue, tags: tagsOf(tag.PerformedProcedureStepStatus)},
		{name: "empty status", els: []*dicom.Element{status("")},
			status: StatusMissingAttributeValue, tags: tagsOf(tag.PerformedProcedureStepStatus)},
		{name: "malformed end time", els: []*dicom.Element{el(t, tag.PerformedProcedureStepEndTime, s1("10h30")), status("COMPLETED")},
			status: StatusInvalidAttributeValue, tags: tagsOf(tag.PerformedProcedureStepEndTime)},
		{name: "patient changed", els: []*dicom.Element{el(t, tag.PatientName, s1("Other^Rex")), status("COMPLETED")},
			status: StatusNoSuchAttribute, tags: tagsOf(tag.PatientName)},
		{name: "PPS ID and modality changed", els: []*dicom.Element{
			el(t, tag.Modality, s1("US")),
			el(t, tag.PerformedProcedureStepID, s1("PPS2")),
		}, status: StatusNoSuchAttribute, tags: tagsOf(tag.PerformedProcedureStepID, tag.Modality)},
		{name: "scheduled steps changed", els: []*dicom.Element{
			el(t, tag.ScheduledStepAttributesSequence, [][]*dicom.Element{ssItem(t, "2.25.1", "ACC9", "RP1", "SPS1")}),
		}, status: StatusNoSuchAttribute, tags: tagsOf(tag.ScheduledStepAttributesSequence)},
		{name: "already completed", cur: func(s Step) Step { s.Status = Completed; return s },
			els: []*dicom.Element{status("COMPLETED")}, status: StatusProcessingFailure, errID: ErrorIDNotUpdatable},
		{name: "already discontinued", cur: func(s Step) Step { s.Status = Discontinued; return s },
			els: []*dicom.Element{el(t, tag.PerformedProcedureStepDescription, s1("x"))}, status: StatusProcessingFailure, errID: ErrorIDNotUpdatable},
	}
	for _, sx := range syntaxes {
		for _, c := range cases {
			t.Run(sx.name+"/"+c.name, func(t *testing.T) {
				cur := created(t)
				if c.cur != nil {
					cur = c.cur(cur)
				}
				before := cur
				before.ScheduledSteps = slices.Clone(cur.ScheduledSteps)
				next, f := Set(cur, encode(t, sx, c.els), sx.bigEndian, sx.implicit)
				checkFailure(t, f, c.status, c.errID, c.tags)
				if !reflect.DeepEqual(cur, before) {
					t.Fatal("Set modified its input")
				}
				if f != nil {
					if !reflect.DeepEqual(next, cur) {
						t.Fatalf("a refused N-SET returned a changed step: %+v", next)
					}
					return
				}
				if next.SOPInstanceUID != cur.SOPInstanceUID || !next.Created.Equal(cur.Created) || next.Updated.Before(cur.Updated) {
					t.Fatalf("identity or timestamps wrong: %+v", next)
				}
				c.checkFn(t, next)
			})
		}
	}
}

func TestSetUndecodable(t *testing.T) {
	cur := created(t)
	_, f := Set(cur, []byte{1, 2, 3}, false, true)
	checkFailure(t, f, StatusProcessingFailure, 0, nil)
	_, f = Set(cur, nil, true, true) // implicit big endian does not exist
	checkFailure(t, f, StatusProcessingFailure, 0, nil)
}

func TestNoSuchInstance(t *testing.T) {
	f := NoSuchInstance()
	if f.Status != 0x0112 || f.Comment == "" {
		t.Fatalf("%v", f)
	}
}

func TestFailureError(t *testing.T) {
	f := &Failure{Status: 0x0110, ErrorID: 0xA710, Comment: "x", Tags: []uint32{0x00400252}}
	if got := f.Error(); got != "MPPS status 0x0110: x (error ID 0xA710) (0040,0252)" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestLink(t *testing.T) {
	s := Step{ScheduledSteps: []ScheduledStepRef{
		{StudyInstanceUID: "2.25.1", AccessionNumber: "ACC1", SPSID: "SPS1"},
		{StudyInstanceUID: "2.25.1", AccessionNumber: "ACC2", RequestedProcedureID: "RP2"},
		{StudyInstanceUID: "2.25.3", AccessionNumber: "ACC1", SPSID: "SPS3"},
	}}
	want := []Ref{
		{LinkSPSID, "SPS1"}, {LinkSPSID, "SPS3"},
		{LinkAccession, "ACC1"}, {LinkAccession, "ACC2"},
		{LinkStudyUID, "2.25.1"}, {LinkStudyUID, "2.25.3"},
	}
	if got := Link(s); !slices.Equal(got, want) {
		t.Fatalf("Link = %v\nwant %v", got, want)
	}
	// Requested Procedure ID alone makes the exam scheduled; it links by study.
	s = Step{ScheduledSteps: []ScheduledStepRef{{StudyInstanceUID: "2.25.9", RequestedProcedureID: "RP"}}}
	if got := Link(s); !slices.Equal(got, []Ref{{LinkStudyUID, "2.25.9"}}) {
		t.Fatalf("Link = %v", got)
	}
	if Link(Step{}) != nil {
		t.Fatal("a step without scheduled steps linked to something")
	}
}

func TestStepJSONRoundTrip(t *testing.T) {
	st := created(t)
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back Step
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, st) {
		t.Fatalf("round trip\n got %+v\nwant %+v", back, st)
	}
}
