package worklist

import (
	"fmt"
	"strconv"
	"strings"
)

// Tag is a DICOM attribute tag, group in the high 16 bits.
type Tag uint32

func (t Tag) group() uint16   { return uint16(t >> 16) }
func (t Tag) element() uint16 { return uint16(t) }

// String formats the tag the way DICOM documents and DCMTK print it.
func (t Tag) String() string { return fmt.Sprintf("(%04X,%04X)", t.group(), t.element()) }

// MarshalText keeps stored query records readable.
func (t Tag) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (t *Tag) UnmarshalText(b []byte) error {
	s := strings.Trim(string(b), "()")
	g, e, ok := strings.Cut(s, ",")
	if !ok {
		return fmt.Errorf("tag %q is not of the form (gggg,eeee)", b)
	}
	gv, err1 := strconv.ParseUint(g, 16, 16)
	ev, err2 := strconv.ParseUint(e, 16, 16)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("tag %q is not of the form (gggg,eeee)", b)
	}
	*t = Tag(gv<<16 | ev)
	return nil
}

// Tags this package treats specially.
const (
	tagSpecificCharacterSet Tag = 0x00080005
	tagQueryRetrieveLevel   Tag = 0x00080052
	tagSPSSequence          Tag = 0x00400100
	tagCodeValue            Tag = 0x00080100
	tagCodingScheme         Tag = 0x00080102
	tagCodeMeaning          Tag = 0x00080104
	tagPatientID            Tag = 0x00100020
	tagIssuerOfPatientID    Tag = 0x00100021
	tagTypeOfPatientID      Tag = 0x00100022
	tagSPSStartDate         Tag = 0x00400002
	tagSPSStartTime         Tag = 0x00400003
	tagModality             Tag = 0x00080060
	tagStationAE            Tag = 0x00400001
	tagSPSStatus            Tag = 0x00400020
	tagSPSID                Tag = 0x00400009
	tagSPSDescription       Tag = 0x00400007
	tagReqProcID            Tag = 0x00401001
	tagReqProcDescription   Tag = 0x00321060
	tagStudyInstanceUID     Tag = 0x0020000D
	tagPatientName          Tag = 0x00100010
	tagAccessionNumber      Tag = 0x00080050
	tagOtherPatientIDs      Tag = 0x00101002
)

// matchKind says how a key's value is matched against an item.
type matchKind uint8

const (
	matchNone     matchKind = iota // return key only
	matchExact                     // case-sensitive, wildcards allowed (IDs)
	matchText                      // case- and accent-insensitive, wildcards allowed
	matchName                      // matchText plus an implicit trailing ^*, per name group
	matchCode                      // CS: upper-cased, wildcards allowed
	matchAE                        // AE title: case-insensitive, wildcards allowed
	matchUID                       // list of UIDs, exact
	matchDate                      // DA single value or range
	matchWhen                      // SPS start date and time as one period
	matchNumber                    // DS single value or range
	matchCodeSeq                   // code sequence: each given sub-key must match
	matchOtherIDs                  // Other Patient IDs Sequence > Patient ID
)

// attr describes one attribute this package understands: how to match it,
// where the item keeps it, and the words Explain uses for it.
type attr struct {
	tag     Tag
	keyword string
	vr      string
	inSPS   bool
	kind    matchKind
	label   string // for a technician: "the device asked for <label> X"
	// nameSlot is where an index entry keeps this name attribute's folded
	// groups; -1 for attributes that are not names.
	nameSlot int
	get      func(*Item) string
	set      func(*Item, string)
	code     func(*Item) **Code
	list     func(*Item) *[]string
}

func str(f func(*Item) *string) (func(*Item) string, func(*Item, string)) {
	return func(it *Item) string { return *f(it) }, func(it *Item, v string) { *f(it) = v }
}

func mk(t Tag, keyword, vr string, inSPS bool, kind matchKind, label string, f func(*Item) *string) attr {
	a := attr{tag: t, keyword: keyword, vr: vr, inSPS: inSPS, kind: kind, label: label}
	if f != nil {
		a.get, a.set = str(f)
	}
	return a
}

