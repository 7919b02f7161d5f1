package scu_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/dicom/scu"
)

// startDCMQRSCP runs DCMTK's Query/Retrieve server on a loopback port under
// the AE title "PACS", stores the given dump2dcm texts into it with
// storescu, and returns its address. dcmqrscp returns none of the optional
// count attributes, so it is the real peer for the counting fallback.
func startDCMQRSCP(t *testing.T, dumps []string) string {
	t.Helper()
	bin := needBinary(t, "dcmqrscp")
	dump2dcm, storescu := needBinary(t, "dump2dcm"), needBinary(t, "storescu")
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.MkdirAll(db, 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := fmt.Sprintf("NetworkTCPPort = %d\nMaxPDUSize = 16384\nMaxAssociations = 4\nHostTable BEGIN\nHostTable END\n"+
		"VendorTable BEGIN\nVendorTable END\nAETable BEGIN\nPACS %s RW (100, 64mb) ANY\nAETable END\n", port, db)
	cfgPath := filepath.Join(dir, "dcmqrscp.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", cfgPath)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("dcmqrscp output:\n%s", out.String())
		}
	})
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-deadline:
			t.Fatalf("dcmqrscp did not start listening on %s: %v", addr, err)
		case <-tick.C:
		}
	}
	var files []string
	for i, d := range dumps {
		txt, f := filepath.Join(dir, fmt.Sprintf("%d.dump", i)), filepath.Join(dir, fmt.Sprintf("%d.dcm", i))
		if err := os.WriteFile(txt, []byte(d), 0o600); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command(dump2dcm, "+te", txt, f).CombinedOutput(); err != nil {
			t.Fatalf("dump2dcm: %v\n%s", err, b)
		}
		files = append(files, f)
	}
	args := append([]string{"-aet", "VETBRIDGE", "-aec", "PACS", "127.0.0.1", fmt.Sprint(port)}, files...)
	if b, err := exec.Command(storescu, args...).CombinedOutput(); err != nil {
		t.Fatalf("storescu: %v\n%s", err, b)
	}
	return addr
}

// imageDump is a 2x2 secondary capture image as dump2dcm text.
func imageDump(study, acc, patientID, name, modality string, series, n int) string {
	return fmt.Sprintf(`(0008,0005) CS [ISO_IR 192]
(0008,0016) UI =SecondaryCaptureImageStorage
(0008,0018) UI [%[1]s.%[6]d.%[7]d]
(0008,0020) DA [20261120]
(0008,0030) TM [104200]
(0008,0050) SH [%[2]s]
(0008,0060) CS [%[5]s]
(0010,0010) PN [%[4]s]
(0010,0020) LO [%[3]s]
(0020,000d) UI [%[1]s]
(0020,000e) UI [%[1]s.%[6]d]
(0020,0011) IS [%[6]d]
(0020,0013) IS [%[7]d]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0010) US 2
(0028,0011) US 2
(0028,0100) US 8
(0028,0101) US 8
(0028,0102) US 7
(0028,0103) US 0
(7fe0,0010) OB 00\01\02\03
`, study, acc, patientID, name, modality, series, n)
}

// Against a PACS that returns no counts at any level, FindStudies counts
// series and images itself, and gathers the modalities from the series.
func TestFindStudiesAgainstDCMQRSCP(t *testing.T) {
	const study = "1.2.826.0.1.3680043.10.2.1"
	var dumps []string
	for i := 1; i <= 3; i++ {
		dumps = append(dumps, imageDump(study, "ACC-1001", "PAT-1", "Mäkinen^Rex", "DX", 1, i))
	}
	for i := 1; i <= 2; i++ {
		dumps = append(dumps, imageDump(study, "ACC-1001", "PAT-1", "Mäkinen^Rex", "CR", 2, i))
	}
	dumps = append(dumps, imageDump("1.2.826.0.1.3680043.10.2.2", "WALKIN-7", "PAT-9", "Smith^Bella", "US", 1, 1))
	addr := startDCMQRSCP(t, dumps)
	a, err := scu.Dial(context.Background(), addr, scu.Options{CalledAE: "PACS", Contexts: scu.QueryContexts(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release(context.Background())
	start := time.Now()
	got, err := a.FindStudies(context.Background(), scu.StudyQuery{AccessionNumber: "ACC-1001", StudyDate: "20261120"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("one study counted at IMAGE level in %v", time.Since(start))
	want := []scu.Study{{StudyInstanceUID: study, AccessionNumber: "ACC-1001", PatientID: "PAT-1", PatientName: "Mäkinen^Rex",
		StudyDate: "20261120", StudyTime: "104200", Modalities: []string{"CR", "DX"}, Series: 2, Instances: 5, CountedAt: scu.CountedByImage}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	all, err := a.FindStudies(context.Background(), scu.StudyQuery{StudyDate: "20261120"})
	if err != nil || len(all) != 2 {
		t.Fatalf("the day's studies: %+v, %v", all, err)
	}
}
