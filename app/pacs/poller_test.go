package pacs_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/pacs"
)

type pollerRig struct {
	f      *fakePACS
	clock  *fakeClock
	p      *pacs.Poller
	rounds chan pacs.Round
	states chan pacs.State
	stop   func() error
}

func startPoller(t *testing.T, f *fakePACS, refs []pacs.Referral) *pollerRig {
	t.Helper()
	r := &pollerRig{f: f, clock: newFakeClock(examDay), rounds: make(chan pacs.Round, 8), states: make(chan pacs.State, 8)}
	r.p = pacs.NewPoller(pacs.PollerConfig{
		Client: f, Referrals: func() []pacs.Referral { return refs },
		Report: func(x pacs.Round) { r.rounds <- x }, OnState: func(s pacs.State) { r.states <- s },
		Interval: time.Minute, Gap: 2 * time.Second, MinBackoff: 5 * time.Second, MaxBackoff: time.Minute,
		Clock: r.clock, Logger: quiet,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.p.Run(ctx) }()
	r.stop = sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *pollerRig) wantTimer(t *testing.T, d time.Duration) {
	t.Helper()
	if got := <-r.clock.created; got != d {
		t.Fatalf("the poller waits %v, want %v", got, d)
	}
}

// Referrals not found among the day's studies are matched one by one, no
// faster than one request per Gap.
func TestPollerSpacesRequests(t *testing.T) {
	f := &fakePACS{studies: []pacs.Study{stA, stOld}}
	refs := []pacs.Referral{{Key: "a", Accession: "A1", Date: examDay}, {Key: "c", Accession: "A9", Date: examDay}, {Key: "x", Accession: "X", Date: examDay}}
	r := startPoller(t, f, refs)
	r.wantTimer(t, 2*time.Second) // before the first Match
	if n := len(f.asked()); n != 1 {
		t.Fatalf("%d requests before the gap passed", n)
	}
	r.clock.Advance(2 * time.Second)
	r.wantTimer(t, 2*time.Second)
	r.clock.Advance(2 * time.Second)
	round := <-r.rounds
	if round.Matches[1].By != pacs.ByAccession || uids(round.Matches[1].Studies) != "[1.4]" || round.Matches[2].By != pacs.NotFound {
		t.Errorf("round %+v", round.Matches)
	}
	if len(round.Unmatched) != 0 {
		t.Errorf("unmatched %+v", round.Unmatched)
	}
	r.wantTimer(t, time.Minute)
	if s := r.p.State(); !s.Up || !strings.Contains(s.String(), "PACS answering") {
		t.Errorf("state %+v", s)
	}
}

// After an outage the first good round reports, says so once, and the
// backoff starts again from its minimum; Kick runs a round at once while
// the PACS answers.
func TestPollerRecovers(t *testing.T) {
	f := &fakePACS{studies: []pacs.Study{stA}, err: errors.New("connection refused")}
	r := startPoller(t, f, []pacs.Referral{{Key: "a", Accession: "A1", Date: examDay}})
	if s := <-r.states; s.Up || !s.DownSince.Equal(examDay) || !strings.Contains(s.String(), "connection refused") {
		t.Fatalf("state %+v", s)
	}
	r.wantTimer(t, 5*time.Second)
	r.clock.Advance(5 * time.Second)
	<-r.states
	r.wantTimer(t, 10*time.Second)
	f.setErr(nil)
	r.clock.Advance(10 * time.Second)
	if s := <-r.states; !s.Up || !s.LastOK.Equal(examDay.Add(15*time.Second)) {
		t.Fatalf("state after recovery %+v", s)
	}
	if round := <-r.rounds; round.Matches[0].Instances() != 5 {
		t.Fatalf("round %+v", round)
	}
	r.wantTimer(t, time.Minute)
	r.p.Kick()
	r.wantTimer(t, 2*time.Second) // the gap since the last request still holds
	r.clock.Advance(2 * time.Second)
	<-r.rounds
	r.wantTimer(t, time.Minute)
	f.setErr(errors.New("refused again"))
	r.clock.Advance(time.Minute)
	if s := <-r.states; s.Up || !s.DownSince.Equal(examDay.Add(77*time.Second)) {
		t.Fatalf("second outage %+v", s)
	}
	r.wantTimer(t, 5*time.Second)
	if err := r.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
}

// Lookup answers the detail pane within the rate bound, and refuses at once
// while the PACS is down.
func TestPollerLookup(t *testing.T) {
	f := &fakePACS{studies: []pacs.Study{stA}, err: errors.New("connection refused")}
	r := startPoller(t, f, nil)
	<-r.states
	r.wantTimer(t, 5*time.Second)
	before := len(f.asked())
	if _, err := r.p.Lookup(context.Background(), pacs.Referral{Accession: "A1"}); !errors.Is(err, pacs.ErrDown) ||
		!strings.Contains(err.Error(), "unreachable since") {
		t.Fatalf("lookup while down: %v", err)
	}
	if len(f.asked()) != before {
		t.Error("a lookup while down reached the PACS")
	}
	f.setErr(nil)
	r.clock.Advance(5 * time.Second)
	<-r.states
	<-r.rounds
	r.wantTimer(t, time.Minute)
	got := make(chan pacs.Match, 1)
	go func() {
		m, err := r.p.Lookup(context.Background(), pacs.Referral{Accession: "A1"})
		if err != nil {
			t.Error(err)
		}
		got <- m
	}()
	r.wantTimer(t, 2*time.Second) // right after the round's request
	r.clock.Advance(2 * time.Second)
	if m := <-got; m.By != pacs.ByAccession || m.Instances() != 5 {
		t.Errorf("lookup %+v", m)
	}
}
