package ui

import (
	"context"
	"errors"
	"image/color"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/assets"
)

func TestFirstRunRejectsBadAETitleAndSavesNothing(t *testing.T) {
	fake := newFake()
	fake.needsSetup = true
	h := newHarness(t, fake, Options{ShowWindow: true})
	fr := h.u.firstRun
	if fr == nil || h.u.win.Content() != fr.content {
		t.Fatal("a new installation should open on the first-run flow")
	}
	if !strings.HasPrefix(h.u.win.Title(), "VetBridge") {
		t.Errorf("title %q should start with VetBridge", h.u.win.Title())
	}
	test.Tap(fr.next) // Provet (filled in by the fake's config)
	test.Tap(fr.next) // sign-in step; signing in is not required to continue
	if fr.step != 2 {
		t.Fatalf("at step %d, want the worklist server step", fr.step)
	}
	fr.form.aeTitle.SetText("")
	test.Type(fr.form.aeTitle, "THIS AE TITLE IS TOO LONG")
	fr.form.port.SetText("eleven")
	test.Tap(fr.next)

	if fr.step != 2 {
		t.Errorf("moved on to step %d despite a bad AE title", fr.step)
	}
	if msg := fr.form.errorFor("dicom.ae_title"); !strings.Contains(msg, "1 to 16 characters") {
		t.Errorf("AE title message = %q", msg)
	}
	if msg := fr.form.errorFor("dicom.port"); !strings.Contains(msg, "1 to 65535") {
		t.Errorf("port message = %q", msg)
	}
	if !fr.form.errs["dicom.ae_title"].Visible() {
		t.Error("the AE title message is hidden")
	}
	if got := fake.savedConfigs(); len(got) != 0 {
		t.Errorf("saved %d configurations half-way", len(got))
	}

	fr.form.aeTitle.SetText("CLINIC_MWL")
	fr.form.port.SetText("104")
	test.Tap(fr.next)
	if fr.step != stepModality || fr.form.errorFor("dicom.ae_title") != "" {
		t.Errorf("a corrected AE title should clear its message and continue (step %d)", fr.step)
	}
}

func TestFirstRunRejectsBadProvetAddress(t *testing.T) {
	fake := newFake()
	fake.needsSetup = true
	h := newHarness(t, fake, Options{})
	fr := h.u.firstRun
	fr.form.region.SetSelected("Other address")
	fr.form.baseURL.SetText("provet clinic")
	fr.form.clientID.SetText("")
	test.Tap(fr.next)

	if fr.step != 0 {
		t.Fatalf("moved on with a bad Provet address")
	}
	if msg := fr.form.errorFor("provet.base_url"); !strings.Contains(msg, "https://") {
		t.Errorf("base URL message = %q", msg)
	}
	if msg := fr.form.errorFor("provet.client_id"); msg == "" {
		t.Error("a missing client ID is not reported")
	}
	if len(fake.savedConfigs()) != 0 {
		t.Error("saved a configuration with a bad Provet address")
	}
	// Sign-in validates the same fields and neither saves nor signs in.
	fr.goTo(1)
	test.Tap(fr.signIn.button)
	if fr.step != 0 || len(fake.savedConfigs()) != 0 || fake.count(&fake.signIns) != 0 {
		t.Errorf("sign-in went ahead with bad Provet settings (step %d)", fr.step)
	}
}

