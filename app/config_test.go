package app

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigRoundTripAndDefaults(t *testing.T) {
	dir := t.TempDir()
	cfg, err := LoadConfig(dir)
	if err != nil {
		t.Fatalf("first run must not fail: %v", err)
	}
	if cfg.DICOM.AETitle != "VETBRIDGE" || cfg.DICOM.Port != 11112 {
		t.Fatalf("defaults: got %+v", cfg.DICOM)
	}
	cfg.Provet.ProvetID = "4242"
	cfg.PollInterval = Duration(20 * time.Second)
	cfg.Retention = Duration(30 * 24 * time.Hour)
	if err := SaveConfig(dir, cfg); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, ConfigFileName))
	if !strings.Contains(string(b), `"30d"`) || !strings.Contains(string(b), `"20s"`) {
		t.Fatalf("durations should be readable in the file:\n%s", b)
	}
	got, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Provet.ProvetID != "4242" || got.PollInterval != cfg.PollInterval || got.Retention != cfg.Retention {
		t.Fatalf("round trip lost values: %+v", got)
	}
}

func TestConfigBrokenFileSaysWhatToDo(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ConfigFileName), []byte("{not json"), 0o600)
	_, err := LoadConfig(dir)
	if err == nil || !strings.Contains(err.Error(), "fix or delete") {
		t.Fatalf("got %v", err)
	}
}

func TestConfigValidateListsEveryBadField(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DICOM.AETitle = "THIS_AE_TITLE_IS_TOO_LONG"
	cfg.DICOM.Port = 0
	cfg.ViewerURL = "not a url"
	cfg.Provet.Region = "custom"
	cfg.Provet.BaseURL = "ftp://x"
	cfg.PollInterval = Duration(time.Second)
	cfg.DICOM.Profiles = []DeviceProfile{{CallingAE: "", Charset: "koi8"}}
	err := cfg.Validate()
	var verr ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("want ValidationError, got %v", err)
	}
	fields := map[string]bool{}
	for _, e := range verr {
		fields[e.Field] = true
	}
	for _, f := range []string{"dicom.ae_title", "dicom.port", "viewer_url", "provet.base_url", "poll_interval",
		"dicom.profiles[0].calling_ae", "dicom.profiles[0].charset"} {
		if !fields[f] {
			t.Errorf("no error for %s in %v", f, verr)
		}
	}
	if err := SaveConfig(t.TempDir(), cfg); err == nil {
		t.Fatal("an invalid configuration must not be saved")
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults must be valid: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"15s": 15 * time.Second, "30d": 30 * 24 * time.Hour, "1h30m": 90 * time.Minute} {
		got, err := ParseDuration(in)
		if err != nil || time.Duration(got) != want {
			t.Errorf("%s: got %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "x", "-3d", "3.5d"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestViewerLink(t *testing.T) {
	cases := []struct{ tmpl, want string }{
		{"https://viewer.example/?patient=", "https://viewer.example/?patient=1234"},
		{"https://pacs.example/v?pid={patient_id}&acc={accession}&uid={study_uid}&t={provet_id}",
			"https://pacs.example/v?pid=1234&acc=A+1&uid=2.25.9&t=4242"},
	}
	for _, c := range cases {
		got, err := ViewerLink(c.tmpl, "1234", "A 1", "2.25.9", "4242")
		if err != nil || got != c.want {
			t.Errorf("%s: got %q %v, want %q", c.tmpl, got, err, c.want)
		}
	}
	if _, err := ViewerLink("", "1", "", "", ""); err == nil {
		t.Error("empty template accepted")
	}
	if _, err := ViewerLink("javascript:alert(1)//", "1", "", "", ""); err == nil {
		t.Error("non-web scheme accepted")
	}
}

func TestLoggerRedactsPatientDataAndTokens(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, false)
	log.Info("new referral", "patient_name", "Mäkinen^Pörri", "token", "secret-token-value", "modality", "DX")
	out := buf.String()
	for _, leak := range []string{"Mäkinen", "secret-token-value"} {
		if strings.Contains(out, leak) {
			t.Errorf("log leaks %q: %s", leak, out)
		}
	}
	if !strings.Contains(out, "modality=DX") {
		t.Errorf("non-sensitive attributes must stay: %s", out)
	}
	buf.Reset()
	NewLogger(&buf, true).Debug("x", "patient_name", "Mäkinen^Pörri")
	if !strings.Contains(buf.String(), "Mäkinen") {
		t.Errorf("debug logging should show names for troubleshooting: %s", buf.String())
	}
}

func TestReferralNoticeHidesOwnerUnlessAllowed(t *testing.T) {
	r := Referral{PetName: "Pörri", Species: "Dog", Breed: "Finnish Lapphund", OwnerName: "Mäkinen",
		Exam: "X-ray thorax", RequestingVet: "Dr. Virtanen", Modality: "DX", StationAE: "DX1"}
	title, msg := referralNotice(r, false)
	if strings.Contains(msg, "Mäkinen") || !strings.Contains(title, "X-ray thorax") || !strings.Contains(msg, "Pörri (Dog, Finnish Lapphund)") {
		t.Fatalf("got %q / %q", title, msg)
	}
	if _, msg := referralNotice(r, true); !strings.Contains(msg, "Mäkinen") {
		t.Fatalf("owner allowed but missing: %q", msg)
	}
}

func TestConfigCopiesAreIndependent(t *testing.T) {
	a, err := Open(Options{DataDir: t.TempDir(), Override: func(c *Config) {
		c.DICOM.Profiles = []DeviceProfile{{CallingAE: "US1", Modalities: []string{"US"}}}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c := a.Effective()
	c.ModalityMap[0].StationAE = "CHANGED"
	c.DICOM.Profiles[0].Modalities[0] = "CT"
	c.Provet.Scopes[0] = "changed"
	again := a.Effective()
	if again.ModalityMap[0].StationAE == "CHANGED" || again.DICOM.Profiles[0].Modalities[0] == "CT" || again.Provet.Scopes[0] == "changed" {
		t.Fatal("editing a copy of the configuration changed the one in use")
	}
}

func TestCommandLineOverridesAreNeverSaved(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(Options{DataDir: dir, Override: func(c *Config) { c.DICOM.Port = 4242 }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Effective().DICOM.Port != 4242 || a.Config().DICOM.Port != 11112 {
		t.Fatalf("effective port %d, stored %d; want 4242 and 11112", a.Effective().DICOM.Port, a.Config().DICOM.Port)
	}
	// Muting from the tray saves the configuration: the override must not
	// come along into config.json.
	c := a.Config()
	c.Notifications.Muted = true
	if err := a.SaveConfig(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	saved, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if saved.DICOM.Port != 11112 || !saved.Notifications.Muted {
		t.Errorf("saved port %d muted %v; want 11112 and true", saved.DICOM.Port, saved.Notifications.Muted)
	}
	if a.Effective().DICOM.Port != 4242 || !a.Effective().Notifications.Muted {
		t.Errorf("after saving, this run uses port %d muted %v; want 4242 and true", a.Effective().DICOM.Port, a.Effective().Notifications.Muted)
	}
}
