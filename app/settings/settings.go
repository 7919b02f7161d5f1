// Package settings is VetBridge's typed configuration: what a clinic
// configures, its defaults, its validation in words a person can act on,
// and its file in the data directory (written atomically).
package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/app/pacs"
	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/provetsync"

	"github.com/vetbridge/vetbridge/dicom/pdu"
)

// Sign-in grants.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"
)

// FileName is the configuration file inside the data directory.
const FileName = "config.json"

// Config is everything a clinic configures. It is saved as JSON in the data
// directory; command-line flags override it for one run.
type Config struct {
	Provet        ProvetConfig      `json:"provet"`
	DICOM         DICOMConfig       `json:"dicom"`
	ViewerURL     string            `json:"viewer_url"`    // template: {patient_id} {accession} {study_uid} {provet_id}
	PollInterval  Duration          `json:"poll_interval"` // delta sync period
	Reconcile     Duration          `json:"reconcile"`     // full open-set check period, to notice deletions
	Retention     Duration          `json:"retention"`     // how long finished or past items stay on the worklist
	ModalityMap   []ModalityMapping `json:"modality_map"`
	PatientName   string            `json:"patient_name"` // "owner^pet" (PS3.5 veterinary form) or "pet"
	Notifications NotifyConfig      `json:"notifications"`
	Webhook       WebhookConfig     `json:"webhook"`
	// PACS is where the images go, asked whether each referral's have
	// arrived: DICOM C-FIND (study root) or QIDO-RS; empty: no PACS.
	PACS pacs.Config `json:"pacs"`
	// SetupDone is set when the first-run questions have all been answered;
	// until then nothing listens on the LAN.
	SetupDone bool `json:"setup_done"`
	// StartAtSignIn starts VetBridge when the technician signs in to the
	// computer (the Windows Run key, an XDG autostart entry). First run
	// turns it on; Settings turns it off.
	StartAtSignIn bool `json:"start_at_sign_in"`
	// OnDiscontinued is the Provet status an exam the modality discontinued
	// goes back to: "requested" keeps the order open for a retake,
	// "cancelled" withdraws it.
	OnDiscontinued string `json:"on_discontinued"`
}