func TestFirstRunSignsInThenSavesEverythingAtFinish(t *testing.T) {
	fake := newFake()
	fake.needsSetup = true
	fake.who = "Anna Vet"
	h := newHarness(t, fake, Options{ShowWindow: true})
	fr := h.u.firstRun
	fr.form.provetID.SetText("5678")
	test.Tap(fr.next)
	test.Tap(fr.signIn.button)
	h.settle("sign-in", func() bool { return strings.Contains(fr.signIn.state.Text, "Anna Vet") })

	if got := fake.signInCfg; len(got) != 1 || got[0].ProvetID != "5678" {
		t.Fatalf("sign-in should use the Provet settings on screen, used %+v", got)
	}
	if len(fake.savedConfigs()) != 0 || len(fake.finished) != 0 || !fake.NeedsSetup() {
		t.Errorf("signing in must not save the configuration as set up")
	}

	test.Tap(fr.next)
	fr.form.aeTitle.SetText("CLINIC")
	test.Tap(fr.next)
	test.Tap(fr.next) // no modality to allow yet
	fr.form.viewerURL.SetText("https://pacs.example/view?pid={patient_id}")
	test.Tap(fr.next)
	test.Tap(fr.next) // Finish
	h.settle("finish", func() bool { return h.u.firstRun == nil })

	saved := fake.finished
	last := saved[len(saved)-1]
	if last.DICOM.AETitle != "CLINIC" || last.ViewerURL != "https://pacs.example/view?pid={patient_id}" || last.Provet.ProvetID != "5678" {
		t.Errorf("finish saved %+v", last)
	}
	if h.u.win.Content() != h.u.main || h.u.win.Title() != "VetBridge — Worklist" {
		t.Errorf("after setup the worklist should show, title %q", h.u.win.Title())
	}
}

func TestTrayMenuFollowsSignInState(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{})
	labels := h.tray.labels()
	if h.tray.icon != assets.TraySignedOut {
		t.Error("signed out should show the signed-out tray icon")
	}
	if !slices.Contains(labels, "Sign in with Provet…") || slices.Contains(labels, "Sign out") || slices.Contains(labels, "Sync now") {
		t.Errorf("signed-out menu = %q", labels)
	}
	if labels[0] != "Signed out of Provet" || !h.tray.menu.Items[0].Disabled {
		t.Errorf("status line = %q", labels[0])
	}
	if h.u.status.state.Text != "Signed out of Provet" {
		t.Errorf("status bar = %q", h.u.status.state.Text)
	}

	fake.who = "Anna Vet"
	h.tray.item(t, "Sign in with Provet").Action()
	lastSync := time.Now().Add(-time.Minute)
	fake.mu.Lock()
	fake.status.LastSync, fake.status.Waiting = lastSync, 3
	fake.mu.Unlock()
	fake.emit(app.Event{Kind: app.EventStatus})
	h.settle("signed-in tray", func() bool { return h.tray.icon == assets.TrayOK && strings.Contains(h.tray.labels()[0], "3 waiting") })

	labels = h.tray.labels()
	wantLine := "Signed in as Anna Vet · last sync " + lastSync.Format("15:04") + " · 3 waiting"
	if labels[0] != wantLine {
		t.Errorf("status line = %q, want %q", labels[0], wantLine)
	}
	for _, want := range []string{"Open worklist", "Sync now", "Mute notifications", "Settings", "Sign out", "Quit"} {
		if !slices.Contains(labels, want) {
			t.Errorf("signed-in menu lacks %q: %q", want, labels)
		}
	}
	if slices.Contains(labels, "Sign in with Provet…") {
		t.Error("signed-in menu still offers sign-in")
	}
	if h.u.status.state.Text != "Signed in as Anna Vet" || h.u.settings.account.Text != "Signed in as Anna Vet" {
		t.Errorf("status bar %q, settings %q", h.u.status.state.Text, h.u.settings.account.Text)
	}
	if quit := h.tray.menu.Items[len(h.tray.menu.Items)-1]; !quit.IsQuit {
		t.Error("Quit should be the last tray item, marked as quit")
	}

	h.tray.item(t, "Sync now").Action()
	h.settle("sync", func() bool { return fake.count(&fake.syncs) == 1 })
	h.tray.item(t, "Sign out").Action()
	h.settle("signed out", func() bool { return h.tray.icon == assets.TraySignedOut })
	if fake.count(&fake.signOuts) != 1 {
		t.Error("Sign out did not reach the backend")
	}
}

func TestTrayErrorStatesShowTheMessage(t *testing.T) {
	fake := newFake()
	fake.status = app.Status{State: app.StateOffline, SignedInAs: "Anna", Message: "Provet does not answer; check the internet connection."}
	h := newHarness(t, fake, Options{})
	if h.tray.icon != assets.TrayOffline {
		t.Error("offline should show the offline icon")
	}
	if !h.u.status.notice.Visible() || h.u.status.notice.Text != fake.status.Message {
		t.Errorf("status bar notice = %q", h.u.status.notice.Text)
	}
}

