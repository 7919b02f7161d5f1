package scu_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/scp"
	"github.com/vetbridge/vetbridge/dicom/scu"
)

// startSCP serves n fixed identifiers per query, so the benchmark measures
// the network layer rather than matching.
func startSCP(b *testing.B, n int) string {
	b.Helper()
	ts, _ := dimse.LookupTransferSyntax(dimse.ExplicitVRLittleEndian)
	var ids [][]byte
	for i := range n {
		id, err := encode(ts,
			mustElem(b, tag.AccessionNumber, []string{fmt.Sprintf("A%06d", i)}),
			mustElem(b, tag.PatientName, []string{"Smith^Fluffy"}),
			mustElem(b, tag.PatientID, []string{fmt.Sprintf("P%06d", i)}),
			mustElem(b, tag.StudyInstanceUID, []string{fmt.Sprintf("2.25.31337.%d", i)}),
		)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	srv := scp.New(scp.Config{
		AETitle: "VETBRIDGE",
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Find: func(ctx context.Context, req scp.FindRequest, send func([]byte) error) uint16 {
			for _, id := range ids {
				if err := send(id); err != nil {
					return dimse.StatusUnableToProcess
				}
			}
			return dimse.StatusSuccess
		},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func benchFind(b *testing.B, addr, calledAE string, want int) {
	a, err := scu.Dial(context.Background(), addr, scu.Options{CalledAE: calledAE, Timeout: 30 * time.Second,
		Contexts: []scu.Context{{AbstractSyntax: dimse.ModalityWorklistFind, TransferSyntaxes: []string{dimse.ExplicitVRLittleEndian}}}})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Release(context.Background())
	ts, _ := a.Syntax(dimse.ModalityWorklistFind)
	q := query(b, ts, "")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		st, err := a.Find(ctx, dimse.ModalityWorklistFind, q, func([]byte) error { n++; return nil })
		if err != nil || st != dimse.StatusSuccess || n != want {
			b.Fatalf("status 0x%04X, %d answers (want %d), %v", st, n, want, err)
		}
	}
}

// BenchmarkFindLoopback is one C-FIND round trip (request, n pending
// responses, final) between our SCU and our SCP over loopback.
func BenchmarkFindLoopback(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("answers=%d", n), func(b *testing.B) {
			benchFind(b, startSCP(b, n), "VETBRIDGE", n)
		})
	}
}

// BenchmarkFindWLMSCPFS is the same round trip against DCMTK's wlmscpfs
// serving its 10 example items, for comparison with answers=10 above.
func BenchmarkFindWLMSCPFS(b *testing.B) {
	addr, items := startWLMSCPFS(b)
	benchFind(b, addr, "OFFIS", items)
}

// BenchmarkAssociateEcho is a whole association: connect, negotiate,
// C-ECHO, release.
func BenchmarkAssociateEcho(b *testing.B) {
	addr := startSCP(b, 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		a, err := scu.Dial(ctx, addr, scu.Options{CalledAE: "VETBRIDGE"})
		if err != nil {
			b.Fatal(err)
		}
		if err := a.Echo(ctx); err != nil {
			b.Fatal(err)
		}
		if err := a.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFindParallel runs C-FIND round trips (100 answers each) from
// several associations at once against one server, as several modalities
// polling together would.
func BenchmarkFindParallel(b *testing.B) {
	addr := startSCP(b, 100)
	want, _ := dimse.LookupTransferSyntax(dimse.ExplicitVRLittleEndian)
	q := query(b, want, "") // built here: b.Fatal is not allowed in RunParallel
	b.ReportAllocs()
	b.SetParallelism(2) // 2 associations per core
	b.RunParallel(func(pb *testing.PB) {
		a, err := scu.Dial(context.Background(), addr, scu.Options{CalledAE: "VETBRIDGE"})
		if err != nil {
			b.Error(err)
			return
		}
		defer a.Release(context.Background())
		if ts, _ := a.Syntax(dimse.ModalityWorklistFind); ts != want {
			b.Errorf("negotiated %+v, want %+v", ts, want)
			return
		}
		for pb.Next() {
			n := 0
			st, err := a.Find(context.Background(), dimse.ModalityWorklistFind, q, func([]byte) error { n++; return nil })
			if err != nil || st != dimse.StatusSuccess || n != 100 {
				b.Errorf("status 0x%04X, %d answers, %v", st, n, err)
				return
			}
		}
	})
}
