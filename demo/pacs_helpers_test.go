package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/app/pacs"
	"github.com/vetbridge/vetbridge/app/provetsim"
)

const orthancDICOMWeb = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"

// orthanc is a real Orthanc PACS on loopback, DICOM and DICOMweb.
type orthanc struct {
	cmd                 *exec.Cmd
	exited              chan error
	once                sync.Once
	dicomPort, httpPort int
}

func (o *orthanc) stop() {
	o.once.Do(func() {
		_ = o.cmd.Process.Kill()
		<-o.exited
	})
}

// config is the PACS section of config.json for the protocol.
func (o *orthanc) config(protocol string) pacs.Config {
	if protocol == "QIDO-RS" {
		return pacs.Config{QIDOURL: fmt.Sprintf("http://127.0.0.1:%d/dicom-web/", o.httpPort)}
	}
	return pacs.Config{AETitle: "ORTHANC", Host: "127.0.0.1", Port: o.dicomPort}
}

// startOrthanc runs Orthanc with storage in a temporary directory; it
// knows VETBRIDGE (the demo's AE title) as a modality that may query.
func startOrthanc(t *testing.T) *orthanc {
	t.Helper()
	bin, err := exec.LookPath("Orthanc")
	if err != nil {
		t.Skip("Orthanc is not installed (Debian packages orthanc, orthanc-dicomweb): these tests need the real PACS")
	}
	if _, err := os.Stat(orthancDICOMWeb); err != nil {
		t.Skipf("the Orthanc DICOMweb plugin is missing (%v); install orthanc-dicomweb", err)
	}
	needDCMTK(t, "storescu", "dump2dcm")
	dir := t.TempDir()
	o := &orthanc{dicomPort: freePort(t), httpPort: freePort(t), exited: make(chan error, 1)}
	cfg := map[string]any{
		"Name": "vetbridge-demo-pacs", "StorageDirectory": filepath.Join(dir, "db"), "IndexDirectory": filepath.Join(dir, "db"),
		"DicomAet": "ORTHANC", "DicomPort": o.dicomPort, "HttpPort": o.httpPort,
		"RemoteAccessAllowed": false, "AuthenticationEnabled": false, "DicomCheckCalledAet": true,
		"Plugins":              []string{orthancDICOMWeb},
		"DicomWeb":             map[string]any{"Enable": true, "Root": "/dicom-web/"},
		"DicomModalities":      map[string]any{"vetbridge": []any{"VETBRIDGE", "127.0.0.1", 104}},
		"DicomAlwaysAllowFind": false, "DicomAlwaysAllowEcho": true,
	}
	b, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "orthanc.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	o.cmd = exec.Command(bin, cfgPath)
	o.cmd.Stdout, o.cmd.Stderr = &logBuf, &logBuf
	if err := o.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { o.exited <- o.cmd.Wait() }()
	t.Cleanup(o.stop)
	url := fmt.Sprintf("http://127.0.0.1:%d/system", o.httpPort)
	deadline := time.Now().Add(30 * time.Second)
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
			t.Fatalf("Orthanc exited before answering: %v\n%s", err, logBuf.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("Orthanc did not answer %s within 30 s", url)
		}
	}
}

// image is one instance to store in the PACS.
type image struct {
	study, accession, patientID, name, date, modality string
	series, number                                    int
}

func (im image) dump() string {
	return fmt.Sprintf(`(0008,0005) CS [ISO_IR 192]
(0008,0016) UI =SecondaryCaptureImageStorage
(0008,0018) UI [%[1]s.%[7]d.%[8]d]
(0008,0020) DA [%[5]s]
(0008,0030) TM [104200]
(0008,0050) SH [%[2]s]
(0008,0060) CS [%[6]s]
(0010,0010) PN [%[4]s]
(0010,0020) LO [%[3]s]
(0020,000d) UI [%[1]s]
(0020,000e) UI [%[1]s.%[7]d]
(0020,0011) IS [%[7]d]
(0020,0013) IS [%[8]d]
(0028,0002) US 1
(0028,0004) CS [MONOCHROME2]
(0028,0010) US 2
(0028,0011) US 2
(0028,0100) US 8
(0028,0101) US 8
(0028,0102) US 7
(0028,0103) US 0
(7fe0,0010) OB 00\01\02\03
`, im.study, im.accession, im.patientID, im.name, im.date, im.modality, im.series, im.number)
}

// study is n images per series of one study.
func study(uid, accession, patientID, modality string, perSeries ...int) []image {
	var out []image
	for s, n := range perSeries {
		for i := 1; i <= n; i++ {
			out = append(out, image{study: uid, accession: accession, patientID: patientID, name: "Test^Animal",
				date: time.Now().Format("20060102"), modality: modality, series: s + 1, number: i})
		}
	}
	return out
}

// store sends the images with DCMTK's storescu, as a modality does.
func (o *orthanc) store(t *testing.T, ims []image) {
	t.Helper()
	dir := t.TempDir()
	var files []string
	for i, im := range ims {
		d, f := filepath.Join(dir, fmt.Sprintf("%d.dump", i)), filepath.Join(dir, fmt.Sprintf("%d.dcm", i))
		if err := os.WriteFile(d, []byte(im.dump()), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("dump2dcm", "+te", d, f).CombinedOutput(); err != nil {
			t.Fatalf("dump2dcm: %v\n%s", err, out)
		}
		files = append(files, f)
	}
	args := append([]string{"-aet", "DX1", "-aec", "ORTHANC", "127.0.0.1", fmt.Sprint(o.dicomPort)}, files...)
	if out, err := exec.Command("storescu", args...).CombinedOutput(); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}
}