func TestRecentPatientsInTrayShowImages(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{})
	var patients []*fyne.MenuItem
	for _, it := range h.tray.menu.Items {
		if it.ChildMenu != nil {
			patients = append(patients, it)
		}
	}
	// Bella and Misu are due, Misu most recently; Rex is later today.
	if len(patients) != 2 || !strings.Contains(patients[0].Label, "Misu") || !strings.Contains(patients[1].Label, "Bella") {
		t.Fatalf("tray patients = %v", patients)
	}
	first := patients[0]
	newest := fake.refs[1]
	first.ChildMenu.Items[0].Action() // Show images
	want, _ := fake.ViewerURL(newest.Key)
	if len(h.opened) != 1 || h.opened[0] != want {
		t.Errorf("opened %q, want %q", h.opened, want)
	}
}

func TestWorklistFiltersAndSearches(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{ShowWindow: true})
	w := h.u.worklist
	if f := fake.lastFilter(); f != (app.ReferralFilter{}) {
		t.Errorf("the worklist should start with today and no filter, asked %+v", f)
	}
	if len(w.rows) != 3 || w.count.Text != "3 referrals" {
		t.Fatalf("rows %d, count %q", len(w.rows), w.count.Text)
	}

	w.modality.SetSelected("US")
	if f := fake.lastFilter(); f.Modality != "US" {
		t.Errorf("filter = %+v", f)
	}
	if got := cellTexts(w, colPet); !slices.Equal(got, []string{"Misu (Cat)"}) {
		t.Errorf("pets shown = %q", got)
	}

	w.modality.SetSelected(anyModality)
	w.status.SetSelected("Scheduled")
	test.Type(w.search, "virta")
	f := fake.lastFilter()
	if f.Modality != "" || f.Status != "SCHEDULED" || f.Search != "virta" {
		t.Errorf("filter = %+v", f)
	}
	if got := cellTexts(w, colOwner); !slices.Equal(got, []string{"Anna Virtanen"}) {
		t.Errorf("owners shown = %q", got)
	}

	test.Tap(w.prev)
	if f := fake.lastFilter(); !f.Day.Equal(startOfDay(time.Now()).AddDate(0, 0, -1)) || f.AllDays {
		t.Errorf("previous day filter = %+v", f)
	}
	test.Tap(w.today)
	if f := fake.lastFilter(); !f.Day.IsZero() {
		t.Errorf("today should leave Day zero, got %v", f.Day)
	}
	test.Tap(w.allDays)
	if f := fake.lastFilter(); !f.AllDays || w.day.Text != "All days" || !w.prev.Disabled() {
		t.Errorf("all days filter = %+v, label %q", f, w.day.Text)
	}
}

// cellTexts renders column col of every row through the table's own callbacks.
func cellTexts(w *worklistView, col int) []string {
	var out []string
	rows, _ := w.table.Length()
	for r := 0; r < rows; r++ {
		cell := w.table.CreateCell()
		w.table.UpdateCell(widget.TableCellID{Row: r, Col: col}, cell)
		out = append(out, cell.(*fyne.Container).Objects[1].(*widget.Label).Text)
	}
	return out
}

func TestWorklistBuildsOnlyVisibleCellsForThousandsOfRows(t *testing.T) {
	fake := newFake()
	base := fake.refs[0]
	fake.refs = nil
	for i := range 5000 {
		r := base
		r.Key = "k" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		r.Scheduled = base.Scheduled.Add(time.Duration(i) * time.Second)
		fake.refs = append(fake.refs, r)
	}
	h := newHarness(t, fake, Options{ShowWindow: true})
	w := h.u.worklist
	var created int
	create := w.table.CreateCell
	w.table.CreateCell = func() fyne.CanvasObject { created++; return create() }
	h.u.show()
	test.RenderToMarkup(h.u.win.Canvas())
	if len(w.rows) != 5000 {
		t.Fatalf("rows = %d", len(w.rows))
	}
	if created == 0 || created > 60*len(worklistColumns) {
		t.Errorf("built %d cells for 5000 rows; only the visible ones should be built", created)
	}
	before := created
	for range 20 {
		fake.emit(app.Event{Kind: app.EventReferrals})
		w.refresh()
		test.RenderToMarkup(h.u.win.Canvas())
	}
	// Fyne builds one template cell per refresh to measure the row height;
	// anything beyond that would mean rows are rebuilt.
	if created-before > 20 {
		t.Errorf("20 refreshes built %d new cells; cells should be reused", created-before)
	}
}

