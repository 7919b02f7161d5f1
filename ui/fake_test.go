package ui

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

var _ Backend = (*fakeBackend)(nil)

// fakeBackend records what the UI asks for and answers from plain fields.
type fakeBackend struct {
	// listening counts first-run device listeners open; listenErr refuses one.
	listening int
	listenErr error
	overrides []string

	mu         sync.Mutex
	status     app.Status
	refs       []app.Referral
	cfg        app.Config
	devices    []app.Device
	needsSetup bool
	who        string
	signInErr  error
	viewerErr  error
	explain    app.Explanation
	// SignIn calls waiting with these, then blocks until release is closed
	// or its ctx ends, when release is not nil.
	signInURL   string
	signInUntil time.Time
	release     chan struct{}
	undoUntil   time.Time
	undoErr     error
	portErr     map[int]error
	addrs       []string
	// subscribed, when not nil, is closed once the UI subscribes: the app
	// loop runs.
	subscribed chan struct{}

	filters   []app.ReferralFilter
	saved     []app.Config
	signIns   int
	signInCfg []app.ProvetConfig
	undone    []string
	finished  []app.Config
	ports     []int
	signOuts  int
	markSeen  int
	markDone  []string
	syncs     int
	shutdowns int
	explained [][2]string
	subs      []func(app.Event)

	allowed     []allowCall
	removed     []string
	statuses    app.StatusReport
	statusesErr error
	confirmed   []app.StatusSurvey
	parked      []app.ParkedUpdate
	retried     []uint64
	dropped     []uint64
	pacsErr     error
	pacsTested  []app.PACSConfig
	images      map[string]app.ImagesSummary
	imagesErr   error
	// imagesAsked receives each key ImagesFor is asked about, when not nil.
	imagesAsked chan string
	unmatched   []app.UnmatchedExam
	linked      [][2]string
	dismissed   []string
	hits        []app.PatientHit
	searches    []string
	walkIns     []app.WalkIn
	// walkInProvet and walkInNote are what NewWalkIn says of Provet.
	walkInProvet bool
	walkInNote   string
}

type allowCall struct {
	ae    string
	addrs []string
}

func newFake() *fakeBackend {
	cfg := app.DefaultConfig()
	cfg.Provet.ProvetID = "1234"
	cfg.Provet.ClientID = "vetbridge"
	cfg.ViewerURL = "https://pacs.example/viewer?patient={patient_id}&acc={accession}"
	// Two referrals are due and one is later, whatever the time of day.
	now := time.Now().Truncate(time.Minute)
	return &fakeBackend{
		cfg:    cfg,
		status: app.Status{State: app.StateSignedOut, DICOMAddr: "VETBRIDGE@192.168.1.5:11112"},
		refs: []app.Referral{
			{Key: "k1", Scheduled: now.Add(-2 * time.Hour), PetName: "Bella", Species: "Dog", Breed: "Labrador",
				OwnerName: "Anna Virtanen", PatientID: "P1", AccessionNumber: "A1", Exam: "Thorax",
				Modality: "DX", StationAE: "DX1", RequestingVet: "Dr Koivu", Status: "SCHEDULED",
				Fields: []app.Field{{Label: "Patient ID (0010,0020)", Value: "P1"}, {Label: "Accession Number (0008,0050)", Value: "A1"},
					{Label: "Start Date (0040,0002)", Value: now.Add(-2 * time.Hour).Format("20060102")}}},
			{Key: "k2", Scheduled: now.Add(-time.Hour), PetName: "Misu", Species: "Cat",
				OwnerName: "Liisa Mäki", PatientID: "P2", AccessionNumber: "A2", Exam: "Abdomen",
				Modality: "US", StationAE: "US1", Status: "SCHEDULED", New: true},
			{Key: "k3", Scheduled: now.Add(time.Hour), PetName: "Rex", Species: "Dog",
				OwnerName: "Olli Berg", PatientID: "P3", AccessionNumber: "A3", Exam: "Hip",
				Modality: "DX", StationAE: "DX1", Status: "COMPLETED"},
		},
	}
}

func (f *fakeBackend) Status() app.Status { f.mu.Lock(); defer f.mu.Unlock(); return f.status }

