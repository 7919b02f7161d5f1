package scp_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/pdu"
	"github.com/vetbridge/vetbridge/dicom/scp"
	"github.com/vetbridge/vetbridge/dicom/scu"
)

// devicePolicy is "known devices only" in miniature: DX1 is registered and
// may come from anywhere (so a host that spoofs its AE title is DX1 too),
// US1 is registered from 127.0.0.1 only, GUEST is admitted as a stranger
// (as the demo admits everyone) and every other AE is refused.
func devicePolicy(callingAE, calledAE string, ip netip.Addr) scp.Admission {
	switch {
	case calledAE == "NOT-US":
		return scp.Admission{Refuse: scp.RefusedCalledAE, Detail: "not our AE title"}
	case callingAE == "DX1":
		return scp.Admission{Registered: true}
	case callingAE == "US1" && ip == netip.MustParseAddr("127.0.0.1"):
		return scp.Admission{Registered: true}
	case callingAE == "US1":
		return scp.Admission{Refuse: scp.RefusedAddress, Detail: "US1 is registered from 127.0.0.1 only"}
	case callingAE == "GUEST":
		return scp.Admission{}
	}
	return scp.Admission{Refuse: scp.RefusedCallingAE, Detail: "not a registered device"}
}

// refusals collects OnRefused events.
type refusals struct {
	mu   sync.Mutex
	list []scp.Refusal
}

func (r *refusals) add(x scp.Refusal) { r.mu.Lock(); r.list = append(r.list, x); r.mu.Unlock() }

func (r *refusals) all() []scp.Refusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]scp.Refusal(nil), r.list...)
}

// fakeClock is a settable clock for refusal times and log limits.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingMPPS counts the requests that reached it.
type countingMPPS struct{ n atomic.Int32 }

func (m *countingMPPS) NCreate(context.Context, scp.MPPSRequest) scp.MPPSResponse {
	m.n.Add(1)
	return scp.MPPSResponse{Status: dimse.StatusSuccess}
}

func (m *countingMPPS) NSet(context.Context, scp.MPPSRequest) scp.MPPSResponse {
	m.n.Add(1)
	return scp.MPPSResponse{Status: dimse.StatusSuccess}
}

// needSecondLoopback skips unless 127.0.0.2 can reach srvAddr: it is a
// loopback address on Linux, but macOS and Windows configure 127.0.0.1 only.
func needSecondLoopback(t testing.TB, srvAddr string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("127.0.0.2 is not a loopback address on %s; the per-address tests need two local addresses", runtime.GOOS)
	}
	c, err := dialFrom("127.0.0.2", srvAddr)
	if err != nil {
		t.Skipf("cannot connect from 127.0.0.2 (%v); the per-address tests need two local addresses", err)
	}
	c.Close()
}

func dialFrom(local, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return d.Dial("tcp", addr)
}

// associateFrom opens an association from the local address.
func associateFrom(ctx context.Context, local, addr string, opts scu.Options) (*scu.Assoc, error) {
	conn, err := dialFrom(local, addr)
	if err != nil {
		return nil, err
	}
	if opts.CalledAE == "" {
		opts.CalledAE = "VETBRIDGE"
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	a, err := scu.Associate(ctx, conn, opts)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return a, nil
}

func wantRJ(t testing.TB, err error, result, source, reason byte) {
	t.Helper()
	var rj *scu.RejectedError
	if !errors.As(err, &rj) || rj.RJ.Result != result || rj.RJ.Source != source || rj.RJ.Reason != reason {
		t.Fatalf("got %v, want A-ASSOCIATE-RJ %d/%d/%d", err, result, source, reason)
	}
}

func TestStrangerFindSCUIsRefused(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 21, 10, 42, 0, 0, time.UTC)}
	var seen atomic.Value
	var finds atomic.Int32
	find := worklistHandler(t, 2, 0, &seen)
	var refused refusals
	srv := startServer(t, scp.Config{
		Admit: devicePolicy, OnRefused: refused.add, Now: clock.Now,
		Find: func(ctx context.Context, req scp.FindRequest, send func([]byte) error) uint16 {
			finds.Add(1)
			return find(ctx, req, send)
		},
	})
	out, err := runDCMTK(t, "findscu", "-v", "-W", "-aet", "STRANGER", "-aec", "VETBRIDGE",
		"-k", "PatientName=", "127.0.0.1", srv.Port)
	if err == nil {
		t.Fatalf("findscu succeeded for a stranger:\n%s", out)
	}
	if !strings.Contains(out, "Rejected Permanent") || !strings.Contains(out, "Calling AE Title Not Recognized") {
		t.Fatalf("findscu did not report a permanent rejection for its calling AE:\n%s", out)
	}
	if pendingRe.MatchString(out) || finds.Load() != 0 {
		t.Fatalf("a stranger got data: %d queries reached the handler\n%s", finds.Load(), out)
	}
	got := refused.all()
	if len(got) != 1 {
		t.Fatalf("%d refusal events for one attempt: %+v", len(got), got)
	}
	r := got[0]
	if r.CallingAE != "STRANGER" || r.CalledAE != "VETBRIDGE" || r.IP != netip.MustParseAddr("127.0.0.1") ||
		!strings.HasPrefix(r.Addr, "127.0.0.1:") || r.Reason != scp.RefusedCallingAE ||
		r.Detail != "not a registered device" || !r.Time.Equal(clock.Now()) {
		t.Errorf("refusal event %+v", r)
	}

	// The registered device on the same address is served.
	out, err = runDCMTK(t, "findscu", "-v", "-W", "-aet", "DX1", "-aec", "VETBRIDGE",
		"-k", "PatientName=", "127.0.0.1", srv.Port)
	if err != nil || len(pendingRe.FindAllString(out, -1)) != 2 {
		t.Fatalf("registered device not served: %v\n%s", err, out)
	}
	if n := len(refused.all()); n != 1 {
		t.Errorf("%d refusal events after a registered device's query, want still 1", n)
	}
}