func codeAttr(t Tag, keyword string, inSPS bool, label string, f func(*Item) **Code) attr {
	return attr{tag: t, keyword: keyword, vr: "SQ", inSPS: inSPS, kind: matchCodeSeq, label: label, code: f}
}

// attrs lists, in tag order per level, every attribute with a meaning here.
// Others a device asks for are returned empty.
var attrs = []attr{
	mk(tagAccessionNumber, "AccessionNumber", "SH", false, matchExact, "accession number", func(it *Item) *string { return &it.AccessionNumber }),
	mk(0x00080090, "ReferringPhysicianName", "PN", false, matchName, "referring vet", func(it *Item) *string { return &it.ReferringPhysician }),
	{tag: 0x00081110, keyword: "ReferencedStudySequence", vr: "SQ"},
	{tag: 0x00081120, keyword: "ReferencedPatientSequence", vr: "SQ"},
	mk(tagPatientName, "PatientName", "PN", false, matchName, "patient name", func(it *Item) *string { return &it.PatientName }),
	mk(tagPatientID, "PatientID", "LO", false, matchExact, "patient ID", func(it *Item) *string { return &it.PatientID }),
	mk(0x00100030, "PatientBirthDate", "DA", false, matchDate, "birth date", func(it *Item) *string { return &it.PatientBirthDate }),
	mk(0x00100040, "PatientSex", "CS", false, matchCode, "sex", func(it *Item) *string { return &it.PatientSex }),
	{tag: tagOtherPatientIDs, keyword: "OtherPatientIDsSequence", vr: "SQ", kind: matchOtherIDs, label: "microchip",
		list: func(it *Item) *[]string { return &it.OtherPatientIDs }},
	{tag: 0x00101030, keyword: "PatientWeight", vr: "DS", kind: matchNumber, label: "weight (kg)",
		get: func(it *Item) string { return formatWeight(it.PatientWeightKg) },
		set: func(it *Item, v string) { it.PatientWeightKg, _ = strconv.ParseFloat(strings.TrimSpace(v), 64) }},
	mk(0x00102201, "PatientSpeciesDescription", "LO", false, matchText, "species", func(it *Item) *string { return &it.SpeciesDescription }),
	codeAttr(0x00102202, "PatientSpeciesCodeSequence", false, "species code", func(it *Item) **Code { return &it.SpeciesCode }),
	mk(0x00102203, "PatientSexNeutered", "CS", false, matchCode, "neutered state", func(it *Item) *string { return &it.PatientSexNeutered }),
	mk(0x00102292, "PatientBreedDescription", "LO", false, matchText, "breed", func(it *Item) *string { return &it.BreedDescription }),
	codeAttr(0x00102293, "PatientBreedCodeSequence", false, "breed code", func(it *Item) **Code { return &it.BreedCode }),
	mk(0x00102297, "ResponsiblePerson", "PN", false, matchName, "owner", func(it *Item) *string { return &it.ResponsiblePerson }),
	mk(0x00102298, "ResponsiblePersonRole", "CS", false, matchCode, "owner role", func(it *Item) *string { return &it.ResponsiblePersonRole }),
	mk(0x00102299, "ResponsibleOrganization", "LO", false, matchText, "owner organisation", func(it *Item) *string { return &it.ResponsibleOrganization }),
	mk(0x00104000, "PatientComments", "LT", false, matchNone, "patient comments", func(it *Item) *string { return &it.PatientComments }),
	mk(tagStudyInstanceUID, "StudyInstanceUID", "UI", false, matchUID, "study UID", func(it *Item) *string { return &it.StudyInstanceUID }),
	mk(0x00321032, "RequestingPhysician", "PN", false, matchName, "requesting vet", func(it *Item) *string { return &it.RequestingPhysician }),
	mk(tagReqProcDescription, "RequestedProcedureDescription", "LO", false, matchText, "procedure", func(it *Item) *string { return &it.RequestedProcedureDescription }),
	codeAttr(0x00321064, "RequestedProcedureCodeSequence", false, "procedure code", func(it *Item) **Code { return &it.RequestedProcedureCode }),
	mk(0x00380010, "AdmissionID", "LO", false, matchExact, "admission ID", func(it *Item) *string { return &it.AdmissionID }),
	mk(tagReqProcID, "RequestedProcedureID", "SH", false, matchExact, "requested procedure ID", func(it *Item) *string { return &it.RequestedProcedureID }),
	mk(0x00401003, "RequestedProcedurePriority", "SH", false, matchCode, "priority", func(it *Item) *string { return &it.RequestedProcedurePriority }),
	mk(0x00401400, "RequestedProcedureComments", "LT", false, matchNone, "procedure comments", func(it *Item) *string { return &it.RequestedProcedureComments }),
	{tag: tagSPSSequence, keyword: "ScheduledProcedureStepSequence", vr: "SQ"},

	mk(tagModality, "Modality", "CS", true, matchCode, "modality", func(it *Item) *string { return &it.Modality }),
	mk(tagStationAE, "ScheduledStationAETitle", "AE", true, matchAE, "station", func(it *Item) *string { return &it.StationAETitle }),
	mk(tagSPSStartDate, "ScheduledProcedureStepStartDate", "DA", true, matchWhen, "date", func(it *Item) *string { return &it.StartDate }),
	mk(tagSPSStartTime, "ScheduledProcedureStepStartTime", "TM", true, matchWhen, "time", func(it *Item) *string { return &it.StartTime }),
	mk(0x00400006, "ScheduledPerformingPhysicianName", "PN", true, matchName, "performing vet", func(it *Item) *string { return &it.PerformingPhysician }),
	mk(tagSPSDescription, "ScheduledProcedureStepDescription", "LO", true, matchText, "step description", func(it *Item) *string { return &it.SPSDescription }),
	codeAttr(0x00400008, "ScheduledProtocolCodeSequence", true, "protocol code", func(it *Item) **Code { return &it.RequestedProcedureCode }),
	mk(tagSPSID, "ScheduledProcedureStepID", "SH", true, matchExact, "step ID", func(it *Item) *string { return &it.SPSID }),
	mk(0x00400010, "ScheduledStationName", "SH", true, matchText, "station name", func(it *Item) *string { return &it.StationName }),
	mk(0x00400011, "ScheduledProcedureStepLocation", "SH", true, matchText, "location", func(it *Item) *string { return &it.SPSLocation }),
	mk(tagSPSStatus, "ScheduledProcedureStepStatus", "CS", true, matchCode, "status", func(it *Item) *string { return &it.SPSStatus }),
}

// nameSlots is how many name attributes (matchName with a value) attrs has.
const nameSlots = 5

func init() {
	n := 0
	for i := range attrs {
		attrs[i].nameSlot = -1
		if attrs[i].kind == matchName && attrs[i].get != nil {
			if n == nameSlots {
				panic("worklist: more name attributes than nameSlots")
			}
			attrs[i].nameSlot = n
			n++
		}
	}
}

// attrKey indexes attrs by level and tag.
type attrKey struct {
	tag   Tag
	inSPS bool
}

var attrIndex = func() map[attrKey]*attr {
	m := make(map[attrKey]*attr, len(attrs))
	for i := range attrs {
		m[attrKey{attrs[i].tag, attrs[i].inSPS}] = &attrs[i]
	}
	return m
}()

func lookupAttr(t Tag, inSPS bool) *attr { return attrIndex[attrKey{t, inSPS}] }

// formatWeight renders kilograms as a DS of at most 16 characters.
func formatWeight(kg float64) string {
	if kg <= 0 {
		return ""
	}
	s := strconv.FormatFloat(kg, 'f', -1, 64)
	if len(s) > 16 {
		s = strconv.FormatFloat(kg, 'g', 10, 64)
	}
	return s
}
