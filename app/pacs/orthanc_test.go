package pacs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/pacs"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const dicomWebPlugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"

// orthanc is a real Orthanc serving DICOM and DICOMweb on loopback.
type orthanc struct {
	cmd                 *exec.Cmd
	exited              chan error
	stopped             bool
	dicomPort, httpPort int
	log                 string
}

// stop kills Orthanc and waits for it to exit.
func (o *orthanc) stop() {
	if o.stopped {
		return
	}
	o.stopped = true
	_ = o.cmd.Process.Kill()
	<-o.exited
}

// ourAE is the calling AE title Orthanc knows as a modality allowed to query.
const ourAE = "VETBRIDGE"

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian packages orthanc, orthanc-dicomweb, dcmtk): these tests need the real PACS and DCMTK", name)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startOrthanc runs Orthanc with the DICOMweb plugin and storage in a
// temporary directory, and waits until its REST API answers /system.
func startOrthanc(t *testing.T) *orthanc {
	t.Helper()
	bin := needTool(t, "Orthanc")
	if _, err := os.Stat(dicomWebPlugin); err != nil {
		t.Skipf("the Orthanc DICOMweb plugin is missing (%v); install the Debian package orthanc-dicomweb", err)
	}
	dir := t.TempDir()
	o := &orthanc{dicomPort: freePort(t), httpPort: freePort(t), log: filepath.Join(dir, "orthanc.log")}
	cfg := map[string]any{
		"Name": "vetbridge-pacs-test", "StorageDirectory": filepath.Join(dir, "db"), "IndexDirectory": filepath.Join(dir, "db"),
		"DicomAet": "ORTHANC", "DicomPort": o.dicomPort, "HttpPort": o.httpPort,
		"RemoteAccessAllowed": false, "AuthenticationEnabled": false, "DicomCheckCalledAet": true,
		"Plugins":              []string{dicomWebPlugin},
		"DicomWeb":             map[string]any{"Enable": true, "Root": "/dicom-web/"},
		"DicomModalities":      map[string]any{"vetbridge": []any{ourAE, "127.0.0.1", 104}},
		"DicomAlwaysAllowFind": false, "DicomAlwaysAllowEcho": true,
	}
	b, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "orthanc.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(o.log)
	if err != nil {
		t.Fatal(err)
	}
	o.cmd = exec.Command(bin, cfgPath)
	o.cmd.Stdout, o.cmd.Stderr = logFile, logFile
	if err := o.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	o.exited = make(chan error, 1)
	go func() { o.exited <- o.cmd.Wait() }()
	t.Cleanup(func() {
		o.stop()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(o.log)
			t.Logf("Orthanc log:\n%s", b)
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d/system", o.httpPort)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return o
			}
		}
		select {
		case err := <-o.exited:
			o.exited <- err
			b, _ := os.ReadFile(o.log)
			t.Fatalf("Orthanc exited before answering /system: %v\n%s", err, b)
		case <-deadline:
			t.Fatalf("Orthanc did not answer %s within 30 s", url)
		case <-tick.C:
		}
	}
}

// instance is one image to store: which study and series it belongs to.
type instance struct {
	study, series, sop           string
	accession, patientID, name   string
	date, time, modality         string
	seriesNumber, instanceNumber int
}

// dump is the instance as dump2dcm text: a tiny 2x2 secondary capture.
func (in instance) dump() string {
	return fmt.Sprintf(`(0008,0005) CS [ISO_IR 192]
(0008,0016) UI =SecondaryCaptureImageStorage
(0008,0018) UI [%s]
(0008,0020) DA [%s]
(0008,0030) TM [%s]
(0008,0050) SH [%s]
(0008,0060) CS [%s]
(0010,0010) PN [%s]
(0010,0020) LO [%s]
(0020,000d) UI [%s]
(0020,000e) UI [%s]
(0020,0011) IS [%d]
(0020,0013) IS [%d]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0010) US 2
(0028,0011) US 2
(0028,0100) US 8
(0028,0101) US 8
(0028,0102) US 7
(0028,0103) US 0
(7fe0,0010) OB 00\01\02\03
`, in.sop, in.date, in.time, in.accession, in.modality, in.name, in.patientID, in.study, in.series, in.seriesNumber, in.instanceNumber)
}