// BenchmarkWorklistRefresh5000 is how long the worklist window takes to
// refresh and redraw with 5,000 referrals; speed is shown here, not asserted
// in a test.
func BenchmarkWorklistRefresh5000(b *testing.B) {
	fake := newFake()
	base := fake.refs[0]
	fake.refs = nil
	for i := range 5000 {
		r := base
		r.Key = "k" + strconv.Itoa(i)
		r.Scheduled = base.Scheduled.Add(time.Duration(i) * time.Second)
		fake.refs = append(fake.refs, r)
	}
	h := newHarness(b, fake, Options{ShowWindow: true})
	h.u.show()
	test.RenderToMarkup(h.u.win.Canvas())
	b.ReportAllocs()
	for b.Loop() {
		h.u.worklist.refresh()
		test.RenderToMarkup(h.u.win.Canvas())
	}
}

func TestShowImagesOpensTheViewerURL(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{ShowWindow: true})
	w := h.u.worklist
	w.table.Select(widget.TableCellID{Row: 0, Col: 1})
	d := w.detail
	if d.key != "k1" || !d.actions.Visible() {
		t.Fatalf("selecting a row should show its detail, key %q", d.key)
	}
	if got := labelTexts(d.it); !slices.Contains(got, "P1") {
		t.Errorf("the detail should list the fields the modality receives, has %q", got)
	}
	test.Tap(d.showImages)
	if want := "https://pacs.example/viewer?patient=P1&acc=A1"; len(h.opened) != 1 || h.opened[0] != want {
		t.Errorf("opened %q, want %q", h.opened, want)
	}

	test.Tap(d.copyID)
	if got := h.u.fa.Clipboard().Content(); got != "P1" {
		t.Errorf("clipboard = %q", got)
	}

	fake.viewerErr = errors.New("no PACS viewer address is set: add one in Settings")
	test.Tap(d.showImages)
	if len(h.opened) != 1 || !strings.Contains(d.message.text.Text, "add one in Settings") {
		t.Errorf("a viewer error should be shown, not opened: %q", d.message.text.Text)
	}

	test.Tap(d.markDone)
	h.settle("mark done", func() bool { return strings.HasPrefix(w.done.text.Text, "Marked done") })
	if got := fake.markDone; !slices.Equal(got, []string{"k1"}) {
		t.Errorf("marked done %q", got)
	}
}

func TestExplainShowsTheReasons(t *testing.T) {
	fake := newFake()
	fake.devices = []app.Device{{CallingAE: "US_ROOM2", Addr: "192.168.1.40:4100", LastKeys: []string{"Modality=US"}, Returned: 0, Charset: "latin-1"}}
	fake.explain = app.Explanation{Reasons: []string{
		"the device asked for modality US but the referral is DX",
		"the device's profile lists only today's exams",
	}}
	h := newHarness(t, fake, Options{ShowWindow: true, StartView: ViewModalities})
	if h.u.win.Title() != "VetBridge — Modalities" {
		t.Errorf("title %q", h.u.win.Title())
	}
	m := h.u.modalities
	if rows, _ := m.table.Length(); rows != 1 {
		t.Errorf("devices listed = %d", rows)
	}

	h.u.worklist.table.Select(widget.TableCellID{Row: 0, Col: 0})
	test.Tap(h.u.worklist.detail.explain)
	if h.u.tabs.Selected().Content != m.content || !strings.Contains(m.referral.Text, "Bella") {
		t.Fatalf("explain should open the modalities view on Bella: %q", m.referral.Text)
	}
	m.table.Select(widget.TableCellID{Row: 0, Col: 0})
	var explain *widget.Button
	for _, o := range test.LaidOutObjects(m.content) {
		if b, ok := o.(*widget.Button); ok && b.Text == "Explain" {
			explain = b
		}
	}
	test.Tap(explain)

	if got := fake.explained; len(got) != 1 || got[0] != [2]string{"k1", "US_ROOM2"} {
		t.Errorf("explained %q", got)
	}
	if !strings.Contains(m.verdict.Text, "US_ROOM2 does not receive") {
		t.Errorf("verdict %q", m.verdict.Text)
	}
	var reasons []string
	for _, o := range m.reasons.Objects {
		reasons = append(reasons, o.(*widget.Label).Text)
	}
	if !slices.Equal(reasons, []string{
		"• the device asked for modality US but the referral is DX",
		"• the device's profile lists only today's exams",
	}) {
		t.Errorf("reasons %q", reasons)
	}
}

