package app

import (
	"net/netip"
	"testing"
)

func TestAllowAssociationAppliesTheAllowLists(t *testing.T) {
	a, err := Open(Options{DataDir: t.TempDir(), Override: func(c *Config) {
		c.DICOM.Profiles = []DeviceProfile{
			{CallingAE: "US1", Charset: "latin-1", AllowedAddrs: []string{"192.168.1.20"}},
			{CallingAE: "DX1", Charset: "auto"},
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ip := netip.MustParseAddr
	cases := []struct {
		ae, addr  string
		onlyKnown bool
		ok        bool
	}{
		{"US1", "192.168.1.20", false, true},
		{"us1", "::ffff:192.168.1.20", false, true}, // AE titles are case-insensitive here; IPv4-mapped is the same host
		{"US1", "192.168.1.99", false, false},       // right AE, wrong machine
		{"DX1", "10.0.0.5", false, true},            // a profile without addresses
		{"NEWDEV", "10.0.0.6", false, true},         // unknown devices get the default profile
		{"NEWDEV", "10.0.0.6", true, false},         // unless only known devices may connect
		{"DX1", "10.0.0.5", true, true},
	}
	for _, c := range cases {
		cfg := a.Effective()
		cfg.DICOM.OnlyKnownDevices = c.onlyKnown
		a.mu.Lock()
		a.cfg = cfg
		a.mu.Unlock()
		err := a.allowAssociation(c.ae, "VETBRIDGE", ip(c.addr))
		if (err == nil) != c.ok {
			t.Errorf("%s from %s (only known %v): err %v, want allowed=%v", c.ae, c.addr, c.onlyKnown, err, c.ok)
		}
	}
	if p := a.profileFor("US1"); p.Charset != "ISO_IR 100" {
		t.Errorf("US1's profile charset %q, want Latin-1", p.Charset)
	}
}