// store writes the instances with dump2dcm and sends them with storescu.
func (o *orthanc) store(t *testing.T, ins []instance) {
	t.Helper()
	dump2dcm, storescu := needTool(t, "dump2dcm"), needTool(t, "storescu")
	dir := t.TempDir()
	var files []string
	for i, in := range ins {
		d := filepath.Join(dir, fmt.Sprintf("i%d.dump", i))
		f := filepath.Join(dir, fmt.Sprintf("i%d.dcm", i))
		if err := os.WriteFile(d, []byte(in.dump()), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(dump2dcm, "+te", d, f).CombinedOutput(); err != nil {
			t.Fatalf("dump2dcm: %v\n%s", err, out)
		}
		files = append(files, f)
	}
	args := append([]string{"-aet", ourAE, "-aec", "ORTHANC", "127.0.0.1", fmt.Sprint(o.dicomPort)}, files...)
	if out, err := exec.Command(storescu, args...).CombinedOutput(); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}
}

// The exam day of the fixture, in the clinic's zone.
var examDay = time.Date(2026, 11, 20, 9, 0, 0, 0, time.Local)

const (
	refStudy     = "1.2.826.0.1.3680043.10.1.1"
	unknownStudy = "1.2.826.0.1.3680043.10.1.2"
)

// fixture: the referral's study with two series (3 + 2 images), and a study
// whose accession no referral knows (1 series, 2 images).
func fixture() []instance {
	var ins []instance
	add := func(study, acc, pid, name string, series, n int, modality string) {
		for i := 1; i <= n; i++ {
			ins = append(ins, instance{
				study: study, series: fmt.Sprintf("%s.%d", study, series), sop: fmt.Sprintf("%s.%d.%d", study, series, i),
				accession: acc, patientID: pid, name: name, date: "20261120", time: "104200", modality: modality,
				seriesNumber: series, instanceNumber: i,
			})
		}
	}
	add(refStudy, "ACC-1001", "PAT-1", "Mäkinen^Rex", 1, 3, "DX")
	add(refStudy, "ACC-1001", "PAT-1", "Mäkinen^Rex", 2, 2, "DX")
	add(unknownStudy, "WALKIN-7", "PAT-9", "Smith^Bella", 1, 2, "CR")
	return ins
}

