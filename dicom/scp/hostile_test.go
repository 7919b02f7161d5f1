package scp_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
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

func pduHeader(typ byte, n uint32) []byte {
	b := []byte{typ, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[2:], n)
	return b
}

// Each case misbehaves on its own connection; the server must end only that
// connection and keep answering others.
func TestMalformedInputEndsOnlyThatConnection(t *testing.T) {
	var seen atomic.Value
	srv := startServer(t, scp.Config{Find: worklistHandler(t, 1, 0, &seen), ARTIMTimeout: 2 * time.Second})
	before := []struct {
		name string
		in   []byte
	}{
		{"4 GiB length claim", pduHeader(1, 0xFFFFFFFF)},
		{"unknown PDU type", append(pduHeader(0x42, 4), 0, 0, 0, 0)},
		{"P-DATA before association", append(pduHeader(4, 7), 0, 0, 0, 3, 1, 3, 0)},
		{"truncated A-ASSOCIATE-RQ", append(pduHeader(1, 10), make([]byte, 10)...)},
		{"item overrunning the RQ", append(pduHeader(1, 72), append(make([]byte, 68), 0x20, 0, 0xFF, 0xFF)...)},
		{"HTTP instead of DICOM", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
	}
	for _, c := range before {
		t.Run("before/"+c.name, func(t *testing.T) {
			r := dialRaw(t, srv.Addr)
			r.writeBytes(c.in)
			r.expectAbort()
			r.expectClosed(3 * time.Second)
			mustEcho(t, srv.Addr)
		})
	}
	echo, _ := (&dimse.Command{CommandField: dimse.CEchoRQ, MessageID: 1, AffectedSOPClassUID: dimse.VerificationSOPClass}).Encode(nil)
	after := []struct {
		name string
		in   []byte
	}{
		{"4 GiB P-DATA claim", pduHeader(4, 0xFFFFFFFF)},
		{"P-DATA over the read limit", pduHeader(4, 1<<20)},
		{"PDV longer than its PDU", append(pduHeader(4, 8), 0, 0, 0, 40, 1, 3, 0, 0)},
		{"PDV on an unproposed context", pdvPDU(99, true, true, echo)},
		{"data set before command", pdvPDU(1, false, true, []byte{1, 2})},
		{"garbage command set", pdvPDU(1, true, true, []byte("not a command set"))},
		{"second A-ASSOCIATE-RQ", mustEncode(t, defaultRQ())},
		{"A-ASSOCIATE-AC from a requester", mustEncode(t, &pdu.AssociateAC{ApplicationContext: pdu.ApplicationContextName})},
		{"unknown PDU type", append(pduHeader(0x42, 4), 0, 0, 0, 0)},
	}
	for _, c := range after {
		t.Run("after/"+c.name, func(t *testing.T) {
			r := dialRaw(t, srv.Addr)
			r.mustAssociate()
			r.writeBytes(c.in)
			r.expectAbort()
			r.expectClosed(3 * time.Second)
			mustEcho(t, srv.Addr)
		})
	}
}

func pdvPDU(ctx byte, command, last bool, data []byte) []byte {
	b, _ := (&pdu.PDataTF{PDVs: []pdu.PDV{{ContextID: ctx, Command: command, Last: last, Data: data}}}).Append(nil)
	return b
}

func mustEncode(t testing.TB, p pdu.PDU) []byte {
	b, err := p.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestARTIMClosesSilentConnection(t *testing.T) {
	srv := startServer(t, scp.Config{ARTIMTimeout: 150 * time.Millisecond})
	r := dialRaw(t, srv.Addr)
	start := time.Now()
	r.expectClosed(3 * time.Second)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("closed after %v, before the ARTIM timeout", d)
	}
	// Half a PDU header, then silence: also ARTIM.
	r = dialRaw(t, srv.Addr)
	r.writeBytes([]byte{1, 0, 0})
	r.expectClosed(3 * time.Second)
	mustEcho(t, srv.Addr)
}

func TestIdleAssociationIsAborted(t *testing.T) {
	var ended atomic.Value
	srv := startServer(t, scp.Config{IdleTimeout: 150 * time.Millisecond, OnAssociation: func(ev scp.AssociationEvent) {
		if ev.Kind == scp.Ended {
			ended.Store(ev.Reason)
		}
	}})
	r := dialRaw(t, srv.Addr)
	r.mustAssociate()
	r.expectAbort()
	r.expectClosed(3 * time.Second)
	waitFor(t, func() bool { return ended.Load() == "idle timeout" })
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A long query keeps the association busy: the idle timer must not fire
// while answers are being produced slowly.
func TestSlowQueryIsNotIdle(t *testing.T) {
	var seen atomic.Value
	srv := startServer(t, scp.Config{IdleTimeout: 100 * time.Millisecond, Find: worklistHandler(t, 8, 50*time.Millisecond, &seen)})
	a := dial(t, srv.Addr, scu.Options{})
	defer a.Release(context.Background())
	syn, _ := a.Syntax(dimse.ModalityWorklistFind)
	n := 0
	status, err := a.Find(context.Background(), dimse.ModalityWorklistFind, queryIdentifier(t, syn), func([]byte) error { n++; return nil })
	if err != nil || status != dimse.StatusSuccess || n != 8 {
		t.Fatalf("status 0x%04X, %d answers, err %v", status, n, err)
	}
}

func TestPeerThatStopsReadingEndsOnlyItsAssociation(t *testing.T) {
	big := bytes.Repeat([]byte{'A'}, 60000)
	var ended atomic.Value
	sendErr := make(chan error, 1)
	srv := startServer(t, scp.Config{
		WriteTimeout: 300 * time.Millisecond,
		Find: func(ctx context.Context, req scp.FindRequest, send func([]byte) error) uint16 {
			if req.Peer.CallingAE != "STALLER" {
				return dimse.StatusSuccess
			}
			for {
				if err := send(big); err != nil {
					sendErr <- err
					return dimse.StatusUnableToProcess
				}
			}
		},
		OnAssociation: func(ev scp.AssociationEvent) {
			if ev.Kind == scp.Ended && ev.Peer.CallingAE == "STALLER" {
				ended.Store(ev.Reason)
			}
		},
	})
	r := dialRaw(t, srv.Addr)
	rq := defaultRQ()
	rq.CallingAE = "STALLER"
	if _, ok := r.associate(rq).(*pdu.AssociateAC); !ok {
		t.Fatal("not accepted")
	}
	r.send(3, &dimse.Command{CommandField: dimse.CFindRQ, MessageID: 1, AffectedSOPClassUID: dimse.ModalityWorklistFind, HasDataSet: true}, []byte{})
	// Never read. Meanwhile another device must be served normally.
	a := dial(t, srv.Addr, scu.Options{})
	syn, _ := a.Syntax(dimse.ModalityWorklistFind)
	if st, err := a.Find(context.Background(), dimse.ModalityWorklistFind, queryIdentifier(t, syn), func([]byte) error { return nil }); err != nil || st != 0 {
		t.Fatalf("other association: 0x%04X %v", st, err)
	}
	a.Release(context.Background())
	select {
	case err := <-sendErr:
		if !errors.Is(err, scp.ErrAssociationGone) {
			t.Errorf("send error %v, want ErrAssociationGone", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stalled peer's send never failed")
	}
	waitFor(t, func() bool { s, _ := ended.Load().(string); return strings.HasPrefix(s, "write failed") })
}

func TestAbortMidStream(t *testing.T) {
	var ended atomic.Value
	handlerErr := make(chan error, 1)
	srv := startServer(t, scp.Config{
		Find: func(ctx context.Context, req scp.FindRequest, send func([]byte) error) uint16 {
			for {
				if err := send([]byte{0x10, 0, 0x20, 0, 2, 0, 0, 0, 'X', ' '}); err != nil {
					handlerErr <- err
					return dimse.StatusUnableToProcess
				}
				time.Sleep(time.Millisecond)
			}
		},
		OnAssociation: func(ev scp.AssociationEvent) {
			if ev.Kind == scp.Ended {
				ended.Store(ev.Reason)
			}
		},
	})
	a := dial(t, srv.Addr, scu.Options{Contexts: []scu.Context{{AbstractSyntax: dimse.ModalityWorklistFind, TransferSyntaxes: []string{dimse.ImplicitVRLittleEndian}}}})
	n := 0
	_, err := a.Find(context.Background(), dimse.ModalityWorklistFind, []byte{}, func([]byte) error {
		if n++; n == 3 {
			a.Abort()
		}
		return nil
	})
	if err == nil {
		t.Fatal("Find succeeded after Abort")
	}
	select {
	case err := <-handlerErr:
		if !errors.Is(err, scp.ErrAssociationGone) {
			t.Errorf("handler saw %v, want ErrAssociationGone", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler kept running after A-ABORT")
	}
	waitFor(t, func() bool { return ended.Load() == "aborted by peer" })
	mustEcho(t, srv.Addr)
}

func TestAssociationCap(t *testing.T) {
	// 300 simultaneous connections fit under the default MaxPending, so
	// each one gets a proper answer, AC or RJ, never a bare close. They all
	// come from one address, so the per-address caps are lifted: this is
	// about the server-wide cap (TestPerAddressCaps covers those).
	const cap, clients = 64, 300
	srv := startServer(t, scp.Config{MaxAssociations: cap, MaxPendingPerIP: -1, MaxAssociationsPerIP: -1})
	var (
		wg                 sync.WaitGroup
		accepted, rejected atomic.Int32
		otherErr           atomic.Value
		allTried           = make(chan struct{})
		tried              atomic.Int32
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := scu.Dial(context.Background(), srv.Addr, scu.Options{CalledAE: "VETBRIDGE", Timeout: 20 * time.Second})
			if tried.Add(1) == clients {
				close(allTried)
			}
			var rj *scu.RejectedError
			switch {
			case err == nil:
				accepted.Add(1)
				// Hold the association until every client has tried, so
				// the cap is really reached.
				<-allTried
				if err := a.Echo(context.Background()); err != nil {
					otherErr.Store(err)
				}
				a.Release(context.Background())
			case errors.As(err, &rj) && rj.RJ.Result == pdu.RJResultTransient && rj.RJ.Reason == pdu.RJReasonLocalLimitExceeded:
				rejected.Add(1)
			default:
				otherErr.Store(err)
			}
		}()
	}
	wg.Wait()
	if err := otherErr.Load(); err != nil {
		t.Fatalf("unexpected failure: %v", err)
	}
	if accepted.Load() != cap || rejected.Load() != clients-cap {
		t.Fatalf("accepted %d, rejected %d; want %d and %d", accepted.Load(), rejected.Load(), cap, clients-cap)
	}
	waitFor(t, func() bool { return srv.ActiveAssociations() == 0 })
	mustEcho(t, srv.Addr)
}

func TestIdleConnectionsDoNotStarveQueries(t *testing.T) {
	var seen atomic.Value
	// Same address for the idle sockets and the query: the per-address
	// pending cap is lifted to show that the server-wide one does not count
	// against associations (TestFloodFromOneAddress covers other hosts).
	srv := startServer(t, scp.Config{MaxAssociations: 4, MaxPendingPerIP: -1, Find: worklistHandler(t, 3, 0, &seen)})
	var idle []net.Conn
	for range 100 {
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	start := time.Now()
	a := dial(t, srv.Addr, scu.Options{})
	syn, _ := a.Syntax(dimse.ModalityWorklistFind)
	n := 0
	st, err := a.Find(context.Background(), dimse.ModalityWorklistFind, queryIdentifier(t, syn), func([]byte) error { n++; return nil })
	if err != nil || st != 0 || n != 3 {
		t.Fatalf("query: 0x%04X, %d answers, %v", st, n, err)
	}
	a.Release(context.Background())
	// Generous for a loaded 2-core CI machine; the point is that the query
	// does not wait for the idle sockets' ARTIM timers (10 s).
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("query took %v with 100 idle connections open", d)
	}
}

func TestShutdownAbortsRunningQuery(t *testing.T) {
	before := runtime.NumGoroutine()
	started := make(chan struct{})
	var once sync.Once
	srv := scpServerForShutdown(t, func(ctx context.Context, _ scp.FindRequest, send func([]byte) error) uint16 {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return dimse.StatusUnableToProcess
	})
	a := dial(t, srv.addr, scu.Options{})
	syn, _ := a.Syntax(dimse.ModalityWorklistFind)
	errc := make(chan error, 1)
	go func() {
		_, err := a.Find(context.Background(), dimse.ModalityWorklistFind, queryIdentifier(t, syn), func([]byte) error { return nil })
		errc <- err
	}()
	<-started
	srv.stop()
	select {
	case err := <-errc:
		var ab *scu.AbortedError
		if !errors.As(err, &ab) {
			t.Fatalf("client saw %v, want A-ABORT", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client not released by shutdown")
	}
	waitGoroutines(t, before)
}

type stoppable struct {
	addr string
	stop func()
}

func scpServerForShutdown(t *testing.T, find scp.FindHandler) stoppable {
	return stoppableServer(t, scp.Config{Find: find})
}

func stoppableServer(t *testing.T, cfg scp.Config) stoppable {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = startServerLogger()
	srv := scp.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	return stoppable{addr: ln.Addr().String(), stop: func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return after cancel")
		}
	}}
}

func TestPendingConnectionCap(t *testing.T) {
	srv := startServer(t, scp.Config{MaxPending: 3})
	var idle []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	// The server counts a connection once it has accepted it, so a probe
	// may still slip in while the three are being accepted; once they are,
	// every further connection is closed at once.
	waitFor(t, func() bool {
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err = c.Read(make([]byte, 1))
		var ne net.Error
		return err != nil && !(errors.As(err, &ne) && ne.Timeout())
	})
	for _, c := range idle {
		c.Close()
	}
	// Freed slots make room again.
	waitFor(t, func() bool {
		a, err := scu.Dial(context.Background(), srv.Addr, scu.Options{CalledAE: "VETBRIDGE", Timeout: time.Second})
		if err != nil {
			return false
		}
		a.Release(context.Background())
		return true
	})
}

// A peer that stopped reading must not hold up shutdown for the write
// timeout: the server gives up on the stuck write and closes.
func TestShutdownWithStalledPeer(t *testing.T) {
	before := runtime.NumGoroutine()
	big := bytes.Repeat([]byte{'B'}, 60000)
	var lastSend atomic.Int64
	srv := stoppableServer(t, scp.Config{
		WriteTimeout: time.Minute,
		Find: func(ctx context.Context, _ scp.FindRequest, send func([]byte) error) uint16 {
			for send(big) == nil {
				lastSend.Store(time.Now().UnixNano())
			}
			return dimse.StatusUnableToProcess
		},
	})
	r := dialRaw(t, srv.addr)
	r.mustAssociate()
	r.send(3, &dimse.Command{CommandField: dimse.CFindRQ, MessageID: 1, AffectedSOPClassUID: dimse.ModalityWorklistFind, HasDataSet: true}, []byte{})
	// Wait until the socket buffers are full and the server's write blocks.
	waitFor(t, func() bool {
		last := lastSend.Load()
		return last != 0 && time.Since(time.Unix(0, last)) > 300*time.Millisecond
	})
	start := time.Now()
	srv.stop()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %v with a stalled peer", d)
	}
	r.conn.Close()
	waitGoroutines(t, before)
}

func TestPipelinedRequests(t *testing.T) {
	release := make(chan struct{})
	srv := startServer(t, scp.Config{MaxDataSetLength: 1000, Find: func(ctx context.Context, _ scp.FindRequest, _ func([]byte) error) uint16 {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return dimse.StatusSuccess
	}})
	find := func(id uint16) *dimse.Command {
		return &dimse.Command{CommandField: dimse.CFindRQ, MessageID: id, AffectedSOPClassUID: dimse.ModalityWorklistFind, HasDataSet: true}
	}

	// A few requests behind a running one are tolerated and answered in
	// order.
	r := dialRaw(t, srv.Addr)
	r.mustAssociate()
	for id := uint16(1); id <= 5; id++ {
		r.send(3, find(id), make([]byte, 100))
	}
	close(release)
	for id := uint16(1); id <= 5; id++ {
		m, other, err := r.readMessage()
		if err != nil || other != nil || m.Command.MessageIDBeingRespondedTo != id || m.Command.Status != dimse.StatusSuccess {
			t.Fatalf("answer %d: %+v %v %v", id, m.Command, other, err)
		}
	}

	// A flood of requests without asynchronous operations is aborted.
	blocked := startServer(t, scp.Config{Find: func(ctx context.Context, _ scp.FindRequest, _ func([]byte) error) uint16 {
		<-ctx.Done()
		return dimse.StatusUnableToProcess
	}})
	r = dialRaw(t, blocked.Addr)
	r.mustAssociate()
	for id := uint16(1); id <= 20; id++ {
		r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if r.frag.Write(r.conn, 3, find(id), []byte{}) != nil {
			break
		}
	}
	r.expectAbort()

	// So is a pipeline whose data sets together exceed the bound, even
	// though each one is within it.
	r = dialRaw(t, blocked.Addr)
	r.mustAssociate()
	for id := uint16(1); id <= 3; id++ {
		// The server may abort and close while we still write; only
		// what it answers matters.
		r.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if r.frag.Write(r.conn, 3, find(id), make([]byte, 600<<10)) != nil {
			break
		}
	}
	r.expectAbort()

	// A data set over the configured bound is aborted before it is stored.
	r = dialRaw(t, srv.Addr)
	r.mustAssociate()
	r.send(3, find(1), make([]byte, 1001))
	r.expectAbort()
	mustEcho(t, srv.Addr)
}
