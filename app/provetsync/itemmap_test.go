package provetsync

import (
	"strings"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
)

func testMapping() Mapping {
	return Mapping{Tenant: "provetcloud.com/4242", ProvetID: "4242", Modalities: []ModalityMapping{
		{Provet: "X-ray", Modality: "DX", StationAE: "DX1"}, {Provet: "Computed radiography", Modality: "CR", StationAE: "CR1"},
		{Provet: "Ultrasound", Modality: "US", StationAE: "US1"}, {Provet: "CT", Modality: "CT", StationAE: "CT1"}},
		PatientName: "owner^pet", Location: time.UTC}
}

func TestMapOrderVeterinaryFields(t *testing.T) {
	w := 12.5
	created := time.Date(2026, 11, 22, 9, 15, 0, 0, time.UTC)
	o := order{
		Worklist: &provet.WorklistItem{ID: 77, Status: provet.StatusRequested, StatusRaw: "1", Created: created,
			Modified: created, Consultation: provet.Ref{ID: 900}},
		Referral:    &provet.ImagingReferral{Remarks: "Coughing for 2 weeks", InternalNotes: "owner is late payer", Urgent: true, Created: created},
		Appointment: &provet.Appointment{Start: time.Date(2026, 11, 23, 14, 30, 0, 0, time.UTC)},
		Patient: &provet.Patient{ID: 1234, Name: "Pörri", Species: "Dog (Canine - Domestic)", SpeciesCode: 1,
			Breed: "Finnish Lapphund", BreedCode: 77, Gender: "Castrated male", Weight: &w, Microchip: "985112000123456",
			DateOfBirth: time.Date(2019, 5, 1, 0, 0, 0, 0, time.UTC)},
		Owner:       &provet.Owner{FirstName: "Aino", LastName: "Mäkinen", CustomerType: 0},
		Modality:    "X-ray",
		TargetAreas: []string{"Thorax", "Abdomen"},
		Requesting:  &provet.User{FirstName: "Veera", LastName: "Virtanen"},
		Supervising: &provet.User{FirstName: "Olli", LastName: "Ojala"},
	}
	rec := testMapping().record(o, created)
	it := rec.Item
	checks := map[string][2]string{
		"PatientName":       {it.PatientName, "Mäkinen^Pörri"},
		"PatientID":         {it.PatientID, "1234"},
		"Sex":               {it.PatientSex, "M"},
		"Neutered":          {it.PatientSexNeutered, "ALTERED"},
		"Species":           {it.SpeciesDescription, "Dog"},
		"Breed":             {it.BreedDescription, "Finnish Lapphund"},
		"BirthDate":         {it.PatientBirthDate, "20190501"},
		"Responsible":       {it.ResponsiblePerson, "Mäkinen^Aino"},
		"Role":              {it.ResponsiblePersonRole, "OWNER"},
		"Modality":          {it.Modality, "DX"},
		"Station":           {it.StationAETitle, "DX1"},
		"StartDate":         {it.StartDate, "20261123"},
		"StartTime":         {it.StartTime, "143000"},
		"Accession":         {it.AccessionNumber, "4242-77"},
		"SPSID":             {it.SPSID, "SPS77"},
		"Priority":          {it.RequestedProcedurePriority, "HIGH"},
		"Exam":              {it.RequestedProcedureDescription, "X-ray Thorax, Abdomen"},
		"Requesting":        {it.RequestingPhysician, "Virtanen^Veera"},
		"Performing":        {it.PerformingPhysician, "Ojala^Olli"},
		"Status":            {it.SPSStatus, "SCHEDULED"},
		"Key":               {it.Key, "provet:4242:77"},
		"SpeciesCodeScheme": {it.SpeciesCode.Scheme, "99PROVET"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if it.PatientWeightKg != 12.5 || len(it.OtherPatientIDs) != 1 || it.OtherPatientIDs[0] != "985112000123456" {
		t.Errorf("weight/microchip: %v %v", it.PatientWeightKg, it.OtherPatientIDs)
	}
	if strings.Contains(it.RequestedProcedureComments, "late payer") || !strings.Contains(it.RequestedProcedureComments, "Coughing") {
		t.Errorf("remarks reach the device, internal notes never: %q", it.RequestedProcedureComments)
	}
	if !strings.HasPrefix(it.StudyInstanceUID, "2.25.") || len(it.StudyInstanceUID) > 64 {
		t.Errorf("study uid %q", it.StudyInstanceUID)
	}
	again := testMapping().record(o, created.Add(time.Hour)).Item
	if again.StudyInstanceUID != it.StudyInstanceUID || again.AccessionNumber != it.AccessionNumber {
		t.Error("identifiers must be stable across runs")
	}
	other := testMapping()
	other.Tenant = "us.provetcloud.com/4242"
	if other.record(o, created).Item.StudyInstanceUID == it.StudyInstanceUID {
		t.Error("another installation must get other UIDs")
	}
}

func TestMapOrderCompanyOwnerAndFallbacks(t *testing.T) {
	created := time.Date(2026, 11, 22, 9, 15, 0, 0, time.UTC)
	o := order{
		Worklist: &provet.WorklistItem{ID: 5, Status: provet.StatusInProgress, Created: created},
		Patient:  &provet.Patient{ID: 9, Name: "Running on Water", Gender: "Sterilised female"},
		Owner:    &provet.Owner{OrganizationName: "ABC Farms", CustomerType: 1, FirstName: "Contact"},
		Modality: "Laser scanner",
	}
	it := testMapping().record(o, created).Item
	if it.PatientName != "ABC Farms^Running on Water" || it.ResponsibleOrganization != "ABC Farms" || it.ResponsiblePerson != "" {
		t.Errorf("company owner: %q %q %q", it.PatientName, it.ResponsibleOrganization, it.ResponsiblePerson)
	}
	if it.PatientSex != "F" || it.PatientSexNeutered != "ALTERED" {
		t.Errorf("sex %q %q", it.PatientSex, it.PatientSexNeutered)
	}
	if it.Modality != "OT" || it.StartDate != "20261122" || it.SPSStatus != "STARTED" {
		t.Errorf("fallbacks: %q %q %q", it.Modality, it.StartDate, it.SPSStatus)
	}
	long := testMapping()
	long.ProvetID = "clinic-helsinki-east"
	if acc := long.record(o, created).Item.AccessionNumber; len(acc) > 16 {
		t.Errorf("accession %q longer than SH allows", acc)
	}
}

func TestPersonNameStripsSeparators(t *testing.T) {
	if got := personName("Smith^Jr", "A=B"); got != "Smith Jr^A B" {
		t.Errorf("got %q", got)
	}
}
