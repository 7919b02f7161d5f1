package scp

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestLogLimiter(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	l := &logLimiter{every: 5 * time.Minute, now: func() time.Time { return now }}
	a, b := netip.MustParseAddr("192.168.1.31"), netip.MustParseAddr("192.168.1.32")
	if ok, _ := l.allow(a, "refused"); !ok {
		t.Fatal("first line held back")
	}
	for range 3 {
		if ok, _ := l.allow(a, "refused"); ok {
			t.Fatal("repeat within the interval let through")
		}
	}
	if ok, _ := l.allow(b, "refused"); !ok {
		t.Fatal("another host held back")
	}
	if ok, _ := l.allow(a, "other message"); !ok {
		t.Fatal("another message held back")
	}
	now = now.Add(5 * time.Minute)
	if ok, n := l.allow(a, "refused"); !ok || n != 3 {
		t.Fatalf("after the interval: %v, %d held back; want true, 3", ok, n)
	}
}

// Hosts beyond maxLimitKeys share one key: memory stays bounded and a flood
// from ever new addresses still writes one line per interval.
func TestLogLimiterBounded(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	l := &logLimiter{every: 5 * time.Minute, now: func() time.Time { return now }}
	written := 0
	for i := range 3 * maxLimitKeys {
		ip := netip.MustParseAddr(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
		if ok, _ := l.allow(ip, "refused"); ok {
			written++
		}
	}
	if written != maxLimitKeys+1 || len(l.seen) != maxLimitKeys+1 {
		t.Fatalf("%d lines written, %d keys kept; want %d each", written, len(l.seen), maxLimitKeys+1)
	}
	// Once the interval has passed, quiet hosts are forgotten to make room.
	now = now.Add(5 * time.Minute)
	if ok, _ := l.allow(netip.MustParseAddr("172.16.0.1"), "refused"); !ok {
		t.Fatal("new host after pruning held back")
	}
	if len(l.seen) > 2 {
		t.Fatalf("%d keys kept after pruning", len(l.seen))
	}
}

func TestHostKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.168.1.31":         "192.168.1.31",
		"2001:db8:1:2:aaaa::1": "2001:db8:1:2::",
		"2001:db8:1:2:bbbb::7": "2001:db8:1:2::",
		"fe80::1%eth0":         "fe80::",
	} {
		if got := hostKey(netip.MustParseAddr(in)); got != netip.MustParseAddr(want) {
			t.Errorf("hostKey(%s) = %s, want %s", in, got, want)
		}
	}
}
