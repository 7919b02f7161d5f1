package records

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// Field is one attribute a modality receives, labelled for people.
type Field struct {
	Label string
	Value string
}

// Referral is one imaging order as the technician sees it: the UI's and
// the commands' view of a Record.
type Referral struct {
	Key              string // stable identity used in every call below
	ProvetID         int    // Provet's worklist id
	Scheduled        time.Time
	PetName          string
	Species          string
	Breed            string
	OwnerName        string
	PatientID        string
	AccessionNumber  string
	StudyInstanceUID string
	// RequestedProcedureID and SPSID are how a modality's MPPS names the
	// order, shown for IT.
	RequestedProcedureID string
	SPSID                string
	Exam                 string // procedure description
	Modality             string // DICOM modality code, e.g. DX
	StationAE            string
	RequestingVet        string
	Status               string // SCHEDULED, STARTED, COMPLETED, DISCONTINUED
	Remarks              string
	New                  bool    // arrived since the technician last opened the window
	Fields               []Field // everything the modality receives, in order
	// History says who changed the status from here, oldest first:
	// "Completed by DX1, 192.168.1.20, Sat 29 Nov 10:42".
	History []string
	// Images is the PACS's images in words for the row ("no images yet",
	// "2 series, 14 images, 10:42"); "" while the PACS was not asked.
	Images string
	// ImagesStudyUID is the study the viewer opens, once the PACS has one.
	ImagesStudyUID string
	// WalkIn marks an exam created in VetBridge without a Provet order.
	WalkIn bool
}

// Referral is the technician's view of the record; isNew says it arrived
// since the technician last looked.
func (r Record) Referral(isNew bool) Referral {
	it := r.Item
	return Referral{
		Key:                  it.Key,
		ProvetID:             r.ProvetID,
		Scheduled:            r.Scheduled(),
		PetName:              nonEmpty(r.PetName, petFromPN(it.PatientName)),
		Species:              it.SpeciesDescription,
		Breed:                it.BreedDescription,
		OwnerName:            nonEmpty(r.OwnerName, ownerFromRecord(it)),
		PatientID:            it.PatientID,
		AccessionNumber:      it.AccessionNumber,
		StudyInstanceUID:     it.StudyInstanceUID,
		RequestedProcedureID: it.RequestedProcedureID,
		SPSID:                it.SPSID,
		Exam:                 nonEmpty(r.Exam, it.RequestedProcedureDescription),
		Modality:             it.Modality,
		StationAE:            it.StationAETitle,
		RequestingVet:        nonEmpty(r.RequestingVet, readablePN(it.RequestingPhysician)),
		Status:               nonEmpty(it.SPSStatus, "SCHEDULED"),
		Remarks:              r.Remarks,
		New:                  isNew,
		History:              history(r.Audit),
		Fields:               itemFields(it),
		WalkIn:               r.Source == SourceWalkIn,
	}
}

func petFromPN(pn string) string {
	parts := strings.Split(strings.SplitN(pn, "=", 2)[0], "^")
	if len(parts) > 1 && parts[1] != "" {
		return parts[1]
	}
	return parts[0]
}

func ownerFromRecord(it worklist.Item) string {
	if it.ResponsibleOrganization != "" {
		return it.ResponsibleOrganization
	}
	return readablePN(it.ResponsiblePerson)
}

// readablePN turns "Family^Given^Middle^Prefix^Suffix" into "Prefix Given Middle Family Suffix".
func readablePN(pn string) string {
	c := strings.Split(strings.SplitN(pn, "=", 2)[0], "^")
	for len(c) < 5 {
		c = append(c, "")
	}
	return joinNonEmpty(" ", c[3], c[1], c[2], c[0], c[4])
}