func (f *fakeBackend) Subscribe(fn func(app.Event)) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = append(f.subs, fn)
	if f.subscribed != nil {
		close(f.subscribed)
		f.subscribed = nil
	}
	return func() {}
}

// emit delivers an event the way the app does: from another goroutine.
func (f *fakeBackend) emit(ev app.Event) {
	f.mu.Lock()
	subs := append([]func(app.Event){}, f.subs...)
	f.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, s := range subs {
			s(ev)
		}
	}()
	<-done
}

func (f *fakeBackend) Referrals(flt app.ReferralFilter) []app.Referral {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, flt)
	var out []app.Referral
	for _, r := range f.refs {
		if flt.Modality != "" && r.Modality != flt.Modality || flt.Status != "" && r.Status != flt.Status {
			continue
		}
		// Folded as the app does (case, and ß as ss), so a test can type what people type.
		fold := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "ß", "ss") }
		if s := fold(flt.Search); s != "" && !strings.Contains(fold(r.PetName+" "+r.OwnerName+" "+r.PatientID+" "+r.AccessionNumber), s) {
			continue
		}
		out = append(out, r)
	}
	return out
}

func (f *fakeBackend) lastFilter() app.ReferralFilter {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.filters[len(f.filters)-1]
}

func (f *fakeBackend) Referral(key string) (app.Referral, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.refs {
		if r.Key == key {
			return r, true
		}
	}
	return app.Referral{}, false
}

func (f *fakeBackend) MarkSeen() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.markSeen++
	for i := range f.refs {
		f.refs[i].New = false
	}
}

func (f *fakeBackend) SyncNow() { f.mu.Lock(); f.syncs++; f.mu.Unlock() }

func (f *fakeBackend) SignIn(ctx context.Context, p app.ProvetConfig, waiting func(string, time.Time)) (string, error) {
	cfg := f.Config()
	cfg.Provet = p
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	f.mu.Lock()
	f.signIns++
	f.signInCfg = append(f.signInCfg, p)
	f.cfg.Provet = p
	authURL, until, release := f.signInURL, f.signInUntil, f.release
	f.mu.Unlock()
	if authURL != "" {
		waiting(authURL, until)
	}
	if release != nil {
		select {
		case <-release:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.signInErr != nil {
		return "", f.signInErr
	}
	f.status.State, f.status.SignedInAs = app.StateOK, f.who
	return f.who, nil
}

func (f *fakeBackend) SignOut(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signOuts++
	f.status.State, f.status.SignedInAs = app.StateSignedOut, ""
	return nil
}

func (f *fakeBackend) MarkDone(ctx context.Context, key string) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.markDone = append(f.markDone, key)
	f.setStatus(key, "COMPLETED")
	return f.undoUntil, nil
}

func (f *fakeBackend) UndoMarkDone(ctx context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.undoErr != nil {
		return f.undoErr
	}
	f.undone = append(f.undone, key)
	f.setStatus(key, "SCHEDULED")
	return nil
}

func (f *fakeBackend) setStatus(key, status string) {
	for i := range f.refs {
		if f.refs[i].Key == key {
			f.refs[i].Status = status
		}
	}
}

func (f *fakeBackend) Overrides() []string { f.mu.Lock(); defer f.mu.Unlock(); return f.overrides }

func (f *fakeBackend) CheckDICOMPort(port int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ports = append(f.ports, port)
	return f.portErr[port]
}

func (f *fakeBackend) ModalitySetup() (string, int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg.DICOM.AETitle, f.cfg.DICOM.Port, f.addrs
}

func (f *fakeBackend) ListenForDevices(ctx context.Context, cfg app.DICOMConfig) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listenErr != nil {
		return nil, f.listenErr
	}
	f.listening++
	return func() {
		f.mu.Lock()
		f.listening--
		f.mu.Unlock()
	}, nil
}

func (f *fakeBackend) FinishSetup(ctx context.Context, cfg app.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finished = append(f.finished, cfg)
	f.cfg = cfg
	f.needsSetup = false
	return nil
}

func (f *fakeBackend) ViewerURL(key string) (string, error) {
	if f.viewerErr != nil {
		return "", f.viewerErr
	}
	r, ok := f.Referral(key)
	if !ok {
		return "", errors.New("no such referral")
	}
	return "https://pacs.example/viewer?patient=" + url.QueryEscape(r.PatientID) + "&acc=" + r.AccessionNumber, nil
}

