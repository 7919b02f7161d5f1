package ui

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

const colImages = 6

func TestWorklistShowsImagesAndWalkIns(t *testing.T) {
	fake := newFake()
	fake.refs[0].Images = "2 series, 14 images, 10:42"
	fake.refs[1].Images = "no images yet"
	fake.refs[2].WalkIn = true
	h := newHarness(t, fake, Options{ShowWindow: true})
	w := h.u.worklist
	if worklistColumns[colImages].title != "Images" {
		t.Fatalf("column %d is %q", colImages, worklistColumns[colImages].title)
	}
	if got := cellTexts(w, colImages); !slices.Equal(got, []string{"2 series, 14 images, 10:42", "no images yet", ""}) {
		t.Errorf("images column %q", got)
	}
	if got := cellTexts(w, 4); got[2] != "Walk-in: Hip" {
		t.Errorf("a walk-in's exam reads %q", got[2])
	}
	w.table.Select(widget.TableCellID{Row: 2, Col: 0})
	if !w.detail.walkIn.Visible() || !strings.Contains(w.detail.walkIn.Text, "stays in VetBridge") {
		t.Error("the detail pane should say a walk-in stays in VetBridge")
	}
	w.table.Select(widget.TableCellID{Row: 0, Col: 0})
	if w.detail.walkIn.Visible() {
		t.Error("an ordinary referral is called a walk-in")
	}
}

func TestDetailAsksThePACSWhenItOpens(t *testing.T) {
	fake := newFake()
	fake.refs[0].Images = "no images yet"
	fake.images = map[string]app.ImagesSummary{"k1": {Key: "k1", Summary: "1 series, 3 images, 10:42"}}
	fake.imagesAsked = make(chan string, 8)
	h := newHarness(t, fake, Options{ShowWindow: true})
	d := h.u.worklist.detail
	h.u.worklist.table.Select(widget.TableCellID{Row: 0, Col: 0})
	if got := <-fake.imagesAsked; got != "k1" {
		t.Fatalf("asked about %q", got)
	}
	if !strings.Contains(d.images.Text, "asking the PACS") {
		t.Errorf("while asking, the pane says %q", d.images.Text)
	}
	h.settle("answer", func() bool { return d.images.Text == "Images: 1 series, 3 images, 10:42" })
	// A redraw of the same referral does not ask again.
	h.u.worklist.refresh()
	select {
	case k := <-fake.imagesAsked:
		t.Errorf("asked again about %q without the pane reopening", k)
	default:
	}

	fake.mu.Lock()
	fake.imagesErr = fmt.Errorf("the PACS has not answered since 10:30: %w", errors.New("connection refused"))
	fake.images["k2"] = app.ImagesSummary{Key: "k2", Summary: "no images yet"}
	fake.mu.Unlock()
	h.u.worklist.table.Select(widget.TableCellID{Row: 1, Col: 0})
	<-fake.imagesAsked
	h.settle("PACS down", func() bool { return strings.Contains(d.images.Text, "since 10:30") })
	if !strings.HasPrefix(d.images.Text, "Images: no images yet, as last seen.") {
		t.Errorf("PACS down reads %q", d.images.Text)
	}

	fake.mu.Lock()
	fake.imagesErr = app.ErrNoPACS
	fake.mu.Unlock()
	h.u.worklist.table.Select(widget.TableCellID{Row: 2, Col: 0})
	<-fake.imagesAsked
	h.settle("no PACS", func() bool { return !d.images.Visible() })
}

func TestShowImagesSaysWhenThePACSHasNone(t *testing.T) {
	fake := newFake()
	fake.viewerErr = fmt.Errorf("%w for this referral (checked 10:42); try again when the modality has sent them", app.ErrNoImagesYet)
	h := newHarness(t, fake, Options{ShowWindow: true})
	d := h.u.worklist.detail
	h.u.worklist.table.Select(widget.TableCellID{Row: 0, Col: 0})
	test.Tap(d.showImages)
	if len(h.opened) != 0 || !strings.Contains(d.message.text.Text, "no images in the PACS yet") {
		t.Errorf("opened %q; message %q", h.opened, d.message.text.Text)
	}
}

func unmatchedExam() app.UnmatchedExam {
	return app.UnmatchedExam{ID: "pacs:1.2.3", Source: "pacs", Accession: "X99", PatientID: "P7",
		PatientName: "Berg^Rex", Date: "20261129", Time: "104200", Modalities: []string{"DX"}, Series: 2, Instances: 14}
}

