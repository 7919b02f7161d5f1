package ui

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

var (
	// Provet regions as people name them, and the configuration values.
	regions = []struct{ label, value string }{
		{"Europe", "eu"},
		{"United States", "us"},
		{"Enterprise", "enterprise"},
		{"Other address", "custom"},
	}
	charsets = []string{"auto", "utf-8", "latin-1", "ascii"}
	// Patient-name forms offered to people, and the configuration values they stand for.
	patientNames = []struct{ label, value string }{
		{"Owner^Pet (veterinary standard)", "owner^pet"},
		{"Pet only", "pet"},
	}
	// Sign-in methods as people name them, and the grant each is.
	grants = []struct{ label, value string }{
		{"A technician signs in (browser)", "authorization_code"},
		{"The integration signs in (client secret, for IT-managed installs)", "client_credentials"},
	}
)

// How the PACS is reached, as the PACS section offers it.
const (
	pacsNone  = "No PACS"
	pacsDICOM = "DICOM"
	pacsQIDO  = "QIDO-RS (DICOMweb)"
)

// configForm edits an app.Config. The first-run flow and Settings share it, so
// a field reads and complains the same way in both. Fields it does not show
// keep the values of the configuration it was loaded with.
type configForm struct {
	base app.Config

	grant                                *widget.RadioGroup
	clientSecret                         *widget.Entry
	secretBox                            *fyne.Container
	startAtSignIn                        *widget.Check
	pacsKind                             *widget.RadioGroup
	pacsAE, pacsHost, pacsPort, pacsQIDO *widget.Entry
	pacsDICOMBox, pacsQIDOBox            *fyne.Container

	region                                    *widget.Select
	baseURL, provetID, clientID, redirectPort *widget.Entry
	aeTitle, port                             *widget.Entry
	charset                                   *widget.Select
	stationFromCalling, showStarted           *widget.Check
	strictCalledAE, onlyKnownDevices          *widget.Check
	maxAssociations                           *widget.Entry
	viewerURL                                 *widget.Entry
	pollInterval, retention                   *widget.Entry
	patientName                               *widget.Select
	muted, showOwner                          *widget.Check
	mappings                                  []mappingRow
	profiles                                  *profilesSection
	mappingBox                                *fyne.Container

	errs    map[string]*widget.Label // by app.FieldError.Field
	general *widget.Label            // errors that belong to no visible field
}

type mappingRow struct {
	provet, modality, station *widget.Entry
}

