package scu_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/scp"
	"github.com/vetbridge/vetbridge/dicom/scu"
)

// A worklist server and a client on loopback: the server streams two
// identifiers (here opaque bytes; real ones come from dicom/worklist), the
// client receives each as it arrives.
func Example() {
	srv := scp.New(scp.Config{
		AETitle:        "VETBRIDGE",
		StrictCalledAE: true,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Find: func(ctx context.Context, req scp.FindRequest, send func([]byte) error) uint16 {
			for _, id := range [][]byte{[]byte("first"), []byte("second")} {
				if err := send(id); err != nil {
					return dimse.StatusUnableToProcess // cancelled or gone
				}
			}
			return dimse.StatusSuccess
		},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	a, err := scu.Dial(context.Background(), ln.Addr().String(), scu.Options{CallingAE: "DX1", CalledAE: "VETBRIDGE"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ts, _ := a.Syntax(dimse.ModalityWorklistFind)
	fmt.Println("negotiated", ts.UID)
	status, err := a.Find(context.Background(), dimse.ModalityWorklistFind, []byte{}, func(id []byte) error {
		fmt.Printf("answer %q\n", id)
		return nil
	})
	fmt.Printf("final status 0x%04X, err %v\n", status, err)
	fmt.Println("release:", a.Release(context.Background()))

	stop()
	fmt.Println("server:", <-served)
	// Output:
	// negotiated 1.2.840.10008.1.2.1
	// answer "first"
	// answer "second"
	// final status 0x0000, err <nil>
	// release: <nil>
	// server: <nil>
}
