package app

import (
	"slices"
	"testing"
)

func TestOverridesNameWhatTheCommandLineKeeps(t *testing.T) {
	a, err := Open(Options{DataDir: t.TempDir(), Override: func(c *Config) { c.DICOM.Port = 4242 }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := a.Overrides(); !slices.Equal(got, []string{"the DICOM port stays 4242 (--dicom-port)"}) {
		t.Fatalf("overrides %q", got)
	}
}