func TestAdmissionRefusals(t *testing.T) {
	var refused refusals
	var rejectedEvents atomic.Int32
	var accepted atomic.Value
	srv := startServer(t, scp.Config{Admit: devicePolicy, OnRefused: refused.add,
		OnAssociation: func(ev scp.AssociationEvent) {
			switch ev.Kind {
			case scp.Rejected:
				rejectedEvents.Add(1)
			case scp.Accepted:
				accepted.Store(ev)
			}
		}})
	ctx := context.Background()
	for range 3 {
		_, err := scu.Dial(ctx, srv.Addr, scu.Options{CallingAE: "DX-ROOM2", CalledAE: "VETBRIDGE", Timeout: 5 * time.Second})
		wantRJ(t, err, pdu.RJResultPermanent, pdu.RJSourceUser, pdu.RJReasonCallingAENotRecog)
	}
	_, err := scu.Dial(ctx, srv.Addr, scu.Options{CallingAE: "DX1", CalledAE: "NOT-US", Timeout: 5 * time.Second})
	wantRJ(t, err, pdu.RJResultPermanent, pdu.RJSourceUser, pdu.RJReasonCalledAENotRecog)
	want := []scp.RefusalReason{scp.RefusedCallingAE, scp.RefusedCallingAE, scp.RefusedCallingAE, scp.RefusedCalledAE}

	needSecondLoopback(t, srv.Addr)
	_, err = associateFrom(ctx, "127.0.0.2", srv.Addr, scu.Options{CallingAE: "US1"})
	wantRJ(t, err, pdu.RJResultPermanent, pdu.RJSourceUser, pdu.RJReasonNoReason)
	want = append(want, scp.RefusedAddress)
	a, err := associateFrom(ctx, "127.0.0.1", srv.Addr, scu.Options{CallingAE: "US1"})
	if err != nil {
		t.Fatalf("US1 from its own address: %v", err)
	}
	a.Release(ctx)
	if ev, _ := accepted.Load().(scp.AssociationEvent); ev.Peer.CallingAE != "US1" || !ev.Registered {
		t.Errorf("accepted event %+v, want US1 marked registered", ev)
	}

	got := refused.all()
	if len(got) != len(want) {
		t.Fatalf("%d refusal events, want one per attempt (%d): %+v", len(got), len(want), got)
	}
	for i, r := range got {
		if r.Reason != want[i] {
			t.Errorf("event %d: reason %v, want %v", i, r.Reason, want[i])
		}
	}
	if last := got[len(got)-1]; last.IP != netip.MustParseAddr("127.0.0.2") || last.CallingAE != "US1" {
		t.Errorf("address refusal %+v", last)
	}
	if n := rejectedEvents.Load(); n != int32(len(want)) {
		t.Errorf("%d Rejected association events, want %d", n, len(want))
	}
}

