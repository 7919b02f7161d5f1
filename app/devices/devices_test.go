package devices

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/settings"
	"github.com/vetbridge/vetbridge/dicom/scp"
	"github.com/vetbridge/vetbridge/store"
)

func testDICOM(onlyKnown bool) settings.DICOMConfig {
	c := settings.Default().DICOM
	c.OnlyKnownDevices = onlyKnown
	c.Profiles = []settings.DeviceProfile{
		{CallingAE: "US1", Charset: "latin-1", AllowedAddrs: []string{"192.168.1.20"}},
		{CallingAE: "DX1", Charset: "auto"},
	}
	return c
}

func TestAdmitAppliesTheDevicePolicy(t *testing.T) {
	ip := netip.MustParseAddr
	cases := []struct {
		ae, addr   string
		onlyKnown  bool
		refuse     scp.RefusalReason
		registered bool
	}{
		{"US1", "192.168.1.20", true, scp.NotRefused, true},
		{"us1", "::ffff:192.168.1.20", true, scp.NotRefused, true}, // AE titles are case-insensitive here; IPv4-mapped is the same host
		{"US1", "192.168.1.99", true, scp.RefusedAddress, false},   // right AE, wrong machine
		{"DX1", "10.0.0.5", true, scp.NotRefused, true},            // a profile without addresses
		{"NEWDEV", "10.0.0.6", true, scp.RefusedCallingAE, false},  // strangers get nothing by default
		{"NEWDEV", "10.0.0.6", false, scp.NotRefused, false},       // unless the clinic opened the worklist to all
	}
	for _, c := range cases {
		got := Admit(testDICOM(c.onlyKnown), c.ae, ip(c.addr))
		if got.Refuse != c.refuse || got.Registered != c.registered {
			t.Errorf("%s from %s (only known %v): %+v, want refuse=%v registered=%v", c.ae, c.addr, c.onlyKnown, got, c.refuse, c.registered)
		}
	}
	if !settings.Default().DICOM.OnlyKnownDevices {
		t.Error("a fresh installation must be closed to unregistered devices")
	}
}

func openRegistry(t *testing.T, dir string) (*Registry, *store.Store) {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Open(st, discard()), st
}

func TestRefusedDevicesAreRememberedAndAllowedWithOneCall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	r, st := openRegistry(t, dir)
	at := time.Date(2026, 11, 29, 10, 42, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		r.Refused(scp.Refusal{Time: at.Add(time.Duration(i) * time.Second), CallingAE: "DX-ROOM2",
			IP: netip.MustParseAddr("192.168.1.31"), Reason: scp.RefusedCallingAE, Detail: "not a registered device"})
	}
	cfg := testDICOM(true)
	list := r.List(cfg)
	if len(list) == 0 || list[0].CallingAE != "DX-ROOM2" || list[0].Refused != 3 || list[0].Addr != "192.168.1.31" ||
		!list[0].LastRefused.Equal(at.Add(2*time.Second)) || list[0].Known {
		t.Fatalf("refused stranger not listed first with its attempts: %+v", list)
	}
	// Refusals survive a restart.
	r.save()
	st.Close()
	r, st = openRegistry(t, dir)
	defer st.Close()
	if got := r.List(cfg); got[0].Refused != 3 {
		t.Fatalf("after a restart: %+v", got[0])
	}
	allowed, err := Allow(cfg, "DX-ROOM2", []string{"192.168.1.31"})
	if err != nil {
		t.Fatal(err)
	}
	r.Forget("DX-ROOM2")
	if a := Admit(allowed, "DX-ROOM2", netip.MustParseAddr("192.168.1.31")); a.Refuse != scp.NotRefused || !a.Registered {
		t.Errorf("an allowed device is refused: %+v", a)
	}
	if a := Admit(allowed, "DX-ROOM2", netip.MustParseAddr("192.168.1.32")); a.Refuse != scp.RefusedAddress {
		t.Errorf("an allowed device from another address: %+v", a)
	}
	for _, d := range r.List(allowed) {
		if d.CallingAE == "DX-ROOM2" && (!d.Known || d.Refused != 0) {
			t.Errorf("after Allow: %+v", d)
		}
	}
	removed, err := Remove(allowed, "dx-room2")
	if err != nil || len(removed.Profiles) != len(cfg.Profiles) {
		t.Fatalf("remove: %v, %d profiles", err, len(removed.Profiles))
	}
	if _, err := Remove(removed, "NOPE"); err == nil {
		t.Error("removing an unknown device must say so")
	}
	if _, err := Allow(cfg, "DX2", []string{"not-an-ip"}); err == nil {
		t.Error("a bad address must be refused in words")
	}
}

func TestRefusalsAreBounded(t *testing.T) {
	r, st := openRegistry(t, t.TempDir())
	defer st.Close()
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 3*maxRefused; i++ {
		r.Refused(scp.Refusal{Time: at.Add(time.Duration(i) * time.Millisecond), CallingAE: "X" + string(rune('A'+i%26)) + time.Duration(i).String(),
			IP: netip.MustParseAddr("10.0.0.9")})
	}
	if n := len(r.List(settings.DICOMConfig{})); n != maxRefused {
		t.Fatalf("%d refused devices remembered, want at most %d", n, maxRefused)
	}
}
