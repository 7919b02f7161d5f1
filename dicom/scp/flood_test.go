package scp_test

import (
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/scp"
	"github.com/vetbridge/vetbridge/dicom/scu"
)

// One host on the LAN (127.0.0.2) holds every association it can, keeps
// hundreds of silent sockets coming and knocks as a stranger, all at once,
// with the server's default limits. A registered device on 127.0.0.1 must
// still get each C-ECHO and C-FIND answered within a second.
func TestFloodFromOneAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the loopback interface for a few seconds")
	}
	var seen atomic.Value
	var accepted2 atomic.Int32 // associations 127.0.0.2 holds right now
	var maxHeld atomic.Int32
	srv := startServer(t, scp.Config{Admit: devicePolicy, Find: worklistHandler(t, 3, 0, &seen),
		OnAssociation: func(ev scp.AssociationEvent) {
			host, _, _ := net.SplitHostPort(ev.Peer.Addr)
			if host != "127.0.0.2" {
				return
			}
			switch ev.Kind {
			case scp.Accepted:
				n := accepted2.Add(1)
				for m := maxHeld.Load(); n > m && !maxHeld.CompareAndSwap(m, n); m = maxHeld.Load() {
				}
			case scp.Ended:
				accepted2.Add(-1)
			}
		}})
	needSecondLoopback(t, srv.Addr)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	flood := func(n, tries int, f func()) {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range tries {
					if ctx.Err() != nil {
						return
					}
					f()
				}
			}()
		}
	}

	// Held associations: the spoofed AE of a registered device (it has no
	// address restriction) and an admitted stranger's, as many as the
	// whole server would take, retried when refused.
	var held atomic.Int32
	hold := func(ae string) func() {
		return func() {
			a, err := associateFrom(ctx, "127.0.0.2", srv.Addr, scu.Options{CallingAE: ae})
			if err != nil {
				return
			}
			held.Add(1)
			<-ctx.Done()
			a.Abort()
		}
	}
	flood(32, 50, hold("DX1"))
	flood(32, 50, hold("GUEST"))
	// Silent sockets, reconnected as soon as the server drops them.
	var silent atomic.Int32
	flood(32, 100, func() {
		c, err := dialFrom("127.0.0.2", srv.Addr)
		if err != nil {
			return
		}
		silent.Add(1)
		stopRead := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
		c.Read(make([]byte, 1))
		stopRead()
		c.Close()
	})
	// A stranger knocking.
	flood(4, 200, func() {
		if a, err := associateFrom(ctx, "127.0.0.2", srv.Addr, scu.Options{CallingAE: "INTRUDER"}); err == nil {
			t.Error("a stranger was admitted")
			a.Abort()
		}
	})

	// The flood has taken every association 127.0.0.2 may hold.
	waitFor(t, func() bool { return held.Load() >= scp.DefaultMaxAssociationsPerIP })

	var took []time.Duration
	for range 20 {
		start := time.Now()
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		a, err := associateFrom(rctx, "127.0.0.1", srv.Addr, scu.Options{CallingAE: "DX1", Timeout: time.Second})
		if err != nil {
			cancel()
			t.Fatalf("registered device refused during the flood: %v", err)
		}
		if err := a.Echo(rctx); err != nil {
			t.Fatalf("C-ECHO during the flood: %v", err)
		}
		syn, _ := a.Syntax(dimse.ModalityWorklistFind)
		n := 0
		st, err := a.Find(rctx, dimse.ModalityWorklistFind, queryIdentifier(t, syn), func([]byte) error { n++; return nil })
		if err != nil || st != dimse.StatusSuccess || n != 3 {
			t.Fatalf("C-FIND during the flood: 0x%04X, %d answers, %v", st, n, err)
		}
		a.Release(rctx)
		cancel()
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	t.Logf("registered device under flood: 20 rounds of associate+C-ECHO+C-FIND(3)+release, median %v, max %v; "+
		"127.0.0.2 held %d associations at most, opened %d silent sockets, %d pending now",
		took[len(took)/2], took[len(took)-1], maxHeld.Load(), silent.Load(), srv.PendingConnections())
	if took[len(took)-1] > time.Second {
		t.Errorf("slowest round took %v, want under a second", took[len(took)-1])
	}
	if m := maxHeld.Load(); m > scp.DefaultMaxAssociationsPerIP {
		t.Errorf("127.0.0.2 held %d associations at once, cap %d", m, scp.DefaultMaxAssociationsPerIP)
	}
	if silent.Load() < 100 {
		t.Errorf("only %d silent sockets were opened; the flood did not happen", silent.Load())
	}
}