func (f *fakeBackend) PreviewViewerURL(tmpl string) (string, error) {
	return strings.NewReplacer("{patient_id}", "SAMPLE", "{accession}", "ACC").Replace(tmpl), nil
}

func (f *fakeBackend) Devices() []app.Device { f.mu.Lock(); defer f.mu.Unlock(); return f.devices }

func (f *fakeBackend) Explain(key, ae string) app.Explanation {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.explained = append(f.explained, [2]string{key, ae})
	ex := f.explain
	ex.CallingAE = ae
	return ex
}

func (f *fakeBackend) Config() app.Config { f.mu.Lock(); defer f.mu.Unlock(); return f.cfg }

func (f *fakeBackend) SaveConfig(ctx context.Context, cfg app.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saved = append(f.saved, cfg)
	f.cfg = cfg
	return nil
}

func (f *fakeBackend) savedConfigs() []app.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]app.Config(nil), f.saved...)
}

func (f *fakeBackend) NeedsSetup() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.needsSetup }

func (f *fakeBackend) Shutdown(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shutdowns++
	return nil
}

func (f *fakeBackend) AllowDevice(ctx context.Context, ae string, addrs []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.allowed = append(f.allowed, allowCall{ae, addrs})
	f.cfg.DICOM.Profiles = append(f.cfg.DICOM.Profiles, app.DeviceProfile{CallingAE: ae, Charset: "auto", AllowedAddrs: addrs})
	for i := range f.devices {
		if f.devices[i].CallingAE == ae {
			f.devices[i].Known, f.devices[i].Refused, f.devices[i].Addrs = true, 0, addrs
		}
	}
	return nil
}

func (f *fakeBackend) RemoveDevice(ctx context.Context, ae string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, ae)
	f.devices = slices.DeleteFunc(f.devices, func(d app.Device) bool { return d.CallingAE == ae })
	f.cfg.DICOM.Profiles = slices.DeleteFunc(f.cfg.DICOM.Profiles, func(p app.DeviceProfile) bool { return p.CallingAE == ae })
	return nil
}

func (f *fakeBackend) Statuses(ctx context.Context) (app.StatusReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.statuses, f.statusesErr
}

func (f *fakeBackend) ConfirmStatuses(ctx context.Context, s app.StatusSurvey) error {
	if err := s.Confirmable(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.confirmed = append(f.confirmed, s)
	f.statuses.Confirmed = true
	return nil
}

func (f *fakeBackend) ParkedUpdates() []app.ParkedUpdate {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.parked)
}

func (f *fakeBackend) RetryUpdate(id uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retried = append(f.retried, id)
	f.parked = slices.DeleteFunc(f.parked, func(p app.ParkedUpdate) bool { return p.ID == id })
	return nil
}

func (f *fakeBackend) DropUpdate(id uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropped = append(f.dropped, id)
	f.parked = slices.DeleteFunc(f.parked, func(p app.ParkedUpdate) bool { return p.ID == id })
	return nil
}

func (f *fakeBackend) TestPACS(ctx context.Context, cfg app.PACSConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pacsTested = append(f.pacsTested, cfg)
	return f.pacsErr
}

func (f *fakeBackend) ImagesFor(ctx context.Context, key string) (app.ImagesSummary, error) {
	f.mu.Lock()
	s, err, asked := f.images[key], f.imagesErr, f.imagesAsked
	f.mu.Unlock()
	if asked != nil {
		asked <- key
	}
	return s, err
}

func (f *fakeBackend) UnmatchedExams() []app.UnmatchedExam {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.unmatched)
}

func (f *fakeBackend) LinkUnmatched(id, referral string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.linked = append(f.linked, [2]string{id, referral})
	f.unmatched = slices.DeleteFunc(f.unmatched, func(e app.UnmatchedExam) bool { return e.ID == id })
	return nil
}

func (f *fakeBackend) DismissUnmatched(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dismissed = append(f.dismissed, id)
	f.unmatched = slices.DeleteFunc(f.unmatched, func(e app.UnmatchedExam) bool { return e.ID == id })
	return nil
}

