package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/app/localapi"
)

// remote is the running instance, reached over the local API.
type remote struct {
	c *localapi.Client
}

// dialRemote connects to the instance running for dir, or fails with
// localapi.ErrNotRunning.
func dialRemote(ctx context.Context, dir string) (*remote, error) {
	r := &remote{c: localapi.NewClient(dir)}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := r.status(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *remote) Running() bool { return true }
func (r *remote) Close() error  { return nil }

// call sends req (nil: none) to the operation and decodes the answer into out.
func (r *remote) call(ctx context.Context, method, op string, req, out any) error {
	return r.c.Call(ctx, method, op, req, out)
}

// do sends a request whose answer streams.
func (r *remote) do(ctx context.Context, method, op string, req any) (*http.Response, error) {
	return r.c.Open(ctx, method, op, req)
}

func (r *remote) status(ctx context.Context) (statusReply, error) {
	var s statusReply
	err := r.call(ctx, http.MethodGet, "status", nil, &s)
	return s, err
}

func (r *remote) Status(ctx context.Context) (Status, error) {
	s, err := r.status(ctx)
	return s.Status, err
}

func (r *remote) SyncNow(ctx context.Context) error {
	return r.call(ctx, http.MethodPost, "sync", nil, nil)
}

func (r *remote) ShowWindow(ctx context.Context) error {
	return r.call(ctx, http.MethodPost, "show", nil, nil)
}

// Quit asks the instance to stop, then waits until its endpoint is gone:
// an installer replaces the program right after.
func (r *remote) Quit(ctx context.Context) error {
	if err := r.call(ctx, http.MethodPost, "quit", nil, nil); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if _, err := r.status(ctx); err != nil {
			if errors.Is(err, localapi.ErrNotRunning) || ctx.Err() == nil {
				return nil
			}
			return fmt.Errorf("VetBridge did not stop within 30 seconds; end it in the task manager: %w", ctx.Err())
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *remote) Explain(ctx context.Context, accession, callingAE string) ([]Explanation, error) {
	var out []Explanation
	err := r.call(ctx, http.MethodPost, "explain", explainRequest{Accession: accession, CallingAE: callingAE}, &out)
	return out, err
}

func (r *remote) ExportWL(ctx context.Context, dir string) (int, error) {
	abs, err := absDir(dir)
	if err != nil {
		return 0, err
	}
	var out wlReply
	err = r.call(ctx, http.MethodPost, "export-wl", wlRequest{Dir: abs}, &out)
	return out.Count, err
}

func (r *remote) ImportWL(ctx context.Context, dir string) (int, int, error) {
	abs, err := absDir(dir)
	if err != nil {
		return 0, 0, err
	}
	var out wlReply
	err = r.call(ctx, http.MethodPost, "import-wl", wlRequest{Dir: abs}, &out)
	return out.Count, out.Bad, err
}

func (r *remote) SignIn(ctx context.Context, showURL func(string)) (string, error) {
	resp, err := r.do(ctx, http.MethodPost, "signin", nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var l signInLine
		if err := dec.Decode(&l); err != nil {
			return "", fmt.Errorf("the running VetBridge ended the sign-in without an answer: %w", err)
		}
		switch {
		case l.URL != "":
			showURL(l.URL)
		case l.Error != "":
			return "", errors.New(l.Error)
		default:
			return l.Who, nil
		}
	}
}

func (r *remote) SignOut(ctx context.Context) error {
	return r.call(ctx, http.MethodPost, "signout", nil, nil)
}

// Doctor streams the running instance's report to w.
func (r *remote) Doctor(ctx context.Context, w io.Writer) error {
	resp, err := r.do(ctx, http.MethodPost, "doctor", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var failed error
	for sc.Scan() {
		line := sc.Text()
		if msg, ok := strings.CutPrefix(line, doctorErrorPrefix); ok {
			failed = errors.New(msg)
			continue
		}
		fmt.Fprintln(w, line)
	}
	if failed != nil {
		return failed
	}
	return sc.Err()
}

func (r *remote) Devices(ctx context.Context) ([]Device, error) {
	var out []Device
	err := r.call(ctx, http.MethodGet, "devices", nil, &out)
	return out, err
}

func (r *remote) AllowDevice(ctx context.Context, callingAE string, addrs []string) error {
	return r.call(ctx, http.MethodPost, "devices/allow", deviceRequest{CallingAE: callingAE, Addrs: addrs}, nil)
}

func (r *remote) RemoveDevice(ctx context.Context, callingAE string) error {
	return r.call(ctx, http.MethodPost, "devices/remove", deviceRequest{CallingAE: callingAE}, nil)
}

func (r *remote) Statuses(ctx context.Context) (StatusReport, error) {
	var out StatusReport
	err := r.call(ctx, http.MethodGet, "statuses", nil, &out)
	return out, err
}

func (r *remote) ConfirmStatuses(ctx context.Context, s StatusSurvey) error {
	return r.call(ctx, http.MethodPost, "statuses/confirm", s, nil)
}
