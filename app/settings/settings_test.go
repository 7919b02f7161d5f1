package settings

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
)

func TestConfigRoundTripAndDefaults(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(dir)
	if err != nil {
		t.Fatalf("first run must not fail: %v", err)
	}
	if cfg.DICOM.AETitle != "VETBRIDGE" || cfg.DICOM.Port != 11112 {
		t.Fatalf("defaults: got %+v", cfg.DICOM)
	}
	cfg.Provet.ProvetID = "4242"
	cfg.PollInterval = Duration(20 * time.Second)
	cfg.Retention = Duration(30 * 24 * time.Hour)
	if err := Save(dir, cfg); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, FileName))
	if !strings.Contains(string(b), `"30d"`) || !strings.Contains(string(b), `"20s"`) {
		t.Fatalf("durations should be readable in the file:\n%s", b)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Provet.ProvetID != "4242" || got.PollInterval != cfg.PollInterval || got.Retention != cfg.Retention {
		t.Fatalf("round trip lost values: %+v", got)
	}
}

func TestConfigBrokenFileSaysWhatToDo(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), []byte("{not json"), 0o600)
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "fix or delete") {
		t.Fatalf("got %v", err)
	}
}

func TestConfigValidateListsEveryBadField(t *testing.T) {
	cfg := Default()
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
	if err := Save(t.TempDir(), cfg); err == nil {
		t.Fatal("an invalid configuration must not be saved")
	}
	if err := Default().Validate(); err != nil {
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

func TestWebhookBeyondLoopbackNeedsASecret(t *testing.T) {
	cases := []struct {
		listen, secret string
		ok             bool
		addr           string
	}{
		{"", "", true, ""},
		{":8085", "", true, "127.0.0.1:8085"},
		{"8085", "", true, "127.0.0.1:8085"},
		{"127.0.0.1:8085", "", true, "127.0.0.1:8085"},
		{"0.0.0.0:8085", "", false, "0.0.0.0:8085"},
		{"0.0.0.0:8085", "short", false, "0.0.0.0:8085"},
		{"0.0.0.0:8085", "a-long-enough-secret", true, "0.0.0.0:8085"},
		{"192.168.1.5:8085", "", false, "192.168.1.5:8085"},
	}
	for _, c := range cases {
		w := WebhookConfig{Listen: c.listen, Secret: c.secret}
		if err := w.validate(); (err == nil) != c.ok {
			t.Errorf("%q with secret %q: %v, want ok=%v", c.listen, c.secret, err, c.ok)
		}
		if c.listen != "" && w.Address() != c.addr {
			t.Errorf("%q listens on %s, want %s", c.listen, w.Address(), c.addr)
		}
	}
}

func TestProvetIDIsTheNumberInTheAddress(t *testing.T) {
	for id, ok := range map[string]bool{"": true, "4242": true, "abc": false, "42/api": false, "4 2": false} {
		c := Default()
		c.Provet.ProvetID = id
		err := c.Validate()
		if (err == nil) != ok {
			t.Errorf("Provet ID %q: %v, want ok=%v", id, err, ok)
		}
	}
}

// Completion by images needs a PACS to ask and a quiet period that is not
// negative; both settings survive a save as config.json names them.
func TestCompleteByImagesSettings(t *testing.T) {
	c := Default()
	c.DICOM.Profiles = []DeviceProfile{{CallingAE: "DX1", CompleteByImages: true, QuietPeriod: Duration(-time.Minute)}}
	var verr ValidationError
	if !errors.As(c.Validate(), &verr) || len(verr) != 2 ||
		verr[0].Field != "dicom.profiles[0].quiet_period" || verr[1].Field != "dicom.profiles[0].complete_by_images" {
		t.Fatalf("without a PACS and with a negative quiet period: %v", verr)
	}
	c.PACS.QIDOURL = "http://127.0.0.1:8042/dicom-web"
	c.DICOM.Profiles[0].QuietPeriod = Duration(5 * time.Minute)
	c.Provet.CreateWalkIns = true
	dir := t.TempDir()
	if err := Save(dir, c); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, FileName))
	for _, want := range []string{`"complete_by_images": true`, `"quiet_period": "5m0s"`, `"create_walk_ins": true`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config.json lacks %s:\n%s", want, b)
		}
	}
	got, err := Load(dir)
	if err != nil || !got.DICOM.Profiles[0].CompleteByImages || got.DICOM.Profiles[0].QuietPeriod != Duration(5*time.Minute) || !got.Provet.CreateWalkIns {
		t.Errorf("loaded %+v, %v", got, err)
	}
	if strings.Contains(string(b), `"quiet_period": "0s"`) {
		t.Error("an unset quiet period is written")
	}
}

// Only what signs in to a tenant drops the session when it changes.
func TestSameConnection(t *testing.T) {
	p := Default().Provet
	q := p
	q.CreateWalkIns, q.StatusFilter, q.Mapping = true, provet.StatusFilterBrackets, map[string]string{"status": "state"}
	if !p.SameConnection(q) {
		t.Error("walk-ins, the status filter or the mapping dropped the session")
	}
	q.Grant = GrantAuthorizationCode
	if !p.SameConnection(q) {
		t.Error("naming the default grant dropped the session")
	}
	q.Grant = GrantClientCredentials
	if p.SameConnection(q) {
		t.Error("switching to Client Credentials kept the technician's session")
	}
	q = p
	q.ClientID = "other"
	if p.SameConnection(q) {
		t.Error("another client id kept the session")
	}
}
