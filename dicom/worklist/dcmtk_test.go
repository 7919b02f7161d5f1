package worklist

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// needTool skips only when a DCMTK binary is missing; CI installs dcmtk.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian package dcmtk); skipping the real-peer test", name)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Files written by WriteFile are valid DICOM to dcmdump and carry (0008,0005).
func TestWriteFileDCMDump(t *testing.T) {
	dcmdump := needTool(t, "dcmdump")
	it := baseItem()
	path := filepath.Join(t.TempDir(), "item.wl")
	var buf bytes.Buffer
	if err := WriteFile(&buf, it); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(dcmdump, "-E", path).CombinedOutput()
	if err != nil {
		t.Fatalf("dcmdump: %v\n%s", err, out)
	}
	for _, want := range []string{"(0008,0005) CS [ISO_IR 100]", "M\xe4kinen^P\xf6rri", "(0010,2201) LO [Dog]", "(0010,2203) CS [ALTERED]",
		"(0002,0010) UI =LittleEndianExplicit", "(0040,0100) SQ", "(0040,0001) AE [DX1]", "(0010,1002) SQ"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("dcmdump output lacks %q:\n%s", want, out)
		}
	}
}

// WriteFile output served unchanged by DCMTK wlmscpfs, queried with findscu.
func TestWlmscpfsServesWrittenFiles(t *testing.T) {
	wlmscpfs := needTool(t, "wlmscpfs")
	findscu := needTool(t, "findscu")
	dir := t.TempDir()
	aeDir := filepath.Join(dir, "VETBRIDGE")
	if err := os.MkdirAll(aeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(aeDir, "lockfile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	items := clinicItems()
	items[1].PatientName = "Smith^Rex"
	items[2].PatientName = "Иванов^Шарик" // does not fit Latin-1: the file is UTF-8
	for i, it := range items {
		var buf bytes.Buffer
		if err := WriteFile(&buf, it); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(aeDir, fmt.Sprintf("item%d.wl", i)), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	srv := exec.CommandContext(ctx, wlmscpfs, "-dfp", dir, fmt.Sprint(port))
	var srvOut bytes.Buffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = srv.Wait()
		if t.Failed() {
			t.Logf("wlmscpfs output:\n%s", srvOut.String())
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("wlmscpfs did not listen: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	query := func(t *testing.T, keys ...string) []Item {
		t.Helper()
		od := t.TempDir()
		args := []string{"-W", "-aet", "TESTSCU", "-aec", "VETBRIDGE", "-X", "-od", od}
		for _, k := range keys {
			args = append(args, "-k", k)
		}
		args = append(args, "127.0.0.1", fmt.Sprint(port))
		out, err := exec.Command(findscu, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("findscu: %v\n%s", err, out)
		}
		files, _ := filepath.Glob(filepath.Join(od, "rsp*.dcm"))
		sort.Strings(files)
		var got []Item
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			it, err := ReadFile(fh)
			fh.Close()
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			got = append(got, it)
		}
		return got
	}
	common := []string{"PatientName", "PatientID", "AccessionNumber", "StudyInstanceUID", "RequestedProcedureID",
		"(0040,0100)[0].ScheduledStationAETitle", "(0040,0100)[0].ScheduledProcedureStepStartDate",
		"(0040,0100)[0].ScheduledProcedureStepStatus", "(0040,0100)[0].ScheduledProcedureStepID"}

	t.Run("by modality", func(t *testing.T) {
		got := query(t, append(common, "(0040,0100)[0].Modality=DX")...)
		if len(got) != 4 {
			t.Fatalf("got %d DX items, want 4", len(got))
		}
		names := map[string]int{}
		for _, it := range got {
			names[it.PatientName]++
			if it.Modality != "DX" || it.AccessionNumber != "ACC20261122001" || it.SPSID != "SPS1001" {
				t.Errorf("answer %+v", it)
			}
		}
		if names["Mäkinen^Pörri"] != 3 || names["Иванов^Шарик"] != 1 {
			t.Errorf("names through wlmscpfs: %v", names)
		}
	})
	t.Run("by station and date", func(t *testing.T) {
		got := query(t, append(common, "(0040,0100)[0].Modality", "(0040,0100)[0].ScheduledStationAETitle=US1",
			"(0040,0100)[0].ScheduledProcedureStepStartDate=20261122")...)
		if len(got) != 1 || got[0].PatientName != "Smith^Rex" || got[0].StationAETitle != "US1" {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("by date range", func(t *testing.T) {
		got := query(t, append(common, "(0040,0100)[0].ScheduledProcedureStepStartDate=20261123-20261130")...)
		if len(got) != 2 {
			t.Fatalf("got %d items, want tomorrow's and next week's", len(got))
		}
	})
}

// The same files and queries give the same answers from our index as from
// wlmscpfs, on the keys both support.
func TestDCMTKExampleQueriesAgainstIndex(t *testing.T) {
	files, _ := filepath.Glob("testdata/wlistqry/*.te.dcm")
	x := NewIndex()
	_ = x.Put(clinicItems()...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		q := mustDecode(t, b, false, false)
		for _, it := range indexMatch(x, q) {
			if _, err := encode(it, q, CharsetAuto, false, false); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}

// The committed seeds are what dump2dcm makes of DCMTK's example queries; this
// regenerates them so the test data cannot drift from the real thing.
func TestDCMTKExampleQueriesFresh(t *testing.T) {
	dump2dcm := needTool(t, "dump2dcm")
	dumps, _ := filepath.Glob("/usr/share/doc/dcmtk/examples/wlistqry/*.dump")
	if len(dumps) == 0 {
		t.Skip("DCMTK example queries not installed (/usr/share/doc/dcmtk/examples/wlistqry)")
	}
	dir := t.TempDir()
	for _, d := range dumps {
		base := strings.TrimSuffix(filepath.Base(d), ".dump")
		for _, s := range []struct{ flag, ext string }{{"+ti", ".ti.dcm"}, {"+te", ".te.dcm"}, {"+tb", ".tb.dcm"}} {
			out := filepath.Join(dir, base+s.ext)
			if msg, err := exec.Command(dump2dcm, "-q", "-F", s.flag, d, out).CombinedOutput(); err != nil {
				t.Fatalf("dump2dcm %s: %v\n%s", d, err, msg)
			}
			fresh, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			q := mustDecode(t, fresh, s.ext == ".tb.dcm", s.ext == ".ti.dcm")
			committed, err := os.ReadFile(filepath.Join("testdata/wlistqry", base+s.ext))
			if err != nil {
				t.Fatal(err)
			}
			if qc := mustDecode(t, committed, s.ext == ".tb.dcm", s.ext == ".ti.dcm"); !reflect.DeepEqual(q, qc) {
				t.Errorf("%s%s: committed seed decodes differently from a fresh dump2dcm", base, s.ext)
			}
		}
	}
}

// dcmdump reads every answer Encode makes, in each transfer syntax.
func TestEncodedAnswersReadByDCMDump(t *testing.T) {
	dcmdump := needTool(t, "dcmdump")
	it := baseItem()
	it.PatientName = "Иванов^Шарик"
	q := Query{SPS: true, Keys: []Key{key(tagPatientName, false, ""), key(tagStudyInstanceUID, false, ""),
		key(0x00102202, false, ""), key(0x00081110, false, ""), key(0x00101030, false, "")}}
	for _, s := range []struct {
		name, flag          string
		bigEndian, implicit bool
	}{{"implicit", "-ti", false, true}, {"explicit", "-te", false, false}, {"big", "-tb", true, false}} {
		b, err := encode(it, q, CharsetAuto, s.bigEndian, s.implicit)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "answer.dcm")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(dcmdump, "-f", s.flag, "-E", path).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: dcmdump: %v\n%s", s.name, err, out)
		}
		for _, want := range []string{"(0008,0005) CS [ISO_IR 192]", "Иванов^Шарик", "(0010,1030) DS [12.5]",
			"(0020,000d) UI [1.2.826.0.1.3680043.2.1143.1]", "(0008,0100) SH [448771007]", "(0040,0002) DA [20261122]"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s: dcmdump output lacks %q:\n%s", s.name, want, out)
			}
		}
		if strings.Contains(string(out), "E: ") || strings.Contains(string(out), "W: ") {
			t.Errorf("%s: dcmdump complains:\n%s", s.name, out)
		}
	}
}