func newConfigForm(cfg app.Config) *configForm {
	f := &configForm{errs: map[string]*widget.Label{}}
	regionLabels := make([]string, len(regions))
	for i, r := range regions {
		regionLabels[i] = r.label
	}
	f.region = widget.NewSelect(regionLabels, func(label string) {
		if regionValue(label) == "custom" {
			f.baseURL.Enable()
		} else {
			f.baseURL.Disable()
		}
	})
	f.baseURL = widget.NewEntry()
	f.baseURL.SetPlaceHolder("https://provetcloud.com/1234/api/0.1/")
	f.provetID = fieldEntry()
	f.provetID.SetPlaceHolder("e.g. 1234")
	// Said while typing, not first at sign-in.
	f.provetID.OnChanged = func(string) { f.checkField("provet.provet_id") }
	f.clientID = fieldEntry()
	f.redirectPort = fieldEntry()
	f.redirectPort.SetPlaceHolder("automatic")
	f.clientSecret = widget.NewPasswordEntry()
	f.clientSecret.SetPlaceHolder("kept in the system keyring, never in the settings file")
	f.secretBox = container.NewVBox(widget.NewLabel("Client secret"), f.clientSecret)
	grantLabels := make([]string, len(grants))
	for i, g := range grants {
		grantLabels[i] = g.label
	}
	f.grant = widget.NewRadioGroup(grantLabels, func(label string) {
		if grantValue(label) == "client_credentials" {
			f.secretBox.Show()
		} else {
			f.secretBox.Hide()
		}
	})
	f.grant.Required = true
	f.startAtSignIn = widget.NewCheck("Start VetBridge when I sign in to this computer", nil)
	f.pacsAE = fieldEntry()
	f.pacsAE.SetPlaceHolder("e.g. ORTHANC")
	f.pacsHost = fieldEntry()
	f.pacsHost.SetPlaceHolder("e.g. 192.168.1.20")
	f.pacsPort = fieldEntry()
	f.pacsPort.SetPlaceHolder("e.g. 4242")
	f.pacsQIDO = widget.NewEntry()
	f.pacsQIDO.SetPlaceHolder("http://pacs.local:8042/dicom-web")
	f.pacsDICOMBox = container.NewVBox()
	f.pacsQIDOBox = container.NewVBox()
	f.pacsKind = widget.NewRadioGroup([]string{pacsNone, pacsDICOM, pacsQIDO}, func(kind string) {
		f.pacsDICOMBox.Hidden = kind != pacsDICOM
		f.pacsQIDOBox.Hidden = kind != pacsQIDO
		f.pacsDICOMBox.Refresh()
		f.pacsQIDOBox.Refresh()
	})
	f.pacsKind.Horizontal = true
	f.pacsKind.Required = true
	f.aeTitle = fieldEntry()
	f.port = fieldEntry()
	f.charset = widget.NewSelect(charsets, nil)
	f.stationFromCalling = widget.NewCheck("Use the device's AE title as station when it sends none", nil)
	f.showStarted = widget.NewCheck("List exams already started or completed", nil)
	f.strictCalledAE = widget.NewCheck("Refuse devices that call another AE title", nil)
	f.onlyKnownDevices = widget.NewCheck("Accept only devices that have a profile below", nil)
	f.maxAssociations = fieldEntry()
	f.viewerURL = widget.NewEntry()
	f.viewerURL.SetPlaceHolder("https://pacs.example/viewer?patient={patient_id}&acc={accession}")
	f.pollInterval = fieldEntry()
	f.retention = fieldEntry()
	names := make([]string, len(patientNames))
	for i, p := range patientNames {
		names[i] = p.label
	}
	f.patientName = widget.NewSelect(names, nil)
	f.muted = widget.NewCheck("Mute notifications", nil)
	f.showOwner = widget.NewCheck("Show owner names in notifications", nil)
	f.mappingBox = container.NewVBox()
	f.profiles = &profilesSection{f: f, box: container.NewVBox()}
	f.general = errorLabel()
	f.load(cfg)
	return f
}

func errorLabel() *widget.Label {
	l := widget.NewLabel("")
	l.Importance = widget.DangerImportance
	l.Wrapping = fyne.TextWrapWord
	l.Hide()
	return l
}

// load shows cfg in the form and clears any error messages.
func (f *configForm) load(cfg app.Config) {
	f.base = cfg
	f.region.SetSelected(regionLabel(cfg.Provet.Region))
	f.baseURL.SetText(cfg.Provet.BaseURL)
	f.provetID.SetText(cfg.Provet.ProvetID)
	f.clientID.SetText(cfg.Provet.ClientID)
	f.redirectPort.SetText("")
	if cfg.Provet.RedirectPort != 0 {
		f.redirectPort.SetText(strconv.Itoa(cfg.Provet.RedirectPort))
	}
	f.grant.SetSelected(grantLabel(cfg.Provet.Grant))
	f.clientSecret.SetText(cfg.Provet.ClientSecret)
	f.startAtSignIn.SetChecked(cfg.StartAtSignIn)
	f.pacsAE.SetText(cfg.PACS.AETitle)
	f.pacsHost.SetText(cfg.PACS.Host)
	f.pacsPort.SetText("")
	if cfg.PACS.Port != 0 {
		f.pacsPort.SetText(strconv.Itoa(cfg.PACS.Port))
	}
	f.pacsQIDO.SetText(cfg.PACS.QIDOURL)
	switch {
	case cfg.PACS.UsesQIDO():
		f.pacsKind.SetSelected(pacsQIDO)
	case cfg.PACS.Configured():
		f.pacsKind.SetSelected(pacsDICOM)
	default:
		f.pacsKind.SetSelected(pacsNone)
	}
	f.aeTitle.SetText(cfg.DICOM.AETitle)
	f.port.SetText(strconv.Itoa(cfg.DICOM.Port))
	f.charset.SetSelected(cfg.DICOM.Default.Charset)
	f.stationFromCalling.SetChecked(cfg.DICOM.Default.StationFromCalling)
	f.showStarted.SetChecked(cfg.DICOM.Default.ShowStarted)
	f.strictCalledAE.SetChecked(cfg.DICOM.StrictCalledAE)
	f.onlyKnownDevices.SetChecked(cfg.DICOM.OnlyKnownDevices)
	f.maxAssociations.SetText(strconv.Itoa(cfg.DICOM.MaxAssociations))
	f.viewerURL.SetText(cfg.ViewerURL)
	f.pollInterval.SetText(cfg.PollInterval.String())
	f.retention.SetText(cfg.Retention.String())
	for _, p := range patientNames {
		if p.value == cfg.PatientName {
			f.patientName.SetSelected(p.label)
		}
	}
	f.muted.SetChecked(cfg.Notifications.Muted)
	f.showOwner.SetChecked(cfg.Notifications.ShowOwner)
	f.profiles.load(cfg.DICOM.Profiles)
	f.mappings = nil
	f.mappingBox.RemoveAll()
	for _, m := range cfg.ModalityMap {
		f.addMapping(m)
	}
	f.showErrors(nil)
}

