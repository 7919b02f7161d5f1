package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/vetbridge/vetbridge/app/localapi"
)

// The local API: the running instance's answers to the commands, the
// installer and a second launch, over an endpoint only this user reaches
// (package localapi, which also holds the JSON-over-HTTP framing).
const apiPrefix = localapi.Prefix

var (
	reply  = localapi.Reply
	decode = localapi.Decode
)

// runLocalAPI serves the local API until ctx ends.
func (a *App) runLocalAPI(ctx context.Context) error {
	return localapi.Serve(ctx, a.dir, a.localHandler(), a.log)
}

// statusReply is Status with what only a running instance knows.
type statusReply struct {
	Status
	PID int `json:"pid"`
}

type explainRequest struct {
	Accession string `json:"accession"`
	CallingAE string `json:"calling_ae"`
}

type wlRequest struct {
	Dir string `json:"dir"`
}

type wlReply struct {
	Count int `json:"count"`
	Bad   int `json:"bad,omitempty"`
}

type deviceRequest struct {
	CallingAE string   `json:"calling_ae"`
	Addrs     []string `json:"addrs,omitempty"`
}

// signInLine is one line of the streamed sign-in answer: first the address
// to open, then who signed in or what went wrong.
type signInLine struct {
	URL   string `json:"url,omitempty"`
	Who   string `json:"who,omitempty"`
	Error string `json:"error,omitempty"`
}

func (a *App) localHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"status", func(w http.ResponseWriter, r *http.Request) {
		reply(w, statusReply{Status: a.Status(), PID: pid}, nil)
	})
	mux.HandleFunc("POST "+apiPrefix+"sync", func(w http.ResponseWriter, r *http.Request) {
		a.SyncNow()
		reply(w, struct{}{}, nil)
	})
	mux.HandleFunc("POST "+apiPrefix+"show", func(w http.ResponseWriter, r *http.Request) {
		a.ShowWindow()
		reply(w, struct{}{}, nil)
	})
	mux.HandleFunc("POST "+apiPrefix+"quit", func(w http.ResponseWriter, r *http.Request) {
		reply(w, struct{}{}, nil)
		// Answer first: stopping closes this very server.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = a.Shutdown(ctx)
		}()
	})
	mux.HandleFunc("POST "+apiPrefix+"explain", func(w http.ResponseWriter, r *http.Request) {
		var req explainRequest
		if !decode(w, r, &req) {
			return
		}
		ex, err := a.ExplainAccession(req.Accession, req.CallingAE)
		reply(w, ex, err)
	})
	mux.HandleFunc("POST "+apiPrefix+"export-wl", func(w http.ResponseWriter, r *http.Request) {
		var req wlRequest
		if !decode(w, r, &req) {
			return
		}
		n, err := a.ExportWL(req.Dir)
		reply(w, wlReply{Count: n}, err)
	})
	mux.HandleFunc("POST "+apiPrefix+"import-wl", func(w http.ResponseWriter, r *http.Request) {
		var req wlRequest
		if !decode(w, r, &req) {
			return
		}
		n, bad, err := a.ImportWL(req.Dir)
		reply(w, wlReply{Count: n, Bad: bad}, err)
	})
	mux.HandleFunc("GET "+apiPrefix+"devices", func(w http.ResponseWriter, r *http.Request) {
		reply(w, a.Devices(), nil)
	})
	mux.HandleFunc("POST "+apiPrefix+"devices/allow", func(w http.ResponseWriter, r *http.Request) {
		var req deviceRequest
		if decode(w, r, &req) {
			reply(w, struct{}{}, a.AllowDevice(r.Context(), req.CallingAE, req.Addrs))
		}
	})
	mux.HandleFunc("POST "+apiPrefix+"devices/remove", func(w http.ResponseWriter, r *http.Request) {
		var req deviceRequest
		if decode(w, r, &req) {
			reply(w, struct{}{}, a.RemoveDevice(r.Context(), req.CallingAE))
		}
	})
	mux.HandleFunc("GET "+apiPrefix+"statuses", func(w http.ResponseWriter, r *http.Request) {
		rep, err := a.Statuses(r.Context())
		reply(w, rep, err)
	})
	mux.HandleFunc("POST "+apiPrefix+"statuses/confirm", func(w http.ResponseWriter, r *http.Request) {
		var s StatusSurvey
		if decode(w, r, &s) {
			reply(w, struct{}{}, a.ConfirmStatuses(r.Context(), s))
		}
	})
	a.imagingAPI(mux)
	mux.HandleFunc("POST "+apiPrefix+"signin", a.serveSignIn)
	mux.HandleFunc("POST "+apiPrefix+"signout", func(w http.ResponseWriter, r *http.Request) {
		reply(w, struct{}{}, a.SignOut(r.Context()))
	})
	mux.HandleFunc("POST "+apiPrefix+"doctor", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fw := localapi.Flushing{W: w}
		if err := a.Doctor(r.Context(), fw); err != nil {
			fmt.Fprintf(fw, "\n%s%s\n", doctorErrorPrefix, err)
		}
	})
	return mux
}

// doctorErrorPrefix marks the streamed doctor report's final error line, so
// the command can exit non-zero as it would without a running instance.
const doctorErrorPrefix = "vetbridge-error: "

func (a *App) serveSignIn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(localapi.Flushing{W: w})
	who, err := a.signIn(r.Context(), func(u string, _ time.Time) { _ = enc.Encode(signInLine{URL: u}) })
	if err != nil {
		_ = enc.Encode(signInLine{Error: err.Error()})
		return
	}
	_ = enc.Encode(signInLine{Who: who})
}
