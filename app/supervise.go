package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// service is one background loop. It runs until ctx ends; an error return
// means it failed and should be restarted.
type service struct {
	name string
	run  func(ctx context.Context) error
}

// supervise runs every service until ctx ends, restarting a failed one with
// capped backoff, so one broken loop (a panicking sync, a port briefly in
// use) never takes the DICOM server or the others down with it.
func supervise(ctx context.Context, log *slog.Logger, services ...service) {
	var wg sync.WaitGroup
	for _, s := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			backoff := time.Second
			for {
				started := time.Now()
				err := runRecovered(ctx, s)
				if ctx.Err() != nil {
					return
				}
				if time.Since(started) > time.Minute {
					backoff = time.Second
				}
				log.Error("background service stopped; restarting", "service", s.name, "err", err, "in", backoff)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(backoff*2, time.Minute)
			}
		}()
	}
	wg.Wait()
}

func runRecovered(ctx context.Context, s service) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in %s: %v", s.name, r)
		}
	}()
	err = s.run(ctx)
	if err == nil && ctx.Err() == nil {
		err = errors.New("returned early")
	}
	return err
}

// hub fans events out to subscribers. Subscribers are called on the
// publisher's goroutine and must not block; the UI moves them to its own
// goroutine with fyne.Do.
type hub struct {
	mu   sync.Mutex
	next int
	subs map[int]func(Event)
}

func (h *hub) subscribe(fn func(Event)) (unsubscribe func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[int]func(Event){}
	}
	id := h.next
	h.next++
	h.subs[id] = fn
	return func() {
		h.mu.Lock()
		delete(h.subs, id)
		h.mu.Unlock()
	}
}

func (h *hub) publish(e Event) {
	h.mu.Lock()
	fns := make([]func(Event), 0, len(h.subs))
	for _, fn := range h.subs {
		fns = append(fns, fn)
	}
	h.mu.Unlock()
	for _, fn := range fns {
		fn(e)
	}
}
