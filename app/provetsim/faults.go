package provetsim

import (
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Faults are failures injected into every tenant request (OAuth and REST, not
// /_sim/). They can be changed while the server runs.
type Faults struct {
	ErrorRate float64 `json:"error_rate"` // 0..1: share of requests answered 500/502/503
	DropRate  float64 `json:"drop_rate"`  // 0..1: share of connections closed without an answer
	// DropResponseRate is the share of requests that are handled (a PATCH is
	// applied) but whose answer is lost with the connection: the case that
	// makes a client retry something that already happened.
	DropResponseRate float64 `json:"drop_response_rate"`
	// DropResponseMethod limits DropResponseRate to one HTTP method, e.g.
	// PATCH: the write is applied and its answer lost, while the reads
	// that check it are answered.
	DropResponseMethod string        `json:"drop_response_method,omitempty"`
	Latency            time.Duration `json:"latency"` // added before each request is handled
	Outage             bool          `json:"outage"`  // every request fails with 503
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f Faults) {
	s.fmu.Lock()
	s.faults = f
	s.fmu.Unlock()
}

// Faults returns the injected faults.
func (s *Server) Faults() Faults {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.faults
}

var errorStatuses = []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}

func (s *Server) withFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_sim/") {
			next.ServeHTTP(w, r)
			return
		}
		s.fmu.Lock()
		f := s.faults
		drop := f.DropRate > 0 && s.faultRng.Float64() < f.DropRate
		fail := f.ErrorRate > 0 && s.faultRng.Float64() < f.ErrorRate
		dropAfter := f.DropResponseRate > 0 && s.faultRng.Float64() < f.DropResponseRate &&
			(f.DropResponseMethod == "" || strings.EqualFold(f.DropResponseMethod, r.Method))
		status := errorStatuses[s.faultRng.IntN(len(errorStatuses))]
		s.fmu.Unlock()
		if f.Latency > 0 {
			t := time.NewTimer(f.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch {
		case f.Outage:
			w.Header().Set("Retry-After", "30")
			detail(w, http.StatusServiceUnavailable, "Service temporarily unavailable (simulated outage).")
		case drop:
			hangUp(w)
		case fail:
			detail(w, status, "Simulated server error.")
		case dropAfter:
			next.ServeHTTP(&discardWriter{header: http.Header{}}, r)
			hangUp(w)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	// HTTP/2 cannot be hijacked: abort the stream instead.
	panic(http.ErrAbortHandler)
}

// discardWriter lets a handler run to completion while its answer is lost.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// statusWriter remembers the status for the request log. Unwrap lets
// http.ResponseController reach the connection beneath.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// withRequestLog logs each request at debug level: method, path and status
// only. Queries and bodies carry codes and tokens and are never logged.
func (s *Server) withRequestLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.log.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		t0 := time.Now()
		defer func() {
			s.log.Debug("simulator request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "took", time.Since(t0))
		}()
		next.ServeHTTP(sw, r)
	})
}
