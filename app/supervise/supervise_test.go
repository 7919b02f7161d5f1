package supervise

import (
	"context"
	"errors"
	"log/slog"
	"testing"
)

// A service that panics, then fails, then returns early is run again each
// time, while the others keep running; all stop when ctx ends.
func TestRestartsAFailedService(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	runs := 0
	steady := make(chan struct{})
	flaky := Service{Name: "flaky", Run: func(ctx context.Context) error {
		runs++
		switch runs {
		case 1:
			panic("broken")
		case 2:
			return errors.New("failed")
		case 3:
			return nil
		}
		cancel()
		<-ctx.Done()
		return nil
	}}
	other := Service{Name: "steady", Run: func(ctx context.Context) error {
		close(steady)
		<-ctx.Done()
		return nil
	}}
	run(ctx, slog.New(slog.DiscardHandler), 0, []Service{flaky, other})
	<-steady
	if runs != 4 {
		t.Errorf("the failing service ran %d times, want 4", runs)
	}
}