func (f *configForm) addMapping(m app.ModalityMapping) {
	row := mappingRow{fieldEntry(), fieldEntry(), fieldEntry()}
	row.provet.SetText(m.Provet)
	row.provet.SetPlaceHolder("Provet name, e.g. X-ray")
	row.modality.SetText(m.Modality)
	row.modality.SetPlaceHolder("DX")
	row.station.SetText(m.StationAE)
	row.station.SetPlaceHolder("DX1")
	f.mappings = append(f.mappings, row)
	var line *fyne.Container
	remove := widget.NewButtonWithIcon("", theme.DeleteIcon(), func() {
		for i := range f.mappings {
			if f.mappings[i].provet == row.provet {
				f.mappings = append(f.mappings[:i], f.mappings[i+1:]...)
				break
			}
		}
		f.mappingBox.Remove(line)
	})
	line = container.NewBorder(nil, nil, nil, remove, container.NewGridWithColumns(3, row.provet, row.modality, row.station))
	f.mappingBox.Add(line)
}

// config reads the form over the configuration it was loaded with. Entries
// that do not parse are reported as field errors in the same form Validate uses.
func (f *configForm) config() (app.Config, app.ValidationError) {
	cfg := f.base
	var errs app.ValidationError
	number := func(field string, e *widget.Entry, msg string, dst *int) {
		n, err := strconv.Atoi(strings.TrimSpace(e.Text))
		if err != nil {
			errs = append(errs, app.FieldError{Field: field, Message: msg})
			return
		}
		*dst = n
	}
	duration := func(field string, e *widget.Entry, dst *app.Duration) {
		d, err := app.ParseDuration(e.Text)
		if err != nil {
			errs = append(errs, app.FieldError{Field: field, Message: "use a value such as 15s, 10m or 30d"})
			return
		}
		*dst = d
	}
	cfg.Provet.Region = regionValue(f.region.Selected)
	cfg.Provet.BaseURL = strings.TrimSpace(f.baseURL.Text)
	cfg.Provet.ProvetID = strings.TrimSpace(f.provetID.Text)
	cfg.Provet.ClientID = strings.TrimSpace(f.clientID.Text)
	cfg.Provet.RedirectPort = 0
	if strings.TrimSpace(f.redirectPort.Text) != "" {
		number("provet.redirect_port", f.redirectPort, "the port registered with Provet, or empty for automatic", &cfg.Provet.RedirectPort)
	}
	cfg.Provet.Grant = grantValue(f.grant.Selected)
	if cfg.Provet.Grant == "authorization_code" && f.base.Provet.Grant == "" {
		cfg.Provet.Grant = "" // the default, left unwritten as it was
	}
	cfg.Provet.ClientSecret = ""
	if cfg.Provet.Grant == "client_credentials" {
		cfg.Provet.ClientSecret = f.clientSecret.Text
	}
	cfg.StartAtSignIn = f.startAtSignIn.Checked
	cfg.PACS = app.PACSConfig{}
	switch f.pacsKind.Selected {
	case pacsDICOM:
		cfg.PACS.AETitle = strings.TrimSpace(f.pacsAE.Text)
		cfg.PACS.Host = strings.TrimSpace(f.pacsHost.Text)
		number("pacs.port", f.pacsPort, "the PACS's DICOM port, from 1 to 65535 (104, 4242 or 11112 are usual)", &cfg.PACS.Port)
	case pacsQIDO:
		cfg.PACS.QIDOURL = strings.TrimSpace(f.pacsQIDO.Text)
	}
	cfg.DICOM.AETitle = f.aeTitle.Text
	number("dicom.port", f.port, "a number from 1 to 65535 (104 or 11112 are usual)", &cfg.DICOM.Port)
	cfg.DICOM.Default.Charset = f.charset.Selected
	cfg.DICOM.Default.StationFromCalling = f.stationFromCalling.Checked
	cfg.DICOM.Default.ShowStarted = f.showStarted.Checked
	cfg.DICOM.StrictCalledAE = f.strictCalledAE.Checked
	cfg.DICOM.OnlyKnownDevices = f.onlyKnownDevices.Checked
	number("dicom.max_associations", f.maxAssociations, "a number of devices, at least 1 (64 is usual)", &cfg.DICOM.MaxAssociations)
	cfg.DICOM.Profiles = f.profiles.read(&errs)
	cfg.ViewerURL = strings.TrimSpace(f.viewerURL.Text)
	duration("poll_interval", f.pollInterval, &cfg.PollInterval)
	duration("retention", f.retention, &cfg.Retention)
	for _, p := range patientNames {
		if p.label == f.patientName.Selected {
			cfg.PatientName = p.value
		}
	}
	cfg.Notifications.Muted = f.muted.Checked
	cfg.Notifications.ShowOwner = f.showOwner.Checked
	cfg.ModalityMap = make([]app.ModalityMapping, 0, len(f.mappings))
	for _, r := range f.mappings {
		cfg.ModalityMap = append(cfg.ModalityMap, app.ModalityMapping{
			Provet:    strings.TrimSpace(r.provet.Text),
			Modality:  strings.ToUpper(strings.TrimSpace(r.modality.Text)),
			StationAE: strings.TrimSpace(r.station.Text),
		})
	}
	return cfg, errs
}

