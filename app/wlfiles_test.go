package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// export-wl then import-wl into a fresh installation keeps every field the
// modality receives, and imported items without identifiers get stored ones.
func TestExportImportWLRoundTrip(t *testing.T) {
	src, err := Open(Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	it := worklist.Item{Key: "provet:4:1", PatientName: "Mäkinen^Pörri", PatientID: "1234", SpeciesDescription: "Dog",
		BreedDescription: "Finnish Lapphund", PatientSexNeutered: "ALTERED", ResponsiblePerson: "Mäkinen^Aino",
		AccessionNumber: "4-1", RequestedProcedureID: "RP1", SPSID: "SPS1", StudyInstanceUID: "2.25.1",
		Modality: "DX", StationAETitle: "DX1", StartDate: "20261122", StartTime: "101500", SPSDescription: "X-ray Thorax",
		RequestedProcedureDescription: "X-ray Thorax"}
	if err := src.putRecords([]record{{Item: it, Source: "provet"}}, nil); err != nil {
		t.Fatal(err)
	}
	src.Close()
	out := t.TempDir()
	var stdout strings.Builder
	env := cliEnv{stdout: &stdout, stderr: &stdout}
	if err := cmdExportWL(t.Context(), env, []string{"--data", src.dir, out}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.wl"))
	if len(files) != 1 || strings.ContainsAny(filepath.Base(files[0]), ":^") {
		t.Fatalf("exported %v", files)
	}
	// A file from another server with no identifiers at all.
	bare := worklist.Item{PatientName: "Smith^Fluffy", Modality: "US", StartDate: "20261122"}
	f, _ := os.Create(filepath.Join(out, "bare.wl"))
	if err := worklist.WriteFile(f, bare); err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.WriteFile(filepath.Join(out, "junk.wl"), []byte("not dicom"), 0o644)

	dst, err := Open(Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	n, bad, err := dst.ImportWL(out)
	if err != nil || n != 2 || bad != 1 {
		t.Fatalf("imported %d, bad %d, err %v", n, bad, err)
	}
	var got, gotBare worklist.Item
	for _, x := range dst.index.All() {
		switch x.PatientName {
		case it.PatientName:
			got = x
		case bare.PatientName:
			gotBare = x
		}
	}
	for name, pair := range map[string][2]string{
		"name": {got.PatientName, it.PatientName}, "breed": {got.BreedDescription, it.BreedDescription},
		"neutered": {got.PatientSexNeutered, it.PatientSexNeutered}, "study": {got.StudyInstanceUID, it.StudyInstanceUID},
		"sps": {got.SPSID, it.SPSID}, "station": {got.StationAETitle, it.StationAETitle},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s: %q after the round trip, want %q", name, pair[0], pair[1])
		}
	}
	if gotBare.StudyInstanceUID == "" || gotBare.SPSID == "" || gotBare.RequestedProcedureID == "" || gotBare.PatientID == "" {
		t.Errorf("imported item without stored identifiers: %+v", gotBare)
	}
	// Importing again replaces rather than duplicates.
	if _, _, err := dst.ImportWL(out); err != nil || dst.index.Len() != 2 {
		t.Fatalf("second import: %d items, %v", dst.index.Len(), err)
	}
}
