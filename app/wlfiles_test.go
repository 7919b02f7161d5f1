package app

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vetbridge/vetbridge/app/records"
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
	if err := src.repo.Apply([]records.Record{{Item: it, Source: records.SourceProvet}}, nil); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "export")
	if n, err := src.ExportWL(out); err != nil || n != 1 {
		t.Fatalf("exported %d, %v", n, err)
	}
	src.Close()
	files, _ := filepath.Glob(filepath.Join(out, "*.wl"))
	if len(files) != 1 || strings.ContainsAny(filepath.Base(files[0]), ":^") {
		t.Fatalf("exported %v", files)
	}
	// The files hold owner names: private to this user, as is their directory.
	if st, err := os.Stat(files[0]); err != nil || (runtime.GOOS != "windows" && st.Mode().Perm() != 0o600) {
		t.Errorf("exported file mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	if st, err := os.Stat(out); err != nil || (runtime.GOOS != "windows" && st.Mode().Perm() != 0o700) {
		t.Errorf("export directory mode %v (%v), want 0700", st.Mode().Perm(), err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(out, "*.tmp")); len(tmp) != 0 {
		t.Errorf("temporary files left behind: %v", tmp)
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
	for _, x := range dst.repo.Index().All() {
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
	if _, _, err := dst.ImportWL(out); err != nil || dst.repo.Index().Len() != 2 {
		t.Fatalf("second import: %d items, %v", dst.repo.Index().Len(), err)
	}
}
