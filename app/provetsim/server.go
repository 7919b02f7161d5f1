// Package provetsim is a Provet Cloud simulator: a real HTTP server with
// OAuth2 Authorization Code + PKCE, the REST endpoints VetBridge reads, Provet's
// rate limits, injectable faults, a deterministic data generator and a mutation
// API for tests and demos. It imports nothing else of VetBridge so that it
// stays an independent witness of how Provet behaves.
//
// The control API under /_sim/ has no authentication: bind the simulator to
// loopback only.
package provetsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configure a simulator. Zero values pick the defaults documented on
// each field.
type Options struct {
	ProvetID string // tenant id in every path; default "4"
	ClientID string // the one registered public client; default "vetbridge-demo"
	// ClientSecret enables the client_credentials grant for ClientID, with
	// the secret sent by HTTP Basic as Provet prefers; empty: no such grant.
	ClientSecret string

	Referrals int              // referrals generated at start; default 0 (none). Negative: none.
	Seed      uint64           // generator seed; the same seed and Now give the same data
	Now       func() time.Time // clock for tokens, rate limits and mutations; default time.Now
	Location  *time.Location   // the clinic's zone for timestamps; default UTC+02:00

	AccessTokenTTL  time.Duration // default 10 h, as Provet
	RefreshTokenTTL time.Duration // default 30 days, as Provet
	CodeTTL         time.Duration // authorization code lifetime; default 1 min
	// NoRotation makes a refresh answer without a new refresh token, the old
	// one staying valid: Provet's documentation says a refresh *may* rotate,
	// so clients must handle both.
	NoRotation bool

	// IgnoreExpose answers ?expose_ with plain relation URLs, as a Provet
	// endpoint that does not support inlining would. It is the same as
	// Quirks.IgnoreExpose.
	IgnoreExpose bool

	// Quirks make the tenant differ from what VetBridge assumes (other status
	// numbers, missing keys, ignored filters, 403s); see Quirks. Invalid
	// quirks are logged and dropped.
	Quirks Quirks

	// AutoApprove skips the consent page: authorize/ redirects with a code at
	// once, for tests and the demo.
	AutoApprove bool
	// UserID is the Provet user who signs in; default 1 (the technician).
	UserID int

	// RateScale multiplies Provet's per-minute budgets; 0 means 1. Tests use a
	// small value to provoke HTTP 429 quickly. A budget never drops below 1.
	RateScale float64
	// RateWindow is the rolling window of the budgets; default 60 s.
	RateWindow time.Duration

	Logger *slog.Logger // default slog.Default()
}

// Server is a running or runnable simulator. Its methods are safe for
// concurrent use.
type Server struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	data     *dataset
	auth     authState
	patches  []Patch
	quirks   Quirks
	requests map[string]int
	limiter  limiter

	fmu      sync.Mutex
	faults   Faults
	faultRng *rand.Rand

	ctx    context.Context
	cancel context.CancelFunc

	demoMu   sync.Mutex
	demoStop func() // cancels the demo ticker and waits for it

	lnMu sync.Mutex
	ln   net.Listener
	srv  *http.Server
}

// DefaultClientID is the public client the simulator registers unless told otherwise.
const DefaultClientID = "vetbridge-demo"