func TestUnmatchedExamIsLinkedToAReferral(t *testing.T) {
	fake := newFake()
	fake.unmatched = []app.UnmatchedExam{unmatchedExam(),
		{ID: "mpps:9.8", Source: "mpps", PatientName: "Unknown", Device: "US1, 192.168.1.40", Modalities: []string{"US"}}}
	h := newHarness(t, fake, Options{ShowWindow: true, StartView: ViewUnmatched})
	v := h.u.unmatched
	h.settle("exams shown", func() bool { return len(v.rows) == 2 })
	if h.u.unmatchedTab.Text != "Unmatched (2)" || h.u.win.Title() != "VetBridge — Unmatched (2)" {
		t.Errorf("tab %q, title %q", h.u.unmatchedTab.Text, h.u.win.Title())
	}
	row := v.rows["pacs:1.2.3"]
	for _, want := range []string{"Berg Rex", "patient ID P7", "10:42", "DX", "accession X99", "2 series, 14 images"} {
		if !strings.Contains(row.text.Text, want) {
			t.Errorf("exam reads %q, lacks %q", row.text.Text, want)
		}
	}
	if !strings.Contains(v.rows["mpps:9.8"].text.Text, "reported by US1, 192.168.1.40 without an order") {
		t.Errorf("step reads %q", v.rows["mpps:9.8"].text.Text)
	}
	if !row.link.Disabled() {
		t.Error("Link is possible before a referral is chosen")
	}
	var rex string
	for _, o := range row.referral.Options {
		if strings.Contains(o, "Rex") {
			rex = o
		}
	}
	row.referral.SetSelected(rex)
	test.Tap(row.link)
	h.settle("linked", func() bool { return len(v.rows) == 1 })
	if !slices.Equal(fake.linked, [][2]string{{"pacs:1.2.3", "k3"}}) || !strings.HasPrefix(v.message.Text, "Linked to") {
		t.Errorf("linked %q, message %q", fake.linked, v.message.Text)
	}
	if h.u.unmatchedTab.Text != "Unmatched (1)" {
		t.Errorf("tab %q after linking", h.u.unmatchedTab.Text)
	}
}

func TestUnmatchedExamIsDismissedAfterConfirming(t *testing.T) {
	fake := newFake()
	fake.unmatched = []app.UnmatchedExam{unmatchedExam()}
	h := newHarness(t, fake, Options{StartView: ViewUnmatched})
	v := h.u.unmatched
	h.settle("exam shown", func() bool { return len(v.rows) == 1 })
	d := v.rows["pacs:1.2.3"].dismiss
	test.Tap(d.button)
	if len(fake.dismissed) != 0 || !d.ask.Visible() {
		t.Fatal("Dismiss must ask first")
	}
	test.Tap(d.yes)
	h.settle("dismissed", func() bool { return len(v.rows) == 0 && v.empty.Visible() })
	if !slices.Equal(fake.dismissed, []string{"pacs:1.2.3"}) || h.u.unmatchedTab.Text != "Unmatched" {
		t.Errorf("dismissed %q, tab %q", fake.dismissed, h.u.unmatchedTab.Text)
	}
}

func TestNewExamPutsAWalkInOnTheWorklist(t *testing.T) {
	fake := newFake()
	fake.hits = []app.PatientHit{
		{ID: 501, Name: "Rex", Species: "Dog", Owner: "Olli Berg", Microchip: "978000111"},
		{ID: 502, Name: "Rexi", Species: "Cat", Owner: "Anna Berg"},
	}
	fake.walkInNote = "Provet did not create the imaging order (403 Forbidden); the exam stays in VetBridge as a walk-in."
	h := newHarness(t, fake, Options{ShowWindow: true})
	w := h.u.worklist
	test.Tap(w.newExam)
	f := w.walkIn
	if !f.popup.Visible() || !f.create.Disabled() {
		t.Fatal("New exam should open with nothing to create yet")
	}
	if !slices.Contains(f.modality.Options, "DX (X-ray)") {
		t.Errorf("modalities offered %q", f.modality.Options)
	}
	test.Type(f.search, "berg")
	test.Tap(f.find)
	h.settle("hits", func() bool { return len(f.patients.Options) == 2 })
	if f.patients.Options[0] != "Rex (Dog) · Olli Berg · chip 978000111" {
		t.Errorf("hit reads %q", f.patients.Options[0])
	}
	f.patients.SetSelected(f.patients.Options[0])
	if !f.create.Disabled() {
		t.Error("create is possible without a modality")
	}
	f.modality.SetSelected("DX (X-ray)")
	test.Type(f.exam, "Thorax")
	test.Tap(f.create)
	h.settle("created", func() bool { return !f.popup.Visible() })
	if got := fake.walkIns; len(got) != 1 || got[0] != (app.WalkIn{PatientID: 501, Modality: "DX", Exam: "Thorax"}) {
		t.Errorf("walk-ins %+v", got)
	}
	if w.selected != "walkin-1" || !strings.Contains(w.done.text.Text, "stays in VetBridge only") {
		t.Errorf("selected %q; bar %q", w.selected, w.done.text.Text)
	}
	if !strings.Contains(w.done.text.Text, "Rex") || !strings.Contains(w.done.text.Text, "403 Forbidden") {
		t.Errorf("the bar should name the patient and say why Provet has no order: %q", w.done.text.Text)
	}
}

func TestNewExamSaysWhenProvetHasTheOrder(t *testing.T) {
	fake := newFake()
	fake.hits = []app.PatientHit{{ID: 501, Name: "Rex", Species: "Dog", Owner: "Olli Berg"}}
	fake.walkInProvet = true
	h := newHarness(t, fake, Options{ShowWindow: true})
	w := h.u.worklist
	test.Tap(w.newExam)
	f := w.walkIn
	test.Type(f.search, "rex")
	test.Tap(f.find)
	h.settle("hits", func() bool { return len(f.patients.Options) == 1 })
	f.patients.SetSelected(f.patients.Options[0])
	f.modality.SetSelected(f.modality.Options[0])
	test.Tap(f.create)
	h.settle("created", func() bool { return !f.popup.Visible() })
	if !strings.Contains(w.done.text.Text, "Provet has its imaging order") || strings.Contains(w.done.text.Text, "walk-in") {
		t.Errorf("bar %q", w.done.text.Text)
	}
	if w.detail.walkIn.Visible() {
		t.Error("an exam Provet has an order for is called a walk-in")
	}
}
