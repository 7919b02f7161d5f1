package walkin

import (
	"strings"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/settings"
)

// A walk-in's worklist item: Provet's patient id, the station of the
// modality table's row, the owner as the responsible person (an
// organisation as the responsible organisation), names that cannot break
// the person-name form, and identifiers DICOM accepts.
func TestRecord(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 42, 5, 0, time.Local)
	w := 12.5
	p := &provet.Patient{ID: 77, Name: "Rex^2", Species: "Dog", Gender: "Castrated male", Microchip: " 985 ",
		DateOfBirth: time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC), Weight: &w}
	cfg := settings.Default()
	rec, err := record(cfg, now, p, &provet.Owner{FirstName: "Anna", LastName: "Mäkinen"}, Exam{Modality: "x-ray", Exam: strings.Repeat("é", 70)})
	if err != nil {
		t.Fatal(err)
	}
	it := rec.Item
	if it.PatientID != "77" || it.Modality != "DX" || it.StationAETitle != "DX1" || it.PatientSex != "M" ||
		it.PatientBirthDate != "20200301" || it.PatientWeightKg != 12.5 || len(it.OtherPatientIDs) != 1 || it.OtherPatientIDs[0] != "985" {
		t.Errorf("item %+v", it)
	}
	if it.PatientName != "Mäkinen^Rex 2" || it.ResponsiblePerson != "Mäkinen^Anna" || it.ResponsiblePersonRole != "OWNER" {
		t.Errorf("names %q %q %q", it.PatientName, it.ResponsiblePerson, it.ResponsiblePersonRole)
	}
	if len([]rune(it.SPSDescription)) != 64 || it.StartDate != "20261120" || it.StartTime != "104205" {
		t.Errorf("description %d runes, start %s %s", len([]rune(it.SPSDescription)), it.StartDate, it.StartTime)
	}
	if len(it.AccessionNumber) > 16 || !strings.HasPrefix(it.AccessionNumber, "W261120104205") ||
		!strings.HasPrefix(it.StudyInstanceUID, "2.25.") || len(it.StudyInstanceUID) > 64 || it.Key != "walkin:"+it.AccessionNumber {
		t.Errorf("identifiers %q %q %q", it.Key, it.AccessionNumber, it.StudyInstanceUID)
	}

	cfg.PatientName = "pet"
	rec, err = record(cfg, now, p, &provet.Owner{CustomerType: 1, OrganizationName: "Farm Oy"}, Exam{Modality: "mr"})
	if err != nil {
		t.Fatal(err)
	}
	if it := rec.Item; it.PatientName != "Rex 2" || it.ResponsibleOrganization != "Farm Oy" || it.ResponsiblePerson != "" ||
		it.Modality != "MR" || it.StationAETitle != "" || rec.Exam != "Walk-in MR" {
		t.Errorf("organisation, pet name, unmapped modality: %+v %q", it, rec.Exam)
	}
}
