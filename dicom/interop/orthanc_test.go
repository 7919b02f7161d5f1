package interop

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// orthancPlugin is where Debian's orthanc package puts the worklist plugin.
const orthancPlugin = "/usr/share/orthanc/plugins/libModalityWorklists.so"

// `vetbridge export-wl` promises files Orthanc's worklist plugin serves
// unchanged, for a clinic moving between servers: this serves WriteFile's
// output with a real Orthanc and queries it with findscu.
func TestOrthancServesOurWLFiles(t *testing.T) {
	orthanc, err := exec.LookPath("Orthanc")
	if err != nil {
		t.Skip("Orthanc (Debian package orthanc) is not installed; `make test` installs it")
	}
	if _, err := os.Stat(orthancPlugin); err != nil {
		t.Skipf("the Orthanc worklist plugin is missing (%v); it comes with the Debian package orthanc", err)
	}
	dir := t.TempDir()
	wl := filepath.Join(dir, "worklists")
	if err := os.MkdirAll(wl, 0o755); err != nil {
		t.Fatal(err)
	}
	items := clinic()
	for i, it := range items {
		f, err := os.Create(filepath.Join(wl, fmt.Sprintf("item%d.wl", i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := worklist.WriteFile(f, it); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	dicomPort, httpPort := freeTCPPort(t), freeTCPPort(t)
	cfg := map[string]any{
		"Name": "vetbridge-interop", "StorageDirectory": filepath.Join(dir, "db"), "IndexDirectory": filepath.Join(dir, "db"),
		"DicomAet": "ORTHANC", "DicomPort": dicomPort, "HttpPort": httpPort, "RemoteAccessAllowed": false,
		"DicomCheckCalledAet": false, "DicomAlwaysAllowEcho": true, "DicomAlwaysAllowFind": true, "DicomAlwaysAllowFindWorklist": true,
		// Orthanc re-encodes worklist answers to DefaultEncoding, Latin-1
		// unless set: Greek names would arrive as "^". A clinic serving our
		// files with Orthanc sets UTF-8, as here.
		"DefaultEncoding": "Utf8",
		"Plugins":         []string{orthancPlugin}, "Worklists": map[string]any{"Enable": true, "Database": wl},
	}
	b, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "orthanc.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(orthanc, cfgPath)
	logPath := filepath.Join(dir, "orthanc.log")
	logFile, _ := os.Create(logPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		logFile.Close()
	})
	port := fmt.Sprint(dicomPort)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if out, err := run(t, "echoscu", "-aec", "ORTHANC", "127.0.0.1", port); err == nil {
			break
		} else if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("Orthanc did not answer C-ECHO: %v\n%s\n%s", err, out, log)
		}
		time.Sleep(200 * time.Millisecond)
	}

	out, err := run(t, "findscu", "-v", "-W", "-aet", "MODALITY1", "-aec", "ORTHANC",
		"-k", "ScheduledProcedureStepSequence[0].Modality=DX", "-k", "PatientName", "-k", "PatientID",
		"-k", "PatientSpeciesDescription", "-k", "PatientBreedDescription", "-k", "PatientSexNeutered",
		"-k", "ResponsiblePerson", "-k", "StudyInstanceUID", "-k", "SpecificCharacterSet",
		"127.0.0.1", port)
	if err != nil {
		log, _ := os.ReadFile(logPath)
		t.Fatalf("findscu against Orthanc: %v\n%s\n%s", err, out, log)
	}
	r := parseFindscu(out)
	var want []worklist.Item
	for _, it := range items {
		if it.Modality == "DX" {
			want = append(want, it)
		}
	}
	if len(want) == 0 || r.pending != len(want) {
		log, _ := os.ReadFile(logPath)
		t.Fatalf("Orthanc served %d DX items from our files, want %d:\n%s\n%s", r.pending, len(want), out, log)
	}
	ids := map[string]worklist.Item{}
	for _, it := range want {
		ids[it.PatientID] = it
	}
	for _, a := range r.answers {
		it, ok := ids[a.get("(0010,0020)")]
		if !ok {
			t.Errorf("unexpected patient %q", a.get("(0010,0020)"))
			continue
		}
		if it.SpeciesDescription != "" && a.get("(0010,2201)") != it.SpeciesDescription {
			t.Errorf("%s: species %q, want %q: the veterinary keys must survive the file", it.PatientID, a.get("(0010,2201)"), it.SpeciesDescription)
		}
		if it.StudyInstanceUID != "" && a.get("(0020,000D)") != it.StudyInstanceUID {
			t.Errorf("%s: study UID %q, want %q", it.PatientID, a.get("(0020,000D)"), it.StudyInstanceUID)
		}
		// The name must read back as the one in our file, in whichever
		// character set Orthanc declares.
		name := a.get("(0010,0010)")
		if cs := a.get("(0008,0005)"); strings.Contains(cs, "ISO_IR 100") {
			name = latin1ToUTF8(name)
		}
		if name != it.PatientName {
			t.Errorf("%s: patient's name %q (charset %q), want %q", it.PatientID, name, a.get("(0008,0005)"), it.PatientName)
		}
	}
}

func latin1ToUTF8(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