// New builds a simulator with its generated data. It does not listen yet.
func New(o Options) *Server {
	if o.ProvetID == "" {
		o.ProvetID = "4"
	}
	o.ProvetID = strings.Trim(o.ProvetID, "/")
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.FixedZone("+02:00", 2*3600)
	}
	if o.AccessTokenTTL <= 0 {
		o.AccessTokenTTL = 10 * time.Hour
	}
	if o.RefreshTokenTTL <= 0 {
		o.RefreshTokenTTL = 30 * 24 * time.Hour
	}
	if o.CodeTTL <= 0 {
		o.CodeTTL = time.Minute
	}
	if o.UserID == 0 {
		o.UserID = 1
	}
	if o.RateScale <= 0 {
		o.RateScale = 1
	}
	if o.RateWindow <= 0 {
		o.RateWindow = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:     o,
		log:      o.Logger.With("component", "provetsim"),
		data:     newDataset(max(o.Referrals, 0), o.Seed, o.Now(), o.Location),
		auth:     newAuthState(),
		requests: map[string]int{},
		limiter:  limiter{hits: map[string][]hit{}},
		faultRng: rand.New(rand.NewPCG(o.Seed, 0xfa17)),
		ctx:      ctx,
		cancel:   cancel,
	}
	q := o.Quirks.clone()
	q.IgnoreExpose = q.IgnoreExpose || o.IgnoreExpose
	if err := q.Validate(); err != nil {
		s.log.Error("simulator quirks dropped", "err", err)
		q = Quirks{}
	}
	s.quirks = q
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	return s
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("simulator cannot listen on %s (is the port taken?): %w", addr, err)
	}
	s.setListener(ln)
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("simulator stopped serving", "err", err)
		}
	}()
	return nil
}

// Serve serves on ln until Close; it returns http.ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	s.setListener(ln)
	return s.srv.Serve(ln)
}

func (s *Server) setListener(ln net.Listener) {
	s.lnMu.Lock()
	s.ln = ln
	s.lnMu.Unlock()
}

// Close stops the server, the demo ticker and every open connection.
func (s *Server) Close() error {
	s.cancel()
	return s.srv.Close()
}

// Addr is the listening address, or "" before Start/Serve.
func (s *Server) Addr() string {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// URL is the tenant's base, http://127.0.0.1:PORT/<provet_id>/.
func (s *Server) URL() string {
	return "http://" + s.Addr() + "/" + s.opts.ProvetID + "/"
}

// BaseURL is scheme and host only, http://127.0.0.1:PORT.
func (s *Server) BaseURL() string { return "http://" + s.Addr() }

// ProvetID is the tenant id in every path.
func (s *Server) ProvetID() string { return s.opts.ProvetID }

// ClientID is the registered public OAuth2 client.
func (s *Server) ClientID() string { return s.opts.ClientID }

func (s *Server) now() time.Time { return s.opts.Now() }

// Handler is the simulator's whole HTTP surface, for callers that bring their
// own server (httptest, for instance).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	p := "/" + s.opts.ProvetID
	o := p + "/oauth2/"
	mux.HandleFunc("GET "+o+"authorize/{$}", s.handleAuthorize)
	mux.HandleFunc("POST "+o+"authorize/{$}", s.handleConsent)
	mux.HandleFunc("POST "+o+"token/{$}", s.handleToken)
	mux.HandleFunc("POST "+o+"revoke_token/{$}", s.handleRevoke)
	mux.HandleFunc("GET "+o+"userinfo/{$}", s.handleUserinfo)
	mux.HandleFunc("POST "+o+"userinfo/{$}", s.handleUserinfo)
	mux.HandleFunc("GET "+o+".well-known/openid-configuration/{$}", s.handleDiscovery)
	mux.HandleFunc("GET "+o+".well-known/openid-configuration", s.handleDiscovery)
	s.routeAPI(mux, p+"/api/0.1/")
	s.routeSim(mux)
	s.routeQuirks(mux)
	return s.withRequestLog(s.withFaults(mux))
}

// writeJSON sends v with status; encoding errors only mean the peer left.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// detail is Django REST framework's error shape.
func detail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"detail": msg})
}

func (s *Server) count(endpoint string) {
	s.mu.Lock()
	s.requests[endpoint]++
	s.mu.Unlock()
}

// Requests returns how many requests each endpoint received, keyed by names
// such as "worklist.list", "worklist.patch", "patient.detail", "oauth.token".
// Requests refused for their token or by the rate limit are counted; requests
// lost to an injected fault never reach an endpoint and are not.
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}