func clients(t *testing.T, o *orthanc) map[string]pacs.Client {
	t.Helper()
	out := map[string]pacs.Client{}
	for name, cfg := range map[string]pacs.Config{
		"DICOM":   {AETitle: "ORTHANC", Host: "127.0.0.1", Port: o.dicomPort},
		"QIDO-RS": {QIDOURL: fmt.Sprintf("http://127.0.0.1:%d/dicom-web/", o.httpPort)},
	} {
		c, err := pacs.New(cfg, pacs.Options{CallingAE: ourAE, Timeout: 10 * time.Second, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		out[name] = c
	}
	return out
}

func TestOrthanc(t *testing.T) {
	o := startOrthanc(t)
	o.store(t, fixture())
	ctx := context.Background()
	referral := pacs.Referral{Key: "r1", Accession: "ACC-1001", PatientID: "PAT-1", Date: examDay}
	for name, c := range clients(t, o) {
		t.Run(name, func(t *testing.T) {
			if err := c.Ping(ctx); err != nil {
				t.Fatalf("ping: %v", err)
			}
			start := time.Now()
			m, err := pacs.Matcher{Client: c}.Match(ctx, referral)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: match by accession took %v", name, time.Since(start))
			if m.By != pacs.ByAccession || len(m.Studies) != 1 {
				t.Fatalf("match %+v", m)
			}
			s := m.Studies[0]
			want := pacs.Study{UID: refStudy, Accession: "ACC-1001", PatientID: "PAT-1", PatientName: "Mäkinen^Rex",
				Date: "20261120", Time: "104200", Modalities: []string{"DX"}, Series: 2, Instances: 5}
			if fmt.Sprint(s) != fmt.Sprint(want) {
				t.Errorf("study\n got %+v\nwant %+v", s, want)
			}
			// The study UID alone finds it too, when the accession is unknown.
			m, err = pacs.Matcher{Client: c}.Match(ctx, pacs.Referral{Accession: "NOPE", StudyUID: refStudy})
			if err != nil || m.By != pacs.ByStudyUID || len(m.Studies) != 1 || m.Instances() != 5 {
				t.Errorf("by study UID: %+v, %v", m, err)
			}
			m, err = pacs.Matcher{Client: c}.Match(ctx, pacs.Referral{PatientID: "PAT-9", Date: examDay})
			if err != nil || m.By != pacs.ByPatientAndDate || len(m.Studies) != 1 || m.Series() != 1 || m.Instances() != 2 {
				t.Errorf("by patient and date: %+v, %v", m, err)
			}
			start = time.Now()
			day, err := pacs.Matcher{Client: c}.Day(ctx, examDay, []pacs.Referral{referral})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: the day's studies took %v", name, time.Since(start))
			if len(day.Matches) != 1 || day.Matches[0].Instances() != 5 || day.Matches[0].Series() != 2 {
				t.Errorf("day matches %+v", day.Matches)
			}
			if len(day.Unmatched) != 1 || day.Unmatched[0].Accession != "WALKIN-7" || day.Unmatched[0].Instances != 2 ||
				day.Unmatched[0].PatientName != "Smith^Bella" || strings.Join(day.Unmatched[0].Modalities, ",") != "CR" {
				t.Errorf("unmatched %+v", day.Unmatched)
			}
			other, err := c.Studies(ctx, pacs.Day(examDay.AddDate(0, 0, 1)))
			if err != nil || len(other) != 0 {
				t.Errorf("next day: %+v, %v", other, err)
			}
		})
	}
	t.Run("wrong AE titles", func(t *testing.T) {
		for _, tc := range []struct {
			called, calling, want string
		}{
			{"NOT-ORTHANC", ourAE, "refused the association: check its AE title"},
			{"ORTHANC", "STRANGER", "STRANGER"},
		} {
			c, err := pacs.New(pacs.Config{AETitle: tc.called, Host: "127.0.0.1", Port: o.dicomPort}, pacs.Options{CallingAE: tc.calling, Timeout: 10 * time.Second, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Studies(ctx, pacs.Day(examDay))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("called %s, calling %s: %v", tc.called, tc.calling, err)
			}
			// Orthanc answers C-ECHO from anyone; the Test button must
			// still find out that queries are refused.
			perr := c.Ping(ctx)
			if perr == nil || !strings.Contains(perr.Error(), tc.want) {
				t.Errorf("ping, called %s, calling %s: %v", tc.called, tc.calling, perr)
			}
			t.Logf("called %s, calling %s: %v; ping: %v", tc.called, tc.calling, err, perr)
		}
	})
}

// Stopping the PACS makes Ping and Studies fail in words, and the poller
// report the outage and back off, timer by timer; the last good round stays
// the last one reported.
func TestOrthancGoingDown(t *testing.T) {
	o := startOrthanc(t)
	o.store(t, fixture())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := clients(t, o)

	clock := newFakeClock(examDay)
	rounds := make(chan pacs.Round, 8)
	states := make(chan pacs.State, 8)
	p := pacs.NewPoller(pacs.PollerConfig{
		Client:    cs["DICOM"],
		Referrals: func() []pacs.Referral { return []pacs.Referral{{Key: "r1", Accession: "ACC-1001", Date: examDay}} },
		Report:    func(r pacs.Round) { rounds <- r },
		OnState:   func(s pacs.State) { states <- s },
		Interval:  time.Minute, Gap: time.Second, MinBackoff: 10 * time.Second, MaxBackoff: 30 * time.Second,
		Clock: clock, Logger: quiet,
	})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	r := <-rounds
	if len(r.Matches) != 1 || r.Matches[0].Instances() != 5 || len(r.Unmatched) != 1 || r.Unmatched[0].Accession != "WALKIN-7" {
		t.Fatalf("first round %+v", r)
	}
	if d := <-clock.created; d != time.Minute {
		t.Fatalf("after a good round the poller waits %v, want the interval", d)
	}

	o.stop()
	for name, c := range cs {
		if err := c.Ping(ctx); err == nil || !strings.Contains(err.Error(), "cannot connect to the PACS") {
			t.Errorf("%s ping with the PACS down: %v", name, err)
		}
		if _, err := c.Studies(ctx, pacs.Day(examDay)); err == nil || !strings.Contains(err.Error(), "check host and port") &&
			!strings.Contains(err.Error(), "check qido_url") {
			t.Errorf("%s studies with the PACS down: %v", name, err)
		}
	}

	downAt := examDay.Add(time.Minute)
	clock.Advance(time.Minute)
	s := <-states
	if s.Up || !s.DownSince.Equal(downAt) || !strings.Contains(s.String(), "PACS unreachable since "+downAt.Format("15:04")) {
		t.Fatalf("state after the failed round: %+v (%s)", s, s)
	}
	t.Log(s.String())
	for _, want := range []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 30 * time.Second} {
		d := <-clock.created
		if d != want {
			t.Fatalf("backoff %v, want %v", d, want)
		}
		p.Kick() // the detail pane opening must not bypass the backoff
		clock.Advance(d)
		s := <-states
		if s.Up || !s.DownSince.Equal(downAt) {
			t.Fatalf("state %+v", s)
		}
	}
	select {
	case r := <-rounds:
		t.Fatalf("a round was reported while the PACS was down: %+v", r)
	default:
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run returned %v", err)
	}
}
