package app

import (
	"strings"
	"testing"
)

func TestReferralNoticeHidesOwnerUnlessAllowed(t *testing.T) {
	r := Referral{PetName: "Pörri", Species: "Dog", Breed: "Finnish Lapphund", OwnerName: "Mäkinen",
		Exam: "X-ray thorax", RequestingVet: "Dr. Virtanen", Modality: "DX", StationAE: "DX1"}
	title, msg := r.Notice(false)
	if strings.Contains(msg, "Mäkinen") || !strings.Contains(title, "X-ray thorax") || !strings.Contains(msg, "Pörri (Dog, Finnish Lapphund)") {
		t.Fatalf("got %q / %q", title, msg)
	}
	if _, msg := r.Notice(true); !strings.Contains(msg, "Mäkinen") {
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
