package app

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// record is what the store keeps for one referral: the worklist item the
// modalities receive, plus what the technician sees and what sync needs to
// recognise the referral in Provet again.
type record struct {
	Item           worklist.Item `json:"item"`
	Source         string        `json:"source"` // "provet" or "import"
	ProvetID       int           `json:"provet_id,omitempty"`
	ProvetStatus   string        `json:"provet_status,omitempty"` // raw value, as configured
	ProvetState    string        `json:"provet_state,omitempty"`  // what the mapping made of it: requested, in_progress, ...
	ProvetModified time.Time     `json:"provet_modified,omitzero"`
	PetName        string        `json:"pet_name,omitempty"`
	OwnerName      string        `json:"owner_name,omitempty"`
	RequestingVet  string        `json:"requesting_vet,omitempty"`
	Exam           string        `json:"exam,omitempty"`
	Remarks        string        `json:"remarks,omitempty"`
	Arrived        time.Time     `json:"arrived"`
}

func (r record) encode() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode worklist record %s: %w", r.Item.Key, err)
	}
	return b, nil
}

func decodeRecord(b []byte) (record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("decode worklist record: %w", err)
	}
	return r, nil
}

// scheduled is the step's start in local time; zero when undated.
func (r record) scheduled() time.Time {
	d, t := r.Item.StartDate, r.Item.StartTime
	if len(d) != 8 {
		return time.Time{}
	}
	for len(t) < 6 {
		t += "0"
	}
	v, err := time.ParseInLocation("20060102150405", d+t[:6], time.Local)
	if err != nil {
		return time.Time{}
	}
	return v
}

// referral is the technician's view of a record.
func (r record) referral(isNew bool) Referral {
	it := r.Item
	return Referral{
		Key:              it.Key,
		ProvetID:         r.ProvetID,
		Scheduled:        r.scheduled(),
		PetName:          nonEmpty(r.PetName, petFromPN(it.PatientName)),
		Species:          it.SpeciesDescription,
		Breed:            it.BreedDescription,
		OwnerName:        nonEmpty(r.OwnerName, ownerFromRecord(it)),
		PatientID:        it.PatientID,
		AccessionNumber:  it.AccessionNumber,
		StudyInstanceUID: it.StudyInstanceUID,
		Exam:             nonEmpty(r.Exam, it.RequestedProcedureDescription),
		Modality:         it.Modality,
		StationAE:        it.StationAETitle,
		RequestingVet:    nonEmpty(r.RequestingVet, readablePN(it.RequestingPhysician)),
		Status:           nonEmpty(it.SPSStatus, "SCHEDULED"),
		Remarks:          r.Remarks,
		New:              isNew,
		Fields:           itemFields(it),
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