func TestCloseHidesToTrayAndQuitShutsDown(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{ShowWindow: true})
	h.u.show()
	h.settle("mark seen", func() bool { return fake.count(&fake.markSeen) == 1 })
	if !h.u.worklist.highlight["k2"] {
		t.Error("the referral that was new should stay highlighted while the window is open")
	}

	h.u.closeWindow()
	if h.u.visible || h.u.worklist.highlight["k2"] {
		t.Error("closing should hide the window and forget the highlights")
	}
	if !slices.Contains(fyne.CurrentApp().Driver().AllWindows(), h.u.win) {
		t.Error("closing must hide the window, not destroy it")
	}
	if fake.count(&fake.shutdowns) != 0 {
		t.Error("closing the window stopped the backend; the modalities still need the worklist")
	}

	h.tray.item(t, "Open worklist").Action()
	if !h.u.visible {
		t.Error("Open worklist should show the window")
	}
	h.tray.item(t, "Quit").Action()
	h.settle("shutdown", func() bool { return fake.count(&fake.shutdowns) == 1 })
}

func TestShowWindowEventBringsTheWindowForward(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{})
	if h.u.visible {
		t.Fatal("without ShowWindow VetBridge should start in the tray")
	}
	fake.emit(app.Event{Kind: app.EventShowWindow})
	h.settle("window shown", func() bool { return h.u.visible })
}

func TestMuteTogglesThroughSaveConfig(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{})
	h.tray.item(t, "Mute notifications").Action()
	h.settle("muted", func() bool { return h.tray.item(t, "Mute notifications").Checked })
	if saved := fake.savedConfigs(); len(saved) != 1 || !saved[0].Notifications.Muted {
		t.Errorf("saved %+v", saved)
	}
	if !h.u.settings.form.muted.Checked {
		t.Error("Settings should show the new muting")
	}
}

func TestSettingsRejectBadViewerURL(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{ShowWindow: true, StartView: ViewSettings})
	s := h.u.settings
	if h.u.win.Title() != "VetBridge — Settings" {
		t.Errorf("title %q", h.u.win.Title())
	}
	s.form.viewerURL.SetText("pacs viewer")
	s.form.pollInterval.SetText("1s")
	test.Tap(s.save)
	if len(fake.savedConfigs()) != 0 {
		t.Fatal("saved invalid settings")
	}
	if !strings.Contains(s.form.errorFor("viewer_url"), "https://pacs.example") ||
		!strings.Contains(s.form.errorFor("poll_interval"), "5 seconds") {
		t.Errorf("messages: viewer %q, poll %q", s.form.errorFor("viewer_url"), s.form.errorFor("poll_interval"))
	}

	s.form.viewerURL.SetText("https://pacs.example/v?p={patient_id}")
	s.form.pollInterval.SetText("30s")
	s.form.addMapping(app.ModalityMapping{Provet: "MRI", Modality: "mr", StationAE: "MR1"})
	test.Tap(s.save)
	h.settle("saved", func() bool { return s.message.Text == "Saved and applied." })
	got := fake.savedConfigs()[0]
	if got.ViewerURL != "https://pacs.example/v?p={patient_id}" || time.Duration(got.PollInterval) != 30*time.Second {
		t.Errorf("saved %+v", got)
	}
	if m := got.ModalityMap[len(got.ModalityMap)-1]; m != (app.ModalityMapping{Provet: "MRI", Modality: "MR", StationAE: "MR1"}) {
		t.Errorf("new modality row saved as %+v", m)
	}
	if !slices.Contains(h.u.worklist.modality.Options, "MR") {
		t.Error("the worklist should offer the newly mapped modality")
	}
}

