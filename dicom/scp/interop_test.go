package scp_test

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/scp"
)

func runDCMTK(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	bin := needBinary(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

func TestEchoSCUInterop(t *testing.T) {
	var events []scp.AssociationEvent
	var mu sync.Mutex
	srv := startServer(t, scp.Config{OnAssociation: func(ev scp.AssociationEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}})
	out, err := runDCMTK(t, "echoscu", "-v", "-aet", "XRAY1", "-aec", "VETBRIDGE", "127.0.0.1", srv.Port)
	if err != nil {
		t.Fatalf("echoscu failed: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Received Echo Response (Success)") {
		t.Fatalf("echoscu output lacks a successful echo:\n%s", out)
	}
	// The Ended event is sent after the association's goroutine finishes,
	// which can trail echoscu's exit by a moment.
	deadline := time.Now().Add(2 * time.Second)
	for {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || events[0].Kind != scp.Accepted || events[1].Kind != scp.Ended {
		t.Fatalf("events = %+v, want accepted then ended", events)
	}
	if events[0].Peer.CallingAE != "XRAY1" || events[0].Peer.CalledAE != "VETBRIDGE" {
		t.Errorf("peer = %+v", events[0].Peer)
	}
	if events[1].Reason != "released" || events[1].Requests != 1 {
		t.Errorf("end event = %+v, want released after 1 request", events[1])
	}
}

// worklistHandler answers every query with n identifiers built in the
// negotiated syntax, pausing between them when delay is set.
func worklistHandler(t *testing.T, n int, delay time.Duration, seen *atomic.Value) scp.FindHandler {
	return func(ctx context.Context, req scp.FindRequest, send func([]byte) error) uint16 {
		seen.Store(req)
		q, err := decodeIdentifier(req.Syntax, req.Identifier)
		if err != nil {
			t.Errorf("query identifier: %v", err)
			return dimse.StatusUnableToProcess
		}
		if _, ok := q[tag.PatientName]; !ok {
			return dimse.StatusIdentifierDoesNotMatch
		}
		for i := range n {
			id, err := encodeIdentifier(req.Syntax, map[tag.Tag][]string{
				tag.PatientName:      {fmt.Sprintf("Smith^Fluffy%d", i)},
				tag.PatientID:        {fmt.Sprintf("P%04d", i)},
				tag.AccessionNumber:  {fmt.Sprintf("A%d", i)},
				tag.StudyInstanceUID: {fmt.Sprintf("2.25.1234.%d", i)},
			})
			if err != nil {
				t.Errorf("building identifier: %v", err)
				return dimse.StatusUnableToProcess
			}
			if err := send(id); err != nil {
				return dimse.StatusUnableToProcess
			}
			if delay > 0 {
				select {
				case <-time.After(delay):
				case <-ctx.Done():
					return dimse.StatusCancel
				}
			}
		}
		return dimse.StatusSuccess
	}
}

var pendingRe = regexp.MustCompile(`Find Response: \d+ \(Pending\)`)

func TestFindSCUInterop(t *testing.T) {
	cases := []struct {
		flag   string
		wantTS string
	}{
		{"-xi", dimse.ImplicitVRLittleEndian},
		{"-xe", dimse.ExplicitVRLittleEndian},
		// DCMTK -xb offers Big Endian first but also Little Endian; our
		// preference order must still pick Explicit Little Endian.
		{"-xb", dimse.ExplicitVRLittleEndian},
	}
	for _, c := range cases {
		t.Run(c.flag, func(t *testing.T) {
			var seen atomic.Value
			srv := startServer(t, scp.Config{Find: worklistHandler(t, 5, 0, &seen)})
			out, err := runDCMTK(t, "findscu", "-v", "-W", c.flag, "-aet", "US1", "-aec", "VETBRIDGE",
				"-k", "PatientName=", "-k", "PatientID=", "-k", "ScheduledProcedureStepSequence[0].Modality=US",
				"127.0.0.1", srv.Port)
			if err != nil {
				t.Fatalf("findscu failed: %v\n%s", err, out)
			}
			if got := len(pendingRe.FindAllString(out, -1)); got != 5 {
				t.Fatalf("findscu saw %d pending responses, want 5:\n%s", got, out)
			}
			if !strings.Contains(out, "Received Final Find Response (Success)") {
				t.Fatalf("no successful final response:\n%s", out)
			}
			if !strings.Contains(out, "Smith^Fluffy4") {
				t.Errorf("identifier content not shown by findscu:\n%s", out)
			}
			req := seen.Load().(scp.FindRequest)
			if req.Syntax.UID != c.wantTS {
				t.Errorf("negotiated %s, want %s", req.Syntax.UID, c.wantTS)
			}
			if req.Peer.CallingAE != "US1" || req.SOPClassUID != dimse.ModalityWorklistFind {
				t.Errorf("request = %+v", req)
			}
		})
	}
}

func TestFindSCUCancelInterop(t *testing.T) {
	var seen atomic.Value
	srv := startServer(t, scp.Config{Find: worklistHandler(t, 200, 5*time.Millisecond, &seen)})
	out, err := runDCMTK(t, "findscu", "-v", "-W", "--cancel", "3", "-aet", "US1", "-aec", "VETBRIDGE",
		"-k", "PatientName=", "127.0.0.1", srv.Port)
	if err != nil {
		t.Fatalf("findscu failed: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Sending Cancel Request") {
		t.Fatalf("findscu did not cancel:\n%s", out)
	}
	if !strings.Contains(out, "Final Find Response (Cancel") {
		t.Fatalf("final response was not Cancel (0xFE00):\n%s", out)
	}
	if got := len(pendingRe.FindAllString(out, -1)); got >= 200 {
		t.Fatalf("server kept streaming after C-CANCEL: %d pending responses", got)
	}
}

// findscu advertising the smallest PDU DCMTK allows must get identifiers
// larger than that PDU, fragmented to fit.
func TestFindSCUSmallPDUInterop(t *testing.T) {
	comment := strings.Repeat("0123456789", 1200) // 12 kB in one LT element
	srv := startServer(t, scp.Config{Find: func(ctx context.Context, req scp.FindRequest, send func([]byte) error) uint16 {
		for i := range 3 {
			id, err := encodeIdentifier(req.Syntax, map[tag.Tag][]string{
				tag.PatientName:     {fmt.Sprintf("Big^Dog%d", i)},
				tag.PatientComments: {comment},
			})
			if err != nil {
				t.Errorf("building identifier: %v", err)
				return dimse.StatusUnableToProcess
			}
			if send(id) != nil {
				return dimse.StatusUnableToProcess
			}
		}
		return dimse.StatusSuccess
	}})
	out, err := runDCMTK(t, "findscu", "-v", "-W", "--max-pdu", "4096", "-aec", "VETBRIDGE",
		"-k", "PatientName=", "-k", "PatientComments=", "127.0.0.1", srv.Port)
	if err != nil {
		t.Fatalf("findscu failed: %v\n%s", err, out)
	}
	if got := len(pendingRe.FindAllString(out, -1)); got != 3 || !strings.Contains(out, "Final Find Response (Success)") {
		t.Fatalf("%d pending responses, output:\n%s", got, out)
	}
	if !strings.Contains(out, "Big^Dog2") || strings.Count(out, "# 12000, 1 PatientComments") != 3 {
		t.Fatalf("large identifier not received intact:\n%s", out)
	}
}
