package scp_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/pdu"
	"github.com/vetbridge/vetbridge/dicom/scp"
)

// recordingListener keeps a copy of everything peers send.
type recordingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*bytes.Buffer
}

type recordingConn struct {
	net.Conn
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := &bytes.Buffer{}
	l.conns = append(l.conns, b)
	return &recordingConn{Conn: c, mu: &l.mu, buf: b}, nil
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// TestDCMTKTrafficDecodes records what echoscu and findscu send and checks
// that every PDU decodes and every command set re-encodes to DCMTK's exact
// bytes. With VETBRIDGE_WRITE_SEEDS=1 it also refreshes the fuzz seed
// corpora from that traffic.
func TestDCMTKTrafficDecodes(t *testing.T) {
	needBinary(t, "echoscu")
	needBinary(t, "findscu")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingListener{Listener: ln}
	var seen atomic.Value
	srv := startServerOn(t, rec, scp.Config{Find: worklistHandler(t, 2, 0, &seen)})
	_ = srv
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if out, err := runDCMTK(t, "echoscu", "-aet", "XRAY1", "-aec", "VETBRIDGE", "127.0.0.1", port); err != nil {
		t.Fatalf("echoscu: %v\n%s", err, out)
	}
	for _, flag := range []string{"-xi", "-xe"} {
		out, err := runDCMTK(t, "findscu", "-W", flag, "--cancel", "1", "-aet", "US1", "-aec", "VETBRIDGE",
			"-k", "PatientName=Smith*", "-k", "ScheduledProcedureStepSequence[0].Modality=US",
			"-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20260101-20261231",
			"127.0.0.1", port)
		if err != nil {
			t.Fatalf("findscu: %v\n%s", err, out)
		}
	}

	rec.mu.Lock()
	streams := make([][]byte, 0, len(rec.conns))
	for _, b := range rec.conns {
		streams = append(streams, bytes.Clone(b.Bytes()))
	}
	rec.mu.Unlock()
	if len(streams) != 3 {
		t.Fatalf("recorded %d connections, want 3", len(streams))
	}
	seeds := map[string][][]byte{}
	commands := map[uint16]bool{}
	for i, s := range streams {
		seeds["../pdu/testdata/fuzz/FuzzRead"] = append(seeds["../pdu/testdata/fuzz/FuzzRead"], s)
		var asm dimse.Assembler
		for r := bytes.NewReader(s); r.Len() > 0; {
			typ, body, err := pdu.ReadRaw(r, 1<<20, nil)
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			p, err := pdu.Decode(typ, body)
			if err != nil {
				t.Fatalf("connection %d: %s: %v", i, typ, err)
			}
			if typ == pdu.TypeAssociateRQ {
				seeds["testdata/fuzz/FuzzAssociateRQ"] = append(seeds["testdata/fuzz/FuzzAssociateRQ"], body)
			}
			pd, ok := p.(*pdu.PDataTF)
			if !ok {
				continue
			}
			for _, v := range pd.PDVs {
				if v.Command && v.Last {
					seeds["../dimse/testdata/fuzz/FuzzDecodeCommand"] = append(seeds["../dimse/testdata/fuzz/FuzzDecodeCommand"], bytes.Clone(v.Data))
					c, err := dimse.DecodeCommand(v.Data)
					if err != nil {
						t.Fatalf("DCMTK command: %v", err)
					}
					again, err := c.Encode(nil)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(again, v.Data) {
						t.Errorf("%s re-encodes differently:\n got % x\nwant % x", dimse.Name(c.CommandField), again, v.Data)
					}
					commands[c.CommandField] = true
				}
			}
			if _, err := asm.Add(pd.PDVs); err != nil {
				t.Fatalf("assembling DCMTK messages: %v", err)
			}
		}
	}
	for _, want := range []uint16{dimse.CEchoRQ, dimse.CFindRQ, dimse.CCancelRQ} {
		if !commands[want] {
			t.Errorf("no %s seen in DCMTK traffic", dimse.Name(want))
		}
	}
	if os.Getenv("VETBRIDGE_WRITE_SEEDS") == "1" {
		for dir, list := range seeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for i, b := range list {
				name := filepath.Join(dir, fmt.Sprintf("dcmtk-%02d", i))
				body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
				if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