func TestBridgeCoalescesBursts(t *testing.T) {
	br := newBridge()
	posted := make(chan func(), 16)
	var applied []dirty
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go br.run(ctx, 200*time.Millisecond, func(f func()) { posted <- f }, func(d dirty) { applied = append(applied, d) })

	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kind := app.EventReferrals
			if i == 7 {
				kind = app.EventSignInAgain
			}
			br.handle(app.Event{Kind: kind, Message: "Provet revoked the session."})
		}()
	}
	wg.Wait()

	select {
	case f := <-posted:
		f()
	case <-time.After(2 * time.Second):
		t.Fatal("the burst was never delivered")
	}
	select {
	case <-posted:
		t.Error("one burst of events caused more than one redraw")
	case <-time.After(400 * time.Millisecond):
	}
	want := dirty{status: true, referrals: true, signInAgain: true, message: "Provet revoked the session."}
	if len(applied) != 1 || applied[0] != want {
		t.Errorf("applied %+v, want one %+v", applied, want)
	}
}

// A harness-free check that posted updates carry the merged flags.
func TestBridgeMergesFlags(t *testing.T) {
	br := newBridge()
	br.handle(app.Event{Kind: app.EventReferrals})
	br.handle(app.Event{Kind: app.EventNewReferral})
	br.handle(app.Event{Kind: app.EventSignInAgain, Message: "Session ended."})
	br.handle(app.Event{Kind: app.EventDevices})
	d := br.take()
	want := dirty{status: true, referrals: true, devices: true, signInAgain: true, message: "Session ended."}
	if d != want {
		t.Errorf("merged %+v, want %+v", d, want)
	}
	if br.take() != (dirty{}) {
		t.Error("take should clear the pending flags")
	}
}

func TestSettingsEditDeviceProfiles(t *testing.T) {
	fake := newFake()
	fake.cfg.DICOM.Profiles = []app.DeviceProfile{{CallingAE: "OLD_CR", Charset: "ascii", DaysBefore: -1, DaysAfter: -1}}
	h := newHarness(t, fake, Options{StartView: ViewSettings})
	s := h.u.settings
	p := s.form.profiles

	p.add()
	test.Tap(s.save)
	if len(fake.savedConfigs()) != 0 {
		t.Fatal("saved a device profile without a calling AE title")
	}
	if msg := s.form.errorFor("dicom.profiles[1].calling_ae"); !strings.Contains(msg, "calling AE") {
		t.Errorf("new profile's message = %q", msg)
	}

	p.editors[1].callingAE.SetText("US_ROOM2")
	p.editors[1].modalities.SetText("us, dx")
	p.editors[1].daysBefore.SetText("two")
	test.Tap(s.save)
	if msg := s.form.errorFor("dicom.profiles[1].days_before"); !strings.Contains(msg, "whole number of days") {
		t.Errorf("days message = %q", msg)
	}
	p.editors[1].daysBefore.SetText("2")

	// Removing the first profile renumbers the second, edits intact.
	p.rebuild()
	var remove *widget.Button
	for _, o := range test.LaidOutObjects(p.box.Objects[0]) {
		if b, ok := o.(*widget.Button); ok && b.Text == "Remove" {
			remove = b
		}
	}
	test.Tap(remove)
	test.Tap(s.save)
	h.settle("saved", func() bool { return len(fake.savedConfigs()) == 1 })
	got := fake.savedConfigs()[0].DICOM.Profiles
	want := app.DeviceProfile{CallingAE: "US_ROOM2", Charset: "auto", DaysBefore: 2, Modalities: []string{"US", "DX"}}
	if len(got) != 1 || got[0].CallingAE != want.CallingAE || got[0].DaysBefore != 2 || !slices.Equal(got[0].Modalities, want.Modalities) || got[0].AllowedAddrs != nil {
		t.Errorf("saved profiles %+v, want [%+v]", got, want)
	}
}