// itemFields lists every attribute the modality receives, labelled for the
// technician, so "what will the device show?" needs no DICOM knowledge.
func itemFields(it worklist.Item) []Field {
	var f []Field
	add := func(label, v string) {
		if strings.TrimSpace(v) != "" {
			f = append(f, Field{label, v})
		}
	}
	code := func(c *worklist.Code) string {
		if c == nil {
			return ""
		}
		return joinNonEmpty(" ", c.Meaning, "("+c.Scheme+" "+c.Value+")")
	}
	add("Patient's Name (0010,0010)", it.PatientName)
	add("Patient ID (0010,0020)", it.PatientID)
	add("Other Patient IDs / microchip (0010,1002)", strings.Join(it.OtherPatientIDs, ", "))
	add("Birth Date (0010,0030)", it.PatientBirthDate)
	add("Sex (0010,0040)", it.PatientSex)
	add("Sex Neutered (0010,2203)", it.PatientSexNeutered)
	if it.PatientWeightKg > 0 {
		add("Weight kg (0010,1030)", strconv.FormatFloat(it.PatientWeightKg, 'f', -1, 64))
	}
	add("Species (0010,2201)", it.SpeciesDescription)
	add("Species Code (0010,2202)", code(it.SpeciesCode))
	add("Breed (0010,2292)", it.BreedDescription)
	add("Breed Code (0010,2293)", code(it.BreedCode))
	add("Responsible Person (0010,2297)", it.ResponsiblePerson)
	add("Responsible Person Role (0010,2298)", it.ResponsiblePersonRole)
	add("Responsible Organization (0010,2299)", it.ResponsibleOrganization)
	add("Accession Number (0008,0050)", it.AccessionNumber)
	add("Requested Procedure ID (0040,1001)", it.RequestedProcedureID)
	add("Requested Procedure (0032,1060)", it.RequestedProcedureDescription)
	add("Priority (0040,1003)", it.RequestedProcedurePriority)
	add("Study Instance UID (0020,000D)", it.StudyInstanceUID)
	add("Referring Physician (0008,0090)", it.ReferringPhysician)
	add("Requesting Physician (0032,1032)", it.RequestingPhysician)
	add("Scheduled Station AE (0040,0001)", it.StationAETitle)
	add("Modality (0008,0060)", it.Modality)
	add("Start Date (0040,0002)", it.StartDate)
	add("Start Time (0040,0003)", it.StartTime)
	add("Performing Physician (0040,0006)", it.PerformingPhysician)
	add("SPS ID (0040,0009)", it.SPSID)
	add("SPS Description (0040,0007)", it.SPSDescription)
	add("SPS Status (0040,0020)", it.SPSStatus)
	add("Procedure Comments (0040,1400)", it.RequestedProcedureComments)
	return f
}

// history words the audit trail for the detail pane.
func history(audit []AuditEntry) []string {
	var out []string
	for _, e := range audit {
		out = append(out, fmt.Sprintf("%s by %s, %s", stateWords(e.To), e.By, e.At.Local().Format("Mon 2 Jan 15:04")))
	}
	return out
}

func stateWords(sps string) string {
	switch sps {
	case "STARTED":
		return "Started"
	case "COMPLETED":
		return "Completed"
	case "DISCONTINUED":
		return "Discontinued"
	case "SCHEDULED", "":
		return "Back to scheduled"
	}
	return sps
}

// Label names the referral for a person in one line: pet, owner, exam.
func (r Referral) Label() string { return joinNonEmpty(", ", r.PetName, r.OwnerName, r.Exam) }

// Notice is the text of the referral's new-referral notification. The
// owner's name is personal data and appears only when the clinic allows it.
func (r Referral) Notice(showOwner bool) (title, message string) {
	exam := r.Exam
	if exam == "" {
		exam = r.Modality
	}
	title = "New imaging referral: " + exam
	var b strings.Builder
	b.WriteString(nonEmpty(r.PetName, "Unnamed patient"))
	if animal := joinNonEmpty(", ", r.Species, r.Breed); animal != "" {
		b.WriteString(" (" + animal + ")")
	}
	if showOwner && r.OwnerName != "" {
		b.WriteString(", owner " + r.OwnerName)
	}
	if r.RequestingVet != "" {
		b.WriteString("\nRequested by " + r.RequestingVet)
	}
	if r.Modality != "" {
		b.WriteString("\n" + r.Modality)
		if r.StationAE != "" {
			b.WriteString(" on " + r.StationAE)
		}
	}
	return title, b.String()
}

// SummaryNotice replaces a flood of notifications after the first sync or a
// long offline spell.
func SummaryNotice(n int) (title, message string) {
	if n == 1 {
		return "1 new imaging referral", "Open the worklist to see it."
	}
	return fmt.Sprintf("%d new imaging referrals", n), "Open the worklist to see them."
}

func nonEmpty(s, fallback string) string {
	if strings.TrimSpace(s) == "" {
		return fallback
	}
	return s
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
