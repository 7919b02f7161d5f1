// Package worklist is the Modality Worklist information model (PS3.4 Annex K):
// the item a modality sees, query decoding, matching, answer encoding and .wl
// files. It knows nothing about where items come from and nothing about the
// network: the server hands it identifier bytes and sends what it returns.
package worklist

import "time"

// Item is one Scheduled Procedure Step as a modality receives it. Text fields
// hold UTF-8; conversion to the answer's character set happens on encoding,
// because the suyashkumar/dicom writer does not transcode.
type Item struct {
	// Key identifies the item across restarts and machines; it is never sent
	// to a modality and never used as a file name.
	Key string

	// Patient (the animal). PatientName is PS3.5's veterinary form,
	// "ResponsibleFamilyNameOrOrganisation^AnimalName".
	PatientName        string
	PatientID          string
	OtherPatientIDs    []string // microchip numbers
	PatientBirthDate   string   // YYYYMMDD or ""
	PatientSex         string   // M, F, O or ""
	PatientSexNeutered string   // ALTERED, UNALTERED or ""
	PatientWeightKg    float64  // 0 means unknown
	SpeciesDescription string
	SpeciesCode        *Code
	BreedDescription   string
	BreedCode          *Code
	// The owner: a person (PN "Family^Given") with a role, or an organisation.
	ResponsiblePerson       string
	ResponsiblePersonRole   string // OWNER, ...
	ResponsibleOrganization string
	PatientComments         string

	// The order.
	AccessionNumber               string
	RequestedProcedureID          string
	RequestedProcedureDescription string
	RequestedProcedureCode        *Code
	RequestedProcedurePriority    string // STAT, HIGH, ROUTINE, MEDIUM, LOW
	RequestedProcedureComments    string // remarks, where devices show them
	StudyInstanceUID              string
	ReferringPhysician            string // PN
	RequestingPhysician           string // PN
	AdmissionID                   string // e.g. the consultation

	// The Scheduled Procedure Step.
	StationAETitle      string
	StationName         string
	Modality            string // DX, CR, US, CT, ...
	StartDate           string // YYYYMMDD
	StartTime           string // HHMMSS
	PerformingPhysician string // PN
	SPSID               string
	SPSDescription      string
	SPSStatus           string // SCHEDULED, ARRIVED, READY, STARTED, COMPLETED, DISCONTINUED
	SPSLocation         string

	// Updated is when the item last changed here; not sent to modalities.
	Updated time.Time
}

// Code is one item of a DICOM code sequence.
type Code struct {
	Value   string // (0008,0100)
	Scheme  string // (0008,0102)
	Meaning string // (0008,0104)
}