// A refused peer that sends its requests right behind the A-ASSOCIATE-RQ,
// or without associating at all, reaches no handler.
func TestRefusedPeerReachesNoHandler(t *testing.T) {
	var finds atomic.Int32
	mpps := &countingMPPS{}
	srv := startServer(t, scp.Config{Admit: devicePolicy, MPPS: mpps,
		Find: func(context.Context, scp.FindRequest, func([]byte) error) uint16 {
			finds.Add(1)
			return dimse.StatusSuccess
		}})
	id := []byte{0x10, 0, 0x10, 0, 'P', 'N', 2, 0, 'A', ' '}
	var f dimse.Fragmenter
	f.PeerMaxPDU = 16384
	var requests []byte
	for _, m := range []struct {
		ctx byte
		cmd *dimse.Command
	}{
		{5, &dimse.Command{CommandField: dimse.NCreateRQ, MessageID: 1, AffectedSOPClassUID: dimse.MPPSSOPClass, AffectedSOPInstanceUID: "2.25.7", HasDataSet: true}},
		{5, &dimse.Command{CommandField: dimse.NSetRQ, MessageID: 2, RequestedSOPClassUID: dimse.MPPSSOPClass, RequestedSOPInstanceUID: "2.25.7", HasDataSet: true}},
		{3, &dimse.Command{CommandField: dimse.CFindRQ, MessageID: 3, AffectedSOPClassUID: dimse.ModalityWorklistFind, HasDataSet: true}},
	} {
		b, err := f.Append(nil, m.ctx, m.cmd, id)
		if err != nil {
			t.Fatal(err)
		}
		requests = append(requests, b...)
	}

	rq := defaultRQ()
	rq.CallingAE = "INTRUDER"
	c := dialRaw(t, srv.Addr)
	c.writeBytes(append(mustEncode(t, rq), requests...))
	p, err := c.read()
	if rj, ok := p.(*pdu.AssociateRJ); err != nil || !ok || rj.Reason != pdu.RJReasonCallingAENotRecog {
		t.Fatalf("pipelined requests after a refused RQ: answered %v, %v", p, err)
	}
	c.expectClosed(3 * time.Second)

	c = dialRaw(t, srv.Addr)
	c.writeBytes(requests)
	c.expectAbort()

	// A registered device's association is no door for another calling AE
	// either: the AE is fixed at A-ASSOCIATE-RQ time, so one more check of
	// the handlers' counts after a stranger's full MPPS attempt suffices.
	_, err = scu.Dial(context.Background(), srv.Addr, scu.Options{CallingAE: "INTRUDER", CalledAE: "VETBRIDGE", Timeout: 5 * time.Second})
	wantRJ(t, err, pdu.RJResultPermanent, pdu.RJSourceUser, pdu.RJReasonCallingAENotRecog)
	if finds.Load() != 0 || mpps.n.Load() != 0 {
		t.Fatalf("refused peers reached the handlers: %d C-FIND, %d MPPS", finds.Load(), mpps.n.Load())
	}
}

// logLines records log messages with their attributes.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logLines) WithGroup(string) slog.Handler            { return l }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	var b bytes.Buffer
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}

func (l *logLines) matching(msg string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.lines {
		if strings.Contains(s, msg) {
			out = append(out, s)
		}
	}
	return out
}

func TestRefusalLogIsRateLimited(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	logs := &logLines{}
	var refused refusals
	srv := startServer(t, scp.Config{Admit: devicePolicy, OnRefused: refused.add, Now: clock.Now,
		HostLogInterval: 5 * time.Minute, Logger: slog.New(logs)})
	knock := func(local string) {
		t.Helper()
		_, err := associateFrom(context.Background(), local, srv.Addr, scu.Options{CallingAE: "DX-ROOM2"})
		wantRJ(t, err, pdu.RJResultPermanent, pdu.RJSourceUser, pdu.RJReasonCallingAENotRecog)
	}
	for range 5 {
		knock("127.0.0.1")
		clock.Add(30 * time.Second)
	}
	if n := len(refused.all()); n != 5 {
		t.Fatalf("%d refusal events for 5 attempts", n)
	}
	if lines := logs.matching("association rejected"); len(lines) != 1 {
		t.Fatalf("5 refusals within 5 min logged %d lines, want 1: %q", len(lines), lines)
	}
	clock.Add(3 * time.Minute) // 5.5 min after the first line
	knock("127.0.0.1")
	lines := logs.matching("association rejected")
	if len(lines) != 2 || !strings.Contains(lines[1], "suppressed=4") {
		t.Fatalf("after the interval: %q, want a second line counting 4 held back", lines)
	}
	if !strings.Contains(lines[0], "DX-ROOM2") || !strings.Contains(lines[0], "not a registered device") {
		t.Errorf("refusal line does not say who and why: %q", lines[0])
	}

	needSecondLoopback(t, srv.Addr)
	knock("127.0.0.2")
	if lines := logs.matching("association rejected"); len(lines) != 3 || !strings.Contains(lines[2], "127.0.0.2") {
		t.Fatalf("another host's refusal is not logged on its own: %q", lines)
	}
	if n := len(refused.all()); n != 7 {
		t.Fatalf("%d refusal events for 7 attempts", n)
	}
}

