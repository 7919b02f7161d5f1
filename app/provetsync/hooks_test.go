package provetsync

import (
	"fmt"
	"testing"
	"time"
)

func TestHooksReadAnOrderOncePerSpacing(t *testing.T) {
	e := New(Options{})
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	// Provet fires the create and the update hook for one new order, and
	// retries: five POSTs for order 7, one for order 9.
	for i := 0; i < 5; i++ {
		e.Hook(7)
	}
	e.Hook(9)
	e.Hook(0) // a body without an id is no order
	ids, next := e.hooks.due(t0)
	if fmt.Sprint(ids) != "[7 9]" || next != 0 {
		t.Fatalf("first round reads %v (next %v), want [7 9] now", ids, next)
	}
	// Order 7 changes again a second later: it waits for the spacing.
	e.Hook(7)
	ids, next = e.hooks.due(t0.Add(time.Second))
	if len(ids) != 0 || next != hookSpacing-time.Second {
		t.Fatalf("too soon: read %v, next in %v; want none, next in %v", ids, next, hookSpacing-time.Second)
	}
	ids, _ = e.hooks.due(t0.Add(hookSpacing))
	if fmt.Sprint(ids) != "[7]" {
		t.Fatalf("after the spacing: %v, want [7]", ids)
	}
	if len(e.hooks.pending) != 0 {
		t.Errorf("left pending: %v", e.hooks.pending)
	}
}
