package app

import "sync"

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
