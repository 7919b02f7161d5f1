package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// The local API is JSON over HTTP on the endpoint, under Prefix. An error is
// {"error": "..."} with a 4xx or 5xx status. The version in the path lets a
// newer command tell an older instance apart.
const Prefix = "/v0/"

// errorReply is the body of a failed call.
type errorReply struct {
	Error string `json:"error"`
}

// Serve answers h on dir's endpoint until ctx ends. The caller must own the
// data directory.
func Serve(ctx context.Context, dir string, h http.Handler, log *slog.Logger) error {
	ln, err := Listen(dir)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	log.Info("local API listening", "endpoint", Endpoint(dir))
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("local API: %w", err)
	}
	return nil
}

// Reply answers v as JSON, or err as an error reply.
func Reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		_ = json.NewEncoder(w).Encode(errorReply{Error: err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// Decode reads a JSON request into v, answering a bad one itself.
func Decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v); err != nil {
		Reply(w, nil, fmt.Errorf("bad request: %w", err))
		return false
	}
	return true
}

// Flushing sends each write at once: a streamed answer (the sign-in
// address, doctor's findings) must reach the command while it waits.
type Flushing struct{ W http.ResponseWriter }

func (f Flushing) Write(p []byte) (int, error) {
	n, err := f.W.Write(p)
	if fl, ok := f.W.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

// Client calls the instance running for a data directory.
type Client struct {
	http *http.Client
}

// NewClient returns a client for dir's endpoint; nothing is dialled yet.
func NewClient(dir string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return Dial(ctx, dir)
		},
		DisableKeepAlives: true,
	}
	return &Client{http: &http.Client{Transport: tr}}
}

// Call sends req (nil: none) to the operation and decodes the answer into
// out (nil: ignored).
func (c *Client) Call(ctx context.Context, method, op string, req, out any) error {
	resp, err := c.Open(ctx, method, op, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("read the running VetBridge's answer to %s: %w", op, err)
	}
	return nil
}

// Open sends a request and returns the answer to read as it streams; a
// failed call is returned as its error.
func (c *Client) Open(ctx context.Context, method, op string, req any) (*http.Response, error) {
	var body io.Reader
	if req != nil {
		b, err := json.Marshal(req)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, method, "http://vetbridge"+Prefix+op, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		if errors.Is(err, ErrNotRunning) {
			return nil, err
		}
		return nil, fmt.Errorf("ask the running VetBridge (%s): %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e errorReply
		if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e) == nil && e.Error != "" {
			return nil, errors.New(e.Error)
		}
		return nil, fmt.Errorf("the running VetBridge answered %s to %s; it may be an older version: restart it", resp.Status, op)
	}
	return resp, nil
}