// ProvetConfig says which Provet Cloud tenant to talk to and as which
// integration.
type ProvetConfig struct {
	Region   string `json:"region"`   // "eu", "us", "enterprise" or "custom"
	BaseURL  string `json:"base_url"` // for "custom": https://host/<provet_id>/api/0.1/ or just https://host
	ProvetID string `json:"provet_id"`
	ClientID string `json:"client_id"`
	// Grant is how VetBridge signs in: "" or "authorization_code" (the
	// technician, in the browser, with PKCE) or "client_credentials" (the
	// integration itself, for installs IT manages; its secret is kept in
	// the keyring, never in this file).
	Grant        string   `json:"grant,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	RedirectPort int      `json:"redirect_port"` // 0: an ephemeral loopback port
	Scopes       []string `json:"scopes"`
	AuthorizeURL string   `json:"authorize_url,omitempty"` // overrides; derived when empty
	TokenURL     string   `json:"token_url,omitempty"`
	RevokeURL    string   `json:"revoke_url,omitempty"`
	// Mapping overrides for Provet's unpublished worklist schema (see app/provet/mapping.go).
	Mapping map[string]string `json:"mapping,omitempty"`
	// StatusFilter is how this tenant's status__in filter is spelt:
	// "comma" (status__in=1,2), "brackets" (status__in=[1,2]) or "none";
	// `vetbridge doctor` finds out and saves it.
	StatusFilter provet.StatusFilterForm `json:"status_filter,omitzero"`
	// CreateWalkIns creates a walk-in exam's imaging order in Provet too
	// (once the status values are confirmed); off, a walk-in stays in
	// VetBridge. Not part of the connection: changing it keeps the session.
	CreateWalkIns bool `json:"create_walk_ins,omitempty"`
}

// SameConnection says whether q signs in to the same tenant as the same
// integration as p: a change of any of these drops the session, a change
// of anything else (the mapping, the status filter, walk-ins) keeps it.
func (p ProvetConfig) SameConnection(q ProvetConfig) bool {
	return p.Region == q.Region && p.BaseURL == q.BaseURL && p.ProvetID == q.ProvetID &&
		p.ClientID == q.ClientID && p.ClientSecret == q.ClientSecret && p.RedirectPort == q.RedirectPort &&
		slices.Equal(p.Scopes, q.Scopes) && p.AuthorizeURL == q.AuthorizeURL && p.TokenURL == q.TokenURL &&
		p.RevokeURL == q.RevokeURL && grantOf(p) == grantOf(q)
}

// grantOf reads "" as the default grant, so an older file and a saved one
// name the same connection.
func grantOf(p ProvetConfig) string {
	if p.Grant == "" {
		return GrantAuthorizationCode
	}
	return p.Grant
}

// DICOMConfig is the worklist server as the modalities see it.
type DICOMConfig struct {
	AETitle         string `json:"ae_title"`
	Port            int    `json:"port"`
	Listen          string `json:"listen"`           // address to bind; "" means all interfaces
	StrictCalledAE  bool   `json:"strict_called_ae"` // reject associations addressed to another AE title
	MaxAssociations int    `json:"max_associations"`
	// OnlyKnownDevices rejects calling AE titles without a device profile:
	// the allow-list of modalities for clinics that want one.
	OnlyKnownDevices bool            `json:"only_known_devices"`
	Default          DeviceProfile   `json:"default_profile"`
	Profiles         []DeviceProfile `json:"profiles"`
}

// DeviceProfile adapts the worklist to one modality, keyed by its calling AE
// title; the default profile serves every device without one.
type DeviceProfile struct {
	CallingAE          string   `json:"calling_ae,omitempty"`
	Charset            string   `json:"charset"`              // "auto", "utf-8", "latin-1" or "ascii"
	StationFromCalling bool     `json:"station_from_calling"` // use the calling AE as Scheduled Station AE when the query sends none
	DaysBefore         int      `json:"days_before"`          // default date window when the query has none; -1 disables
	DaysAfter          int      `json:"days_after"`
	ShowStarted        bool     `json:"show_started"`            // list items already started or completed
	Modalities         []string `json:"modalities,omitempty"`    // only these modalities, when set
	AllowedAddrs       []string `json:"allowed_addrs,omitempty"` // only from these IPs, when set
	// CompleteByImages completes an order in Provet once its images have
	// arrived in the PACS and none came for QuietPeriod: for devices that
	// send no MPPS. It needs a PACS (Config.PACS).
	CompleteByImages bool `json:"complete_by_images,omitempty"`
	// QuietPeriod is how long no new image may arrive before the exam
	// counts as finished; 0 means 10 minutes.
	QuietPeriod Duration `json:"quiet_period,omitzero"`
}

// ModalityMapping turns Provet's modality into what the device expects.
type ModalityMapping = provetsync.ModalityMapping

// NotifyConfig controls desktop notifications.
type NotifyConfig struct {
	Muted     bool `json:"muted"`
	ShowOwner bool `json:"show_owner"` // owner names are personal data: off by default
}

// WebhookConfig enables the optional receiver for Provet's worklist webhooks.
type WebhookConfig struct {
	// Listen is the address to receive on, e.g. "127.0.0.1:8085" behind a
	// tunnel or ":8085" for the LAN; empty disables the receiver. A bare
	// port (":8085" or "8085") listens on loopback only unless Public is set.
	Listen string `json:"listen,omitempty"`
	// Secret must come as ?token= in the URL given to Provet (Provet can be
	// given only a URL); required for any address beyond loopback.
	Secret string `json:"secret,omitempty"`
}

// Duration is a time.Duration that reads and writes as "15s", "30d" or "12h".
type Duration time.Duration

func (d Duration) String() string {
	td := time.Duration(d)
	if td > 0 && td%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", td/(24*time.Hour))
	}
	return td.String()
}

// ParseDuration accepts Go durations plus a whole number of days ("30d").
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("duration %q: use a whole number of days such as 30d", s)
		}
		return Duration(time.Duration(days) * 24 * time.Hour), nil
	}
	td, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: use a value such as 15s, 10m or 30d", s)
	}
	return Duration(td), nil
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is written as a string such as \"15s\": %w", err)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Default is what a fresh installation starts with.
func Default() Config {
	return Config{
		Provet: ProvetConfig{Region: "eu", Scopes: []string{"restapi"}},
		DICOM: DICOMConfig{
			AETitle:         "VETBRIDGE",
			Port:            11112,
			StrictCalledAE:  false,
			MaxAssociations: 64,
			// Closed by default: a stranger on the clinic LAN gets no
			// owner names; a real device is allowed with one click.
			OnlyKnownDevices: true,
			Default: DeviceProfile{
				Charset:            "auto",
				StationFromCalling: false,
				// A query without a date gets yesterday to a week ahead:
				// wide enough that tomorrow's first patient is not hidden.
				DaysBefore:  1,
				DaysAfter:   7,
				ShowStarted: false,
			},
		},
		PollInterval: Duration(15 * time.Second),
		Reconcile:    Duration(5 * time.Minute),
		Retention:    Duration(7 * 24 * time.Hour),
		ModalityMap: []ModalityMapping{
			{Provet: "X-ray", Modality: "DX", StationAE: "DX1"},
			{Provet: "Computed radiography", Modality: "CR", StationAE: "CR1"},
			{Provet: "Ultrasound", Modality: "US", StationAE: "US1"},
			{Provet: "CT", Modality: "CT", StationAE: "CT1"},
		},
		PatientName:    "owner^pet",
		OnDiscontinued: "requested",
	}
}

// Clone copies the slices and maps too, so a caller editing its copy cannot
// change the configuration in use behind the app's back.
func (c Config) Clone() Config {
	c.Provet.Scopes = slices.Clone(c.Provet.Scopes)
	c.Provet.Mapping = maps.Clone(c.Provet.Mapping)
	c.ModalityMap = slices.Clone(c.ModalityMap)
	c.DICOM.Default = c.DICOM.Default.Clone()
	profiles := make([]DeviceProfile, len(c.DICOM.Profiles))
	for i, p := range c.DICOM.Profiles {
		profiles[i] = p.Clone()
	}
	if c.DICOM.Profiles != nil {
		c.DICOM.Profiles = profiles
	}
	return c
}

// Clone copies the profile's lists too.
func (p DeviceProfile) Clone() DeviceProfile {
	p.Modalities = slices.Clone(p.Modalities)
	p.AllowedAddrs = slices.Clone(p.AllowedAddrs)
	return p
}

// Load reads the configuration from dir, filling what the file leaves
// out with defaults. A missing file is not an error: it is a first run.
func Load(dir string) (Config, error) {
	cfg := Default()
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, fmt.Errorf("read configuration: %w", err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("configuration %s is not valid JSON (fix or delete it to start over): %w",
			filepath.Join(dir, FileName), err)
	}
	if !bytes.Contains(b, []byte(`"setup_done"`)) {
		// Written before first run was a step of its own: an installation
		// that was signed in has been set up.
		cfg.SetupDone = cfg.Provet.ClientID != ""
	}
	return cfg, nil
}

// Save writes the configuration atomically: a crash leaves either the old
// or the new file, never half of one.
func Save(dir string, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Provet.Grant == GrantClientCredentials {
		// That secret is the integration's own credential: the keyring
		// keeps it (package signin), a config file never.
		cfg.Provet.ClientSecret = ""
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("encode configuration: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, FileName+".*")
	if err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save configuration: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save configuration: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, FileName)); err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	return nil
}

// FieldError names the setting that is wrong and says how to fix it.
type FieldError struct {
	Field   string
	Message string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// ValidationError lists every wrong setting at once, so a form can mark them all.
type ValidationError []FieldError

func (v ValidationError) Error() string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = e.Error()
	}
	return "invalid settings: " + strings.Join(parts, "; ")
}

// Validate checks every field a person can get wrong.
func (c Config) Validate() error {
	var errs ValidationError
	add := func(field, msg string) { errs = append(errs, FieldError{field, msg}) }

	switch c.Provet.Region {
	case "eu", "us", "enterprise":
	case "custom":
		if u, err := url.Parse(c.Provet.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add("provet.base_url", "paste the full address shown in Provet's Settings > Integrations, e.g. https://provetcloud.com/1234/api/0.1/")
		}
	default:
		add("provet.region", "choose eu, us, enterprise or custom")
	}
	if id := c.Provet.ProvetID; id != "" && strings.Trim(id, "0123456789") != "" {
		add("provet.provet_id", "the Provet ID is the number in your Provet address, e.g. 1234")
	}
	switch c.Provet.Grant {
	case "", GrantAuthorizationCode, GrantClientCredentials:
	default:
		add("provet.grant", `choose "authorization_code" (a technician signs in) or "client_credentials" (the integration signs in)`)
	}
	if c.Provet.RedirectPort < 0 || c.Provet.RedirectPort > 65535 {
		add("provet.redirect_port", "use 0 for any free port, or the port registered with Provet (1-65535)")
	}
	if !pdu.ValidAETitle(c.DICOM.AETitle) {
		add("dicom.ae_title", "1 to 16 characters: letters, digits, space, - or _, not only spaces")
	}
	if c.DICOM.Port < 1 || c.DICOM.Port > 65535 {
		add("dicom.port", "choose a port from 1 to 65535 (104 or 11112 are usual)")
	}
	if c.DICOM.MaxAssociations < 1 {
		add("dicom.max_associations", "allow at least one association")
	}
	for i, p := range append([]DeviceProfile{c.DICOM.Default}, c.DICOM.Profiles...) {
		field := "dicom.default_profile"
		if i > 0 {
			field = fmt.Sprintf("dicom.profiles[%d]", i-1)
			if !pdu.ValidAETitle(p.CallingAE) {
				add(field+".calling_ae", "a device profile needs the device's calling AE title")
			}
		}
		switch p.Charset {
		case "", "auto", "utf-8", "latin-1", "ascii":
		default:
			add(field+".charset", "choose auto, utf-8, latin-1 or ascii")
		}
		if p.QuietPeriod < 0 {
			add(field+".quiet_period", "the quiet period cannot be negative; 0 means 10 minutes")
		}
		if p.CompleteByImages && !c.PACS.Configured() {
			add(field+".complete_by_images", "completing orders by their images needs a PACS to ask: set one under Settings > PACS, or turn this off")
		}
	}
	if c.ViewerURL != "" {
		if u, err := url.Parse(strings.NewReplacer("{patient_id}", "1", "{accession}", "1", "{study_uid}", "1", "{provet_id}", "1").Replace(c.ViewerURL)); err != nil || u.Scheme == "" || u.Host == "" {
			add("viewer_url", "an address such as https://pacs.example/viewer?patient={patient_id}")
		}
	}
	if time.Duration(c.PollInterval) < 5*time.Second {
		add("poll_interval", "poll at most every 5 seconds; Provet limits requests per minute")
	}
	for i, m := range c.ModalityMap {
		if m.Provet == "" || m.Modality == "" {
			add(fmt.Sprintf("modality_map[%d]", i), "each row needs Provet's modality name and a DICOM modality code")
		}
	}
	if err := c.PACS.Validate(); err != nil {
		var pe pacs.ValidationError
		if errors.As(err, &pe) {
			for _, f := range pe {
				add(f.Field, f.Message)
			}
		} else {
			add("pacs", err.Error())
		}
	}
	if err := c.Webhook.validate(); err != nil {
		add("webhook.listen", err.Error())
	}
	switch c.PatientName {
	case "owner^pet", "pet":
	default:
		add("patient_name", `choose "owner^pet" or "pet"`)
	}
	switch c.OnDiscontinued {
	case "requested", "cancelled":
	default:
		add("on_discontinued", `choose "requested" (retake later) or "cancelled"`)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Address is where the webhook receiver listens: a bare port means
// loopback, so a receiver is never on the LAN by accident.
func (w WebhookConfig) Address() string {
	l := strings.TrimSpace(w.Listen)
	if !strings.Contains(l, ":") {
		l = ":" + l
	}
	if strings.HasPrefix(l, ":") {
		return "127.0.0.1" + l
	}
	return l
}

func (w WebhookConfig) validate() error {
	if strings.TrimSpace(w.Listen) == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(w.Address())
	if err != nil || port == "" {
		return fmt.Errorf("an address such as 127.0.0.1:8085")
	}
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" && len(w.Secret) < 16 {
		return fmt.Errorf("a receiver reachable beyond this computer needs a secret of at least 16 characters (webhook.secret), given to Provet as ?token= in the URL")
	}
	return nil
}

// ItemMapping is how orders of the configured installation become worklist
// items (and which identifiers they get).
func (cfg Config) ItemMapping() provetsync.Mapping {
	tenant, err := provet.ResolveTenant(cfg.Provet.Region, cfg.Provet.BaseURL, cfg.Provet.ProvetID)
	id := cfg.Provet.ProvetID
	t := cfg.Provet.Region + "/" + id
	if err == nil {
		t, id = tenant.APIBase, tenant.ProvetID
	}
	return provetsync.Mapping{Tenant: t, ProvetID: id, Modalities: cfg.ModalityMap, PatientName: cfg.PatientName, Location: time.Local}
}