// check reads the form and validates it, keeping only the errors of fields
// that match one of prefixes (all fields when none are given), and shows them.
// The returned configuration is usable only when ok.
func (f *configForm) check(prefixes ...string) (cfg app.Config, ok bool) {
	cfg, errs := f.config()
	var verr app.ValidationError
	if err := cfg.Validate(); errors.As(err, &verr) {
		errs = append(errs, verr...)
	}
	if msg := provetIDProblem(cfg.Provet); msg != "" {
		errs = append(errs, app.FieldError{Field: "provet.provet_id", Message: msg})
	}
	if cfg.Provet.ClientID == "" {
		errs = append(errs, app.FieldError{Field: "provet.client_id", Message: "paste the client ID Provet issued for VetBridge (Provet: Settings > Integrations)"})
	}
	var kept app.ValidationError
	for _, e := range errs {
		if matchesAny(e.Field, prefixes) {
			kept = append(kept, e)
		}
	}
	f.showErrors(kept)
	return cfg, len(kept) == 0
}

func matchesAny(field string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(field, p) {
			return true
		}
	}
	return false
}

// showErrors puts each message under its field; the first message per field
// wins because it is the most basic one (a field that does not parse).
func (f *configForm) showErrors(errs app.ValidationError) {
	for _, l := range f.errs {
		l.SetText("")
		l.Hide()
	}
	var general []string
	for _, e := range errs {
		field, msg := e.Field, e.Message
		if strings.HasPrefix(field, "modality_map[") {
			field, msg = "modality_map", describeField(field)+": "+msg
		}
		l, ok := f.errs[field]
		if !ok {
			general = append(general, describeField(field)+": "+msg)
			continue
		}
		if l.Text == "" {
			l.SetText(msg)
			l.Show()
		}
	}
	f.general.SetText(strings.Join(general, "\n"))
	if len(general) > 0 {
		f.general.Show()
	} else {
		f.general.Hide()
	}
}

