package scp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/pdu"
	"github.com/vetbridge/vetbridge/dicom/scp"
	"github.com/vetbridge/vetbridge/dicom/scu"
)

func dial(t testing.TB, addr string, opts scu.Options) *scu.Assoc {
	t.Helper()
	if opts.CalledAE == "" {
		opts.CalledAE = "VETBRIDGE"
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	a, err := scu.Dial(context.Background(), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustEcho(t testing.TB, addr string) {
	t.Helper()
	a := dial(t, addr, scu.Options{})
	if err := a.Echo(context.Background()); err != nil {
		t.Fatalf("echo: %v", err)
	}
	if err := a.Release(context.Background()); err != nil {
		t.Fatalf("release: %v", err)
	}
}

func queryIdentifier(t testing.TB, ts scp.TransferSyntax) []byte {
	t.Helper()
	b, err := encodeIdentifier(ts, map[tag.Tag][]string{tag.PatientName: {""}, tag.PatientID: {""}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFindStreamsInEveryTransferSyntax(t *testing.T) {
	var seen atomic.Value
	srv := startServer(t, scp.Config{Find: worklistHandler(t, 25, 0, &seen)})
	for _, ts := range []string{dimse.ImplicitVRLittleEndian, dimse.ExplicitVRLittleEndian, dimse.ExplicitVRBigEndian} {
		t.Run(ts, func(t *testing.T) {
			a := dial(t, srv.Addr, scu.Options{Contexts: []scu.Context{{AbstractSyntax: dimse.ModalityWorklistFind, TransferSyntaxes: []string{ts}}}})
			defer a.Release(context.Background())
			syn, _ := a.Syntax(dimse.ModalityWorklistFind)
			if syn.UID != ts {
				t.Fatalf("negotiated %s, want %s", syn.UID, ts)
			}
			var ids []string
			status, err := a.Find(context.Background(), dimse.ModalityWorklistFind, queryIdentifier(t, syn), func(b []byte) error {
				v, err := decodeIdentifier(syn, b)
				if err != nil {
					return err
				}
				ids = append(ids, v[tag.PatientID])
				return nil
			})
			if err != nil || status != dimse.StatusSuccess {
				t.Fatalf("status 0x%04X err %v", status, err)
			}
			if len(ids) != 25 || ids[0] != "P0000" || ids[24] != "P0024" {
				t.Fatalf("identifiers %v", ids)
			}
		})
	}
}

func TestFindCancelViaContext(t *testing.T) {
	var seen atomic.Value
	var sent atomic.Int32
	handlerDone := make(chan uint16, 1)
	inner := worklistHandler(t, 10000, time.Millisecond, &seen)
	srv := startServer(t, scp.Config{Find: func(ctx context.Context, req scp.FindRequest, send func([]byte) error) uint16 {
		s := inner(ctx, req, func(b []byte) error {
			err := send(b)
			if err == nil {
				sent.Add(1)
			}
			return err
		})
		handlerDone <- s
		return s
	}})
	a := dial(t, srv.Addr, scu.Options{})
	defer a.Release(context.Background())
	syn, _ := a.Syntax(dimse.ModalityWorklistFind)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	status, err := a.Find(ctx, dimse.ModalityWorklistFind, queryIdentifier(t, syn), func([]byte) error {
		if n++; n == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || status != dimse.StatusCancel {
		t.Fatalf("status 0x%04X err %v, want 0xFE00 and context.Canceled", status, err)
	}
	select {
	case <-handlerDone:
	case <-time.After(2 * time.Second):
		t.Fatal("handler still running after C-CANCEL")
	}
	// The handler's context must end promptly: a few answers may cross
	// the C-CANCEL on the wire, not thousands.
	if n := sent.Load(); n > 100 {
		t.Fatalf("handler sent %d answers despite C-CANCEL after 3", n)
	}
	if err := a.Echo(context.Background()); err != nil {
		t.Fatalf("association unusable after cancel: %v", err)
	}
}

func TestFindCallbackErrorCancels(t *testing.T) {
	var seen atomic.Value
	srv := startServer(t, scp.Config{Find: worklistHandler(t, 10000, time.Millisecond, &seen)})
	a := dial(t, srv.Addr, scu.Options{})
	defer a.Release(context.Background())
	syn, _ := a.Syntax(dimse.ModalityWorklistFind)
	stop := errors.New("enough")
	status, err := a.Find(context.Background(), dimse.ModalityWorklistFind, queryIdentifier(t, syn), func([]byte) error { return stop })
	if !errors.Is(err, stop) || status != dimse.StatusCancel {
		t.Fatalf("status 0x%04X err %v", status, err)
	}
}

type testMPPS struct {
	mu      sync.Mutex
	created map[string][]byte
}

func (m *testMPPS) NCreate(_ context.Context, req scp.MPPSRequest) scp.MPPSResponse {
	m.mu.Lock()
	defer m.mu.Unlock()
	uid := req.SOPInstanceUID
	if uid == "" {
		uid = fmt.Sprintf("2.25.%d", 1000+len(m.created))
	}
	if _, dup := m.created[uid]; dup {
		return scp.MPPSResponse{Status: dimse.StatusDuplicateSOPInstance, ErrorComment: "instance exists"}
	}
	m.created[uid] = req.Dataset
	return scp.MPPSResponse{Status: dimse.StatusSuccess, AffectedSOPInstanceUID: uid}
}

func (m *testMPPS) NSet(_ context.Context, req scp.MPPSRequest) scp.MPPSResponse {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.created[req.SOPInstanceUID]; !ok {
		return scp.MPPSResponse{Status: dimse.StatusNoSuchSOPInstance, ErrorID: 0xA710, ErrorComment: strings.Repeat("x", 100)}
	}
	return scp.MPPSResponse{Status: dimse.StatusSuccess, Dataset: req.Dataset}
}

func TestMPPSTransport(t *testing.T) {
	h := &testMPPS{created: map[string][]byte{}}
	srv := startServer(t, scp.Config{MPPS: h})
	a := dial(t, srv.Addr, scu.Options{})
	defer a.Release(context.Background())
	ctx := context.Background()
	syn, ok := a.Syntax(dimse.MPPSSOPClass)
	if !ok {
		t.Fatal("MPPS not negotiated")
	}
	ds := queryIdentifier(t, syn)
	r, err := a.NCreate(ctx, dimse.MPPSSOPClass, "", ds)
	if err != nil || r.Status != dimse.StatusSuccess || r.AffectedSOPInstanceUID != "2.25.1000" {
		t.Fatalf("N-CREATE without UID: %+v %v", r, err)
	}
	r, err = a.NCreate(ctx, dimse.MPPSSOPClass, "2.25.7", ds)
	if err != nil || r.Status != dimse.StatusSuccess || r.AffectedSOPInstanceUID != "2.25.7" {
		t.Fatalf("N-CREATE: %+v %v", r, err)
	}
	if r, _ := a.NCreate(ctx, dimse.MPPSSOPClass, "2.25.7", ds); r.Status != dimse.StatusDuplicateSOPInstance || r.ErrorComment != "instance exists" {
		t.Fatalf("duplicate N-CREATE: %+v", r)
	}
	r, err = a.NSet(ctx, dimse.MPPSSOPClass, "2.25.7", ds)
	if err != nil || r.Status != dimse.StatusSuccess || string(r.Dataset) != string(ds) || r.AffectedSOPInstanceUID != "2.25.7" {
		t.Fatalf("N-SET: %+v %v", r, err)
	}
	r, err = a.NSet(ctx, dimse.MPPSSOPClass, "2.25.8", ds)
	if err != nil || r.Status != dimse.StatusNoSuchSOPInstance || r.ErrorID != 0xA710 || len(r.ErrorComment) != 64 {
		t.Fatalf("N-SET unknown: %+v %v", r, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if string(h.created["2.25.7"]) != string(ds) {
		t.Error("data set did not reach the handler intact")
	}
}

func TestServicesWithoutHandlersAreNotNegotiated(t *testing.T) {
	srv := startServer(t, scp.Config{})
	a := dial(t, srv.Addr, scu.Options{})
	defer a.Release(context.Background())
	if _, ok := a.Syntax(dimse.ModalityWorklistFind); ok {
		t.Error("MWL accepted without a FindHandler")
	}
	if _, ok := a.Syntax(dimse.MPPSSOPClass); ok {
		t.Error("MPPS accepted without a handler")
	}
	if err := a.Echo(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRefusalStatuses(t *testing.T) {
	srv := startServer(t, scp.Config{Find: func(context.Context, scp.FindRequest, func([]byte) error) uint16 { return 0 }})
	c := dialRaw(t, srv.Addr)
	c.mustAssociate()
	cases := []struct {
		ctx    byte
		cmd    *dimse.Command
		data   []byte
		status uint16
	}{
		// C-STORE on the Verification context: known command, wrong class.
		{1, &dimse.Command{CommandField: dimse.CStoreRQ, MessageID: 1, AffectedSOPClassUID: dimse.VerificationSOPClass, HasDataSet: true}, []byte{}, dimse.StatusSOPClassNotSupported},
		// An unknown command field.
		{1, &dimse.Command{CommandField: 0x0999, MessageID: 2, AffectedSOPClassUID: dimse.VerificationSOPClass}, nil, dimse.StatusUnrecognizedOperation},
		// C-ECHO naming another SOP class than the context's.
		{1, &dimse.Command{CommandField: dimse.CEchoRQ, MessageID: 3, AffectedSOPClassUID: "1.2.3.4"}, nil, dimse.StatusSOPClassNotSupported},
		// C-FIND without an identifier.
		{3, &dimse.Command{CommandField: dimse.CFindRQ, MessageID: 4, AffectedSOPClassUID: dimse.ModalityWorklistFind}, nil, dimse.StatusIdentifierDoesNotMatch},
		// A C-CANCEL for nothing gets no answer; the echo after it does.
		{3, &dimse.Command{CommandField: dimse.CCancelRQ, MessageIDBeingRespondedTo: 99}, nil, 0xFFFF},
		{1, &dimse.Command{CommandField: dimse.CEchoRQ, MessageID: 5, AffectedSOPClassUID: dimse.VerificationSOPClass}, nil, dimse.StatusSuccess},
	}
	for _, tc := range cases {
		c.send(tc.ctx, tc.cmd, tc.data)
		if tc.status == 0xFFFF {
			continue
		}
		m, other, err := c.readMessage()
		if err != nil || other != nil {
			t.Fatalf("%s: err %v, pdu %v", dimse.Name(tc.cmd.CommandField), err, other)
		}
		if m.Command.Status != tc.status || m.Command.CommandField != tc.cmd.CommandField|dimse.ResponseBit || m.Command.MessageIDBeingRespondedTo != tc.cmd.MessageID {
			t.Errorf("%s: got %s status 0x%04X for msg %d, want status 0x%04X", dimse.Name(tc.cmd.CommandField),
				dimse.Name(m.Command.CommandField), m.Command.Status, m.Command.MessageIDBeingRespondedTo, tc.status)
		}
	}
}

func TestAssociationPolicy(t *testing.T) {
	var events []scp.AssociationEvent
	var mu sync.Mutex
	srv := startServer(t, scp.Config{
		AETitle: "VETBRIDGE", StrictCalledAE: true,
		AllowAssociation: func(calling, called string, ip netip.Addr) error {
			if !ip.IsLoopback() {
				return fmt.Errorf("address %s is not loopback", ip)
			}
			if calling == "INTRUDER" {
				return errors.New("not in the device list")
			}
			return nil
		},
		OnAssociation: func(ev scp.AssociationEvent) { mu.Lock(); events = append(events, ev); mu.Unlock() },
	})
	ctx := context.Background()
	_, err := scu.Dial(ctx, srv.Addr, scu.Options{CalledAE: "WRONG", Timeout: 5 * time.Second})
	var rj *scu.RejectedError
	if !errors.As(err, &rj) || rj.RJ.Reason != pdu.RJReasonCalledAENotRecog || rj.RJ.Result != pdu.RJResultPermanent || rj.RJ.Source != pdu.RJSourceUser {
		t.Fatalf("wrong called AE: %v", err)
	}
	_, err = scu.Dial(ctx, srv.Addr, scu.Options{CalledAE: "VETBRIDGE", CallingAE: "INTRUDER", Timeout: 5 * time.Second})
	if !errors.As(err, &rj) || rj.RJ.Reason != pdu.RJReasonCallingAENotRecog {
		t.Fatalf("disallowed calling AE: %v", err)
	}
	mustEcho(t, srv.Addr)

	c := dialRaw(t, srv.Addr)
	rq := defaultRQ()
	rq.ApplicationContext = "1.2.3"
	if p, ok := c.associate(rq).(*pdu.AssociateRJ); !ok || p.Reason != pdu.RJReasonAppContextNotSupp {
		t.Fatalf("bad application context answered %v", p)
	}
	c = dialRaw(t, srv.Addr)
	rq = defaultRQ()
	rq.PresentationContexts = append(rq.PresentationContexts,
		pdu.PresentationContextRQ{ID: 7, AbstractSyntax: dimse.VerificationSOPClass, TransferSyntaxes: []string{"1.2.840.10008.1.2.4.50"}},
		pdu.PresentationContextRQ{ID: 9, AbstractSyntax: "1.2.840.10008.5.1.4.1.1.2", TransferSyntaxes: []string{dimse.ImplicitVRLittleEndian}})
	ac, ok := c.associate(rq).(*pdu.AssociateAC)
	if !ok {
		t.Fatal("not accepted")
	}
	results := map[byte]byte{}
	for _, pc := range ac.PresentationContexts {
		results[pc.ID] = pc.Result
	}
	want := map[byte]byte{1: pdu.ResultAcceptance, 3: pdu.ResultAbstractSyntaxNotSupported, 5: pdu.ResultAbstractSyntaxNotSupported,
		7: pdu.ResultTransferSyntaxNotSupported, 9: pdu.ResultAbstractSyntaxNotSupported}
	if fmt.Sprint(results) != fmt.Sprint(want) {
		t.Errorf("context results %v, want %v", results, want)
	}
	if ac.UserInfo.MaxLength != pdu.DefaultMaxPDULength || ac.UserInfo.ImplementationClassUID != scp.ImplementationClassUID {
		t.Errorf("user info %+v", ac.UserInfo)
	}
	c.write(&pdu.ReleaseRQ{})
	if p, err := c.read(); err != nil || p.Type() != pdu.TypeReleaseRP {
		t.Fatalf("release: %v %v", p, err)
	}

	mu.Lock()
	defer mu.Unlock()
	var rejected []string
	for _, ev := range events {
		if ev.Kind == scp.Rejected {
			rejected = append(rejected, ev.Reason)
		}
	}
	if len(rejected) != 3 || !strings.Contains(rejected[0], `called AE "WRONG"`) || !strings.Contains(rejected[1], "not in the device list") {
		t.Errorf("rejection events %q", rejected)
	}
}

func TestPanickingHandlerAbortsOnlyItsAssociation(t *testing.T) {
	srv := startServer(t, scp.Config{Find: func(context.Context, scp.FindRequest, func([]byte) error) uint16 {
		panic("handler bug")
	}})
	a := dial(t, srv.Addr, scu.Options{})
	syn, _ := a.Syntax(dimse.ModalityWorklistFind)
	_, err := a.Find(context.Background(), dimse.ModalityWorklistFind, queryIdentifier(t, syn), func([]byte) error { return nil })
	var ab *scu.AbortedError
	if !errors.As(err, &ab) {
		t.Fatalf("err = %v, want A-ABORT", err)
	}
	mustEcho(t, srv.Addr)
}

func TestGoexitInHandlerAbortsOnlyItsAssociation(t *testing.T) {
	srv := startServer(t, scp.Config{Find: func(context.Context, scp.FindRequest, func([]byte) error) uint16 {
		runtimeGoexit()
		return 0
	}})
	a := dial(t, srv.Addr, scu.Options{})
	syn, _ := a.Syntax(dimse.ModalityWorklistFind)
	_, err := a.Find(context.Background(), dimse.ModalityWorklistFind, queryIdentifier(t, syn), func([]byte) error { return nil })
	var ab *scu.AbortedError
	if !errors.As(err, &ab) {
		t.Fatalf("err = %v, want A-ABORT", err)
	}
	mustEcho(t, srv.Addr)
}

func runtimeGoexit() { runtime.Goexit() }

func TestServeRejectsBadAETitle(t *testing.T) {
	for _, c := range []struct {
		ae     string
		strict bool
	}{{"", true}, {"   ", true}, {"SEVENTEEN_CHARS_X", false}, {"BAD\\AE", false}, {"TAB\tAE", false}, {"ÄRZTE", false}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		err = scp.New(scp.Config{AETitle: c.ae, StrictCalledAE: c.strict, Logger: startServerLogger()}).Serve(context.Background(), ln)
		if err == nil || !strings.Contains(err.Error(), "DICOM settings") {
			t.Errorf("AE %q strict %v: err = %v", c.ae, c.strict, err)
		}
		if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("listener left open after a configuration error")
		}
	}
}

func TestListenAndServe(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	srv := scp.New(scp.Config{AETitle: "VETBRIDGE", Logger: startServerLogger()})
	err = srv.ListenAndServe(context.Background(), busy.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "another DICOM server") {
		t.Fatalf("port in use: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx, "127.0.0.1:0") }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ListenAndServe did not return after cancel")
	}
}