func (f *fakeBackend) SearchPatients(ctx context.Context, text string) ([]app.PatientHit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.searches = append(f.searches, text)
	var out []app.PatientHit
	for _, h := range f.hits {
		if strings.Contains(strings.ToLower(h.Name+" "+h.Owner+" "+h.Microchip), strings.ToLower(text)) {
			out = append(out, h)
		}
	}
	return out, nil
}

func (f *fakeBackend) NewWalkIn(ctx context.Context, w app.WalkIn) (app.WalkInResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.walkIns = append(f.walkIns, w)
	r := app.Referral{Key: "walkin-" + strconv.Itoa(len(f.walkIns)), Scheduled: time.Now().Truncate(time.Minute),
		Modality: w.Modality, Exam: w.Exam, Status: "SCHEDULED", WalkIn: !f.walkInProvet, PatientID: strconv.FormatInt(w.PatientID, 10)}
	for _, h := range f.hits {
		if h.ID == w.PatientID {
			r.PetName, r.OwnerName = h.Name, h.Owner
		}
	}
	f.refs = append(f.refs, r)
	return app.WalkInResult{Referral: r, InProvet: f.walkInProvet, Note: f.walkInNote}, nil
}

func (f *fakeBackend) count(n *int) int { f.mu.Lock(); defer f.mu.Unlock(); return *n }

type fakeTray struct {
	menu *fyne.Menu
	icon fyne.Resource
}

func (t *fakeTray) SetSystemTrayMenu(m *fyne.Menu)    { t.menu = m }
func (t *fakeTray) SetSystemTrayIcon(r fyne.Resource) { t.icon = r }

func (t *fakeTray) labels() []string {
	var out []string
	for _, it := range t.menu.Items {
		if !it.IsSeparator {
			out = append(out, it.Label)
		}
	}
	return out
}

func (t *fakeTray) item(tb testing.TB, prefix string) *fyne.MenuItem {
	tb.Helper()
	for _, it := range t.menu.Items {
		if !it.IsSeparator && strings.HasPrefix(it.Label, prefix) {
			return it
		}
	}
	tb.Fatalf("tray menu has no %q item: %q", prefix, t.labels())
	return nil
}

// harness runs the UI on the test goroutine: whatever background work posts
// to the UI is queued and run by settle, as fyne.Do would on the app's thread.
type harness struct {
	t      testing.TB
	u      *ui
	clock  *fakeClock
	fake   *fakeBackend
	tray   *fakeTray
	queue  chan func()
	opened []string
	// openErr, when set, is what the desktop says when asked to open a link.
	openErr error
}

func newHarness(t testing.TB, fake *fakeBackend, opts Options) *harness {
	t.Helper()
	fa := test.NewTempApp(t)
	h := &harness{t: t, fake: fake, tray: &fakeTray{}, queue: make(chan func(), 4096)}
	opts.OpenURL = func(u *url.URL) error {
		if h.openErr != nil {
			return h.openErr
		}
		h.opened = append(h.opened, u.String())
		return nil
	}
	h.u = newUI(fa, fake, h.tray, opts, func(f func()) { h.queue <- f })
	h.clock = &fakeClock{now: time.Now()}
	h.u.clock = h.clock
	h.u.win.Resize(fyne.NewSize(1200, 760))
	h.u.start()
	t.Cleanup(h.u.stop)
	return h
}

// settle runs posted UI updates until cond holds.
func (h *harness) settle(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		for drained := false; !drained; {
			select {
			case f := <-h.queue:
				f()
			default:
				drained = true
			}
		}
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeClock's timers fire when a test moves it on, never by themselves.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// advance moves the clock on by d and runs the timers then due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for _, t := range c.timers {
		if !t.stopped && !t.at.After(c.now) {
			t.stopped = true
			due = append(due, t.f)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// pending is how many timers have not fired or been stopped.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}

// Worklist table columns the tests read.
const (
	colStatus = 1
	colPet    = 2
	colOwner  = 3
)

// labelTexts lists the texts of the labels directly in c.
func labelTexts(c *fyne.Container) []string {
	var out []string
	for _, o := range c.Objects {
		if l, ok := o.(*widget.Label); ok {
			out = append(out, l.Text)
		}
	}
	return out
}