// errorFor is the message shown under a field, "" when none (tests read it).
func (f *configForm) errorFor(field string) string {
	if l, ok := f.errs[field]; ok {
		return l.Text
	}
	return ""
}

// item lays out one field with its error line; field is the app.FieldError
// name that reports on it.
func (f *configForm) item(label, field string, w fyne.CanvasObject, hint string) *widget.FormItem {
	l := errorLabel()
	f.errs[field] = l
	return &widget.FormItem{Text: label, Widget: container.NewVBox(w, l), HintText: hint}
}

func (f *configForm) provetItems() []*widget.FormItem {
	return []*widget.FormItem{
		f.item("Provet region", "provet.region", f.region, "Where your clinic's Provet Cloud runs"),
		f.item("Provet address", "provet.base_url", f.baseURL, "Only for Other address: the API address from Provet's Settings > Integrations"),
		f.item("Provet ID", "provet.provet_id", f.provetID, "The number in your Provet address"),
		f.item("Client ID", "provet.client_id", f.clientID, "Issued by Provet for this integration"),
		f.item("Sign-in callback port", "provet.redirect_port", f.redirectPort, "Leave empty for automatic, unless Provet has a port registered for VetBridge"),
		f.item("Sign-in method", "provet.grant", container.NewVBox(f.grant, f.secretBox), "Ask your IT which one Provet was set up for"),
	}
}

// pacsItems are the PACS connection: none, DICOM C-FIND or QIDO-RS.
func (f *configForm) pacsItems() []*widget.FormItem {
	if len(f.pacsDICOMBox.Objects) == 0 {
		f.pacsDICOMBox.Add(widget.NewForm(
			f.item("PACS AE title", "pacs.ae_title", f.pacsAE, "The PACS's own AE title"),
			f.item("Host", "pacs.host", f.pacsHost, "The PACS's address, without http:// or a port"),
			f.item("Port", "pacs.port", f.pacsPort, "The PACS's DICOM port"),
		))
		f.pacsQIDOBox.Add(widget.NewForm(
			f.item("DICOMweb address", "pacs.qido_url", f.pacsQIDO, "The QIDO-RS root, e.g. http://pacs.local:8042/dicom-web"),
		))
	}
	return []*widget.FormItem{
		f.item("Connection", "pacs", f.pacsKind, "Where the modalities send their images; VetBridge asks it which exams have images"),
		{Widget: container.NewVBox(f.pacsDICOMBox, f.pacsQIDOBox)},
	}
}

func grantLabel(value string) string {
	for _, g := range grants {
		if g.value == value {
			return g.label
		}
	}
	return grants[0].label
}

func grantValue(label string) string {
	for _, g := range grants {
		if g.label == label {
			return g.value
		}
	}
	return grants[0].value
}

func (f *configForm) dicomItems() []*widget.FormItem {
	return []*widget.FormItem{
		f.item("AE title", "dicom.ae_title", f.aeTitle, "What the modalities call this worklist server"),
		f.item("Port", "dicom.port", f.port, "The TCP port the modalities connect to"),
		f.item("Character set", "dicom.default_profile.charset", f.charset, "auto answers in what each device asks for"),
		f.item("", "dicom.default_profile.station", container.NewVBox(f.stationFromCalling, f.showStarted), ""),
		f.item("Access", "dicom.strict_called_ae", container.NewVBox(f.strictCalledAE, f.onlyKnownDevices), ""),
		f.item("Devices connected at once", "dicom.max_associations", f.maxAssociations,
			"More are refused until one disconnects; 64 suits any clinic"),
	}
}

func (f *configForm) viewerItems() []*widget.FormItem {
	return []*widget.FormItem{
		f.item("PACS viewer URL", "viewer_url", f.viewerURL,
			"Placeholders: {patient_id} {accession} {study_uid} {provet_id}"),
	}
}