// pacsDemo is the demo app with a PACS, whose run the test controls.
type pacsDemo struct {
	*Demo
	dir  string
	port int
	// shutdown stops Run and RunPACS and closes the app and the simulator,
	// so that a command opens the data directory directly.
	shutdown func()
}

// startPACSDemo runs the demo; clock (nil: real time) drives the poller
// and completion by images. The PACS is configured afterwards, as in
// Settings, with setPACS.
func startPACSDemo(t *testing.T, clock pacs.Clock, configure func(*app.Config)) *pacsDemo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir, port := t.TempDir(), freePort(t)
	var logger *slog.Logger
	if os.Getenv("VETBRIDGE_TEST_LOG") != "" {
		logger = app.NewLogger(os.Stderr, true)
	}
	d, err := Start(ctx, Options{
		DataDir: dir, Referrals: 3, Seed: 11, DICOMPort: port, Logger: logger, Notifier: &recordingNotifier{},
		Configure: func(c *app.Config) {
			c.PollInterval = app.Duration(200 * time.Millisecond)
			if configure != nil {
				configure(c)
			}
		},
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if clock != nil {
		d.App.SetPACSClock(clock)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	// Run's supervisor runs the PACS poller with the other services.
	go func() { defer wg.Done(); _ = d.App.Run(ctx) }()
	shutdown := sync.OnceFunc(func() {
		cancel()
		wg.Wait()
		d.Close()
	})
	t.Cleanup(shutdown)
	waitFor(t, 10*time.Second, "the first sync", func() bool { return !d.App.Status().LastSync.IsZero() })
	return &pacsDemo{Demo: d, dir: dir, port: port, shutdown: shutdown}
}

// setPACS saves the PACS connection as Settings does.
func (p *pacsDemo) setPACS(t *testing.T, pc pacs.Config) {
	t.Helper()
	cfg := p.App.Config()
	cfg.PACS = pc
	if err := p.App.SaveConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
}

// referralToday makes Provet hold a new X-ray or ultrasound order for now
// and waits until it is on the worklist.
func (p *pacsDemo) referralToday(t *testing.T, modality string) app.Referral {
	t.Helper()
	now := time.Now()
	it, err := p.Sim.CreateReferral(provetsim.ReferralFields{Modality: modality, Start: &now, Status: provetsim.StatusRequested})
	if err != nil {
		t.Fatal(err)
	}
	var r app.Referral
	defer func() {
		if r.Key == "" {
			for _, x := range p.App.Referrals(app.ReferralFilter{AllDays: true}) {
				t.Logf("%d %s %s", x.ProvetID, x.Scheduled, x.Status)
			}
			t.Logf("created %+v", it)
		}
	}()
	waitFor(t, 10*time.Second, "the new order on the worklist", func() bool {
		for _, x := range p.App.Referrals(app.ReferralFilter{}) {
			if x.ProvetID == it.WorklistID {
				r = x
				return true
			}
		}
		return false
	})
	return r
}

// control reaches the installation as the commands do: the running
// instance over the local API, or the data directory opened directly.
// running says which one the test expects.
func (p *pacsDemo) control(t *testing.T, running bool) app.Control {
	t.Helper()
	c, err := app.Connect(context.Background(), app.ConnectOptions{DataDir: p.dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if c.Running() != running {
		t.Fatalf("connected to a running instance: %v, want %v", c.Running(), running)
	}
	return c
}

// images is `vetbridge images` output through c.
func images(t *testing.T, c app.Control, accession string) []string {
	t.Helper()
	rep, err := c.Images(context.Background(), accession)
	if err != nil {
		t.Fatalf("images: %v", err)
	}
	return rep.Lines()
}

// unmatched is `vetbridge unmatched` output through c.
func unmatched(t *testing.T, c app.Control) []string {
	t.Helper()
	rep, err := c.Unmatched(context.Background())
	if err != nil {
		t.Fatalf("unmatched: %v", err)
	}
	return rep.Lines()
}

// imagesLine is the images report's line for one accession, "" if none.
func imagesLine(t *testing.T, a *app.App, accession string) string {
	t.Helper()
	rep, err := a.ImagesReport(context.Background(), accession)
	if err != nil {
		return ""
	}
	for _, r := range rep.Referrals {
		if r.Accession == accession {
			return r.Line
		}
	}
	return ""
}

// offsetClock is real time plus an offset the test moves on: requests are
// spaced in real time, and Advance brings the quiet period's end at once.
type offsetClock struct {
	mu      sync.Mutex
	offset  time.Duration
	advance chan struct{} // closed and replaced at each Advance
}

func newOffsetClock() *offsetClock { return &offsetClock{advance: make(chan struct{})} }

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	close(c.advance)
	c.advance = make(chan struct{})
	c.mu.Unlock()
}

func (c *offsetClock) moved() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.advance
}

func (c *offsetClock) NewTimer(d time.Duration) pacs.Timer {
	t := &offsetTimer{c: make(chan time.Time, 1), stop: make(chan struct{})}
	at := c.Now().Add(d)
	go func() {
		for {
			moved := c.moved()
			wait := at.Sub(c.Now())
			if wait <= 0 {
				t.c <- c.Now()
				return
			}
			rt := time.NewTimer(wait)
			select {
			case <-t.stop:
				rt.Stop()
				return
			case <-moved:
				rt.Stop()
			case <-rt.C:
			}
		}
	}()
	return t
}

type offsetTimer struct {
	c    chan time.Time
	stop chan struct{}
	once sync.Once
}

func (t *offsetTimer) C() <-chan time.Time { return t.c }
func (t *offsetTimer) Stop() bool {
	t.once.Do(func() { close(t.stop) })
	return true
}