func TestReservedSlotsForRegisteredDevices(t *testing.T) {
	srv := startServer(t, scp.Config{Admit: devicePolicy, MaxAssociations: 4, ReservedAssociations: 2})
	ctx := context.Background()
	hold := func(ae string) *scu.Assoc {
		t.Helper()
		a := dial(t, srv.Addr, scu.Options{CallingAE: ae})
		t.Cleanup(func() { a.Release(ctx) })
		return a
	}
	hold("GUEST")
	hold("GUEST")
	_, err := scu.Dial(ctx, srv.Addr, scu.Options{CallingAE: "GUEST", CalledAE: "VETBRIDGE", Timeout: 5 * time.Second})
	wantRJ(t, err, pdu.RJResultTransient, pdu.RJSourceProviderPresentn, pdu.RJReasonLocalLimitExceeded)
	for range 2 {
		if err := hold("DX1").Echo(ctx); err != nil {
			t.Fatalf("registered device in a reserved slot: %v", err)
		}
	}
	_, err = scu.Dial(ctx, srv.Addr, scu.Options{CallingAE: "DX1", CalledAE: "VETBRIDGE", Timeout: 5 * time.Second})
	wantRJ(t, err, pdu.RJResultTransient, pdu.RJSourceProviderPresentn, pdu.RJReasonLocalLimitExceeded)
	if n := srv.ActiveAssociations(); n != 4 {
		t.Errorf("%d associations, want 4", n)
	}
}

func TestPerAddressCaps(t *testing.T) {
	srv := startServer(t, scp.Config{Admit: devicePolicy, MaxAssociationsPerIP: 3, MaxPendingPerIP: 4,
		ARTIMTimeout: time.Minute})
	needSecondLoopback(t, srv.Addr)
	ctx := context.Background()
	for range 3 {
		a, err := associateFrom(ctx, "127.0.0.2", srv.Addr, scu.Options{CallingAE: "DX1"})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Release(ctx)
	}
	_, err := associateFrom(ctx, "127.0.0.2", srv.Addr, scu.Options{CallingAE: "DX1"})
	wantRJ(t, err, pdu.RJResultTransient, pdu.RJSourceProviderPresentn, pdu.RJReasonLocalLimitExceeded)
	a, err := associateFrom(ctx, "127.0.0.1", srv.Addr, scu.Options{CallingAE: "DX1"})
	if err != nil {
		t.Fatalf("another address is held back by 127.0.0.2's associations: %v", err)
	}
	a.Release(ctx)

	// Four silent sockets fill 127.0.0.2's negotiation slots; the last two
	// came while they were half used, so they get the short ARTIM timer.
	// The refused attempt's connection lingers until the peer closes.
	waitFor(t, func() bool { return srv.PendingConnections() == 0 })
	start := time.Now()
	var silent []net.Conn
	for range 4 {
		c, err := dialFrom("127.0.0.2", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	waitFor(t, func() bool { return srv.PendingConnections() == 4 })
	extra, err := dialFrom("127.0.0.2", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	(&rawClient{t: t, conn: extra}).expectClosed(time.Second)
	mustEchoFrom(t, "127.0.0.1", srv.Addr)

	for _, c := range silent[2:] {
		(&rawClient{t: t, conn: c}).expectClosed(10 * time.Second)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("crowded silent sockets closed after %v; ARTIM is a minute, the crowded one a second", d)
	}
	// The uncrowded two keep theirs.
	waitFor(t, func() bool { return srv.PendingConnections() == 2 })
}

func mustEchoFrom(t testing.TB, local, addr string) {
	t.Helper()
	a, err := associateFrom(context.Background(), local, addr, scu.Options{CallingAE: "DX1"})
	if err != nil {
		t.Fatalf("associating from %s: %v", local, err)
	}
	if err := a.Echo(context.Background()); err != nil {
		t.Fatalf("echo from %s: %v", local, err)
	}
	a.Release(context.Background())
}