func TestFirstRunSignInFailureSaysWhatToDo(t *testing.T) {
	fake := newFake()
	fake.needsSetup = true
	fake.signInErr = errors.New("Provet refused the client ID.")
	h := newHarness(t, fake, Options{ShowWindow: true})
	fr := h.u.firstRun
	test.Tap(fr.next)
	test.Tap(fr.signIn.button)
	h.settle("sign-in failure", func() bool { return strings.HasPrefix(fr.signIn.state.Text, "Sign-in did not finish") })
	if !strings.Contains(fr.signIn.state.Text, "Provet refused the client ID.") || !strings.Contains(fr.signIn.state.Text, "try again") {
		t.Errorf("message %q", fr.signIn.state.Text)
	}
	if fr.signIn.button.Text != "Sign in with Provet" {
		t.Errorf("button %q after a failure; the person must be able to retry", fr.signIn.button.Text)
	}
}

func TestNewReferralsAreHighlightedUntilTheWindowCloses(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{})
	w := h.u.worklist
	cell := func(row int) (*widget.Label, bool) {
		c := w.table.CreateCell()
		w.table.UpdateCell(widget.TableCellID{Row: row, Col: 1}, c)
		bg := c.(*fyne.Container).Objects[0].(*canvas.Rectangle)
		return c.(*fyne.Container).Objects[1].(*widget.Label), bg.FillColor != color.Transparent
	}
	h.u.show()
	h.settle("mark seen", func() bool { return fake.count(&fake.markSeen) == 1 })
	// Misu (row 1) was new; the backend has forgotten, the open window has not.
	w.refresh()
	if l, lit := cell(1); !l.TextStyle.Bold || !lit {
		t.Error("the new referral is not highlighted")
	}
	if l, lit := cell(0); l.TextStyle.Bold || lit {
		t.Error("an old referral is highlighted")
	}

	// One arriving while the window is open is highlighted too.
	fake.mu.Lock()
	fake.refs[0].New = true
	fake.mu.Unlock()
	fake.emit(app.Event{Kind: app.EventNewReferral, Referral: &fake.refs[0]})
	h.settle("new referral", func() bool { _, lit := cell(0); return lit })

	h.u.closeWindow()
	if _, lit := cell(1); lit {
		t.Error("highlights should end when the window closes")
	}
}

func TestSessionEndTellsTheTechnicianToSignIn(t *testing.T) {
	fake := newFake()
	fake.status = app.Status{State: app.StateOK, SignedInAs: "Anna"}
	h := newHarness(t, fake, Options{})
	fake.mu.Lock()
	fake.status = app.Status{State: app.StateSignedOut}
	fake.mu.Unlock()
	fake.emit(app.Event{Kind: app.EventSignInAgain, Message: "Provet ended the session."})
	h.settle("sign-in notice", func() bool { return h.u.status.notice.Visible() })
	if n := h.u.status.notice.Text; !strings.HasPrefix(n, "Provet ended the session.") || !strings.Contains(n, "Sign in with Provet") {
		t.Errorf("notice %q", n)
	}
	if h.tray.icon != assets.TraySignedOut || !slices.Contains(h.tray.labels(), "Sign in with Provet…") {
		t.Errorf("tray after the session ended: %q", h.tray.labels())
	}
}

func TestSettingsEditTheAEPolicy(t *testing.T) {
	fake := newFake()
	fake.cfg.DICOM.StrictCalledAE, fake.cfg.DICOM.OnlyKnownDevices = false, false
	h := newHarness(t, fake, Options{ShowWindow: true, StartView: ViewSettings})
	s := h.u.settings
	s.form.maxAssociations.SetText("none")
	test.Tap(s.save)
	if len(fake.savedConfigs()) != 0 || !strings.Contains(s.form.errorFor("dicom.max_associations"), "at least 1") {
		t.Fatalf("a non-number must be refused with a message: %q", s.form.errorFor("dicom.max_associations"))
	}
	s.form.maxAssociations.SetText("16")
	test.Tap(s.form.strictCalledAE)
	test.Tap(s.form.onlyKnownDevices)
	test.Tap(s.save)
	h.settle("saved", func() bool { return len(fake.savedConfigs()) == 1 })
	got := fake.savedConfigs()[0].DICOM
	if got.MaxAssociations != 16 || !got.StrictCalledAE || !got.OnlyKnownDevices {
		t.Errorf("saved AE policy %+v", got)
	}
}
