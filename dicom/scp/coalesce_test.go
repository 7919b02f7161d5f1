package scp_test

import (
	"context"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/scp"
	"github.com/vetbridge/vetbridge/dicom/scu"
)

// TestCoalescedAnswersAreNotHeldBack: pending responses are batched, but a
// handler that pauses after a match must not keep it from the peer until
// the query ends.
func TestCoalescedAnswersAreNotHeldBack(t *testing.T) {
	release := make(chan struct{})
	srv := startServer(t, scp.Config{Find: func(ctx context.Context, req scp.FindRequest, send func([]byte) error) uint16 {
		if err := send(req.Identifier); err != nil {
			return dimse.StatusUnableToProcess
		}
		select { // a slow source: the next match takes a while
		case <-release:
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
		return dimse.StatusSuccess
	}})
	a := dial(t, srv.Addr, scu.Options{})
	defer a.Release(context.Background())
	syn, _ := a.Syntax(dimse.ModalityWorklistFind)
	first := make(chan time.Duration, 1)
	start := time.Now()
	status, err := a.Find(context.Background(), dimse.ModalityWorklistFind, queryIdentifier(t, syn), func([]byte) error {
		first <- time.Since(start)
		close(release)
		return nil
	})
	if err != nil || status != dimse.StatusSuccess {
		t.Fatalf("status 0x%04X err %v", status, err)
	}
	if d := <-first; d > time.Second {
		t.Fatalf("the first answer arrived after %v: held back while the handler waited", d)
	}
}

// TestManyAnswersInOrder streams more answers than one batch holds, in
// every size from empty to larger than the peer's PDU, and checks each
// arrives whole and in order.
func TestManyAnswersInOrder(t *testing.T) {
	const n = 3000
	answer := func(i int) []byte {
		b := make([]byte, (i*37)%20000)
		for j := range b {
			b[j] = byte(i + j)
		}
		return b
	}
	srv := startServer(t, scp.Config{Find: func(ctx context.Context, req scp.FindRequest, send func([]byte) error) uint16 {
		for i := range n {
			if err := send(answer(i)); err != nil {
				return dimse.StatusUnableToProcess
			}
		}
		return dimse.StatusSuccess
	}})
	a := dial(t, srv.Addr, scu.Options{MaxPDULength: 4096})
	defer a.Release(context.Background())
	syn, _ := a.Syntax(dimse.ModalityWorklistFind)
	i := 0
	status, err := a.Find(context.Background(), dimse.ModalityWorklistFind, queryIdentifier(t, syn), func(b []byte) error {
		if want := answer(i); string(b) != string(want) {
			t.Fatalf("answer %d: %d bytes, want %d", i, len(b), len(want))
		}
		i++
		return nil
	})
	if err != nil || status != dimse.StatusSuccess || i != n {
		t.Fatalf("status 0x%04X err %v, %d answers, want %d", status, err, i, n)
	}
	if err := a.Echo(context.Background()); err != nil {
		t.Fatalf("association unusable after the query: %v", err)
	}
}

func BenchmarkFindManyAnswers(b *testing.B) {
	ans := make([]byte, 500)
	srv := startServer(b, scp.Config{Find: func(ctx context.Context, req scp.FindRequest, send func([]byte) error) uint16 {
		for range 100 {
			if err := send(ans); err != nil {
				return dimse.StatusUnableToProcess
			}
		}
		return dimse.StatusSuccess
	}})
	a := dial(b, srv.Addr, scu.Options{})
	defer a.Release(context.Background())
	syn, _ := a.Syntax(dimse.ModalityWorklistFind)
	ident := queryIdentifier(b, syn)
	b.ReportAllocs()
	for b.Loop() {
		if st, err := a.Find(context.Background(), dimse.ModalityWorklistFind, ident, func([]byte) error { return nil }); err != nil || st != 0 {
			b.Fatal(st, err)
		}
	}
}