// profilesContent is the list of per-device profiles with an Add button.
func (f *configForm) profilesContent() fyne.CanvasObject {
	add := widget.NewButtonWithIcon("Add device profile", theme.ContentAddIcon(), f.profiles.add)
	return container.NewVBox(
		widget.NewLabel("Devices without a profile of their own use the worklist server settings above."),
		f.profiles.box, container.NewHBox(add))
}

func (f *configForm) moreItems() []*widget.FormItem {
	mapHeader := container.NewGridWithColumns(3,
		widget.NewLabelWithStyle("Provet modality", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		widget.NewLabelWithStyle("DICOM modality", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		widget.NewLabelWithStyle("Station AE", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	add := widget.NewButtonWithIcon("Add modality", theme.ContentAddIcon(), func() { f.addMapping(app.ModalityMapping{}) })
	mapErr := errorLabel()
	f.errs["modality_map"] = mapErr
	return []*widget.FormItem{
		f.item("Check Provet every", "poll_interval", f.pollInterval, "At least 5s; Provet limits requests per minute"),
		f.item("Keep finished exams", "retention", f.retention, "How long finished or past exams stay on the worklist, e.g. 7d"),
		f.item("Patient name", "patient_name", f.patientName, "How the patient's name is sent to modalities"),
		{Text: "Modalities", Widget: container.NewVBox(mapHeader, f.mappingBox, container.NewHBox(add), mapErr)},
		f.item("Notifications", "notifications", container.NewVBox(f.muted, f.showOwner), ""),
		f.item("This computer", "start_at_sign_in", f.startAtSignIn, "The modalities' worklist is there only while VetBridge runs"),
	}
}

// describeField names a setting for people when it has no field of its own on screen.
func describeField(field string) string {
	if strings.HasPrefix(field, "modality_map[") {
		var i int
		fmt.Sscanf(field, "modality_map[%d]", &i)
		return fmt.Sprintf("Modality row %d", i+1)
	}
	if strings.HasPrefix(field, "dicom.profiles[") {
		return "Device profile " + strings.TrimPrefix(field, "dicom.profiles")
	}
	return field
}

func regionLabel(value string) string {
	for _, r := range regions {
		if r.value == value {
			return r.label
		}
	}
	return value
}

func regionValue(label string) string {
	for _, r := range regions {
		if r.label == label {
			return r.value
		}
	}
	return label
}

// provetIDProblem says what is wrong with the Provet ID, "" when nothing:
// it is the number in the clinic's Provet address.
func provetIDProblem(p app.ProvetConfig) string {
	id := p.ProvetID
	switch {
	case id == "" && p.Region == "custom":
		return ""
	case id == "":
		return "the Provet ID is the number in your Provet address, e.g. 1234"
	case strings.Trim(id, "0123456789") != "":
		return "only digits: the Provet ID is the number in your Provet address, e.g. 1234"
	}
	return ""
}

// checkField validates one field as it is typed and shows or clears its
// message, leaving the other fields' messages alone.
func (f *configForm) checkField(field string) {
	l, ok := f.errs[field]
	if !ok {
		return
	}
	cfg, errs := f.config()
	var verr app.ValidationError
	if err := cfg.Validate(); errors.As(err, &verr) {
		errs = append(errs, verr...)
	}
	if field == "provet.provet_id" {
		if msg := provetIDProblem(cfg.Provet); msg != "" {
			errs = append(errs, app.FieldError{Field: field, Message: msg})
		}
	}
	for _, e := range errs {
		if e.Field == field {
			l.SetText(e.Message)
			l.Show()
			return
		}
	}
	l.SetText("")
	l.Hide()
}

// fieldEntry is a one-line entry for a short value. It has no scroller of
// its own: the mouse wheel over it scrolls the page, as people expect, not
// the entry. Addresses, which can be long, keep the ordinary entry.
func fieldEntry() *widget.Entry {
	e := widget.NewEntry()
	e.Wrapping = fyne.TextWrapOff
	e.Scroll = fyne.ScrollNone
	return e
}
