package signin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type callbackResult struct {
	code string
	err  error
	// verdict takes SignIn's outcome for the code, so the browser says
	// "signed in" only once Provet has accepted the code.
	verdict chan error
}

// verdictWait bounds how long the browser's page waits for the code
// exchange; the token request itself is bounded by the HTTP client.
const verdictWait = 45 * time.Second

// callback answers the browser's return from Provet on the loopback
// listener. Only a GET /callback on the exact host of the redirect URI with
// this sign-in's state consumes the one answer; anything else (a favicon, a
// probe, a page reaching the port through another host name after DNS
// rebinding, a tab left over from an earlier sign-in) gets an error page and
// the wait goes on.
type callback struct {
	state   string
	host    string // "127.0.0.1:<port>", as the redirect URI names it
	results chan callbackResult
	once    sync.Once
	strays  atomic.Int32 // answers that carried another sign-in's state
}

func newCallback(state, host string) *callback {
	return &callback{state: state, host: host, results: make(chan callbackResult, 1)}
}

func (c *callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Browsers send the host exactly as the redirect URI has it; compare all
	// of it, port included.
	if !strings.EqualFold(r.Host, c.host) || r.URL.Path != "/callback" {
		page(w, http.StatusNotFound, "Not found", "This address does not belong to a VetBridge sign-in.")
		return
	}
	if r.Method != http.MethodGet {
		page(w, http.StatusMethodNotAllowed, "Not a sign-in answer", "This is not an answer from Provet. Return to VetBridge.")
		return
	}
	q := r.URL.Query()
	if !q.Has("code") && !q.Has("error") {
		page(w, http.StatusBadRequest, "Not a sign-in answer", "This is not an answer from Provet. Return to VetBridge.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(c.state)) != 1 {
		c.strays.Add(1)
		page(w, http.StatusBadRequest, "Still waiting for this sign-in", "This answer belongs to an earlier sign-in (perhaps another browser tab). "+
			"VetBridge is still waiting: finish the sign-in in the tab VetBridge opened, or use the address VetBridge shows.")
		return
	}
	// The one answer is taken inside once; the wait for Provet's verdict is
	// outside it, so a reload meanwhile is answered at once.
	var res *callbackResult
	c.once.Do(func() {
		res = &callbackResult{}
		switch {
		case q.Get("error") != "":
			res.err = &RefusedError{Code: q.Get("error"), Description: q.Get("error_description")}
		case q.Get("code") == "":
			res.err = errors.New("Provet answered without a sign-in code: start the sign-in again")
		default:
			res.code = q.Get("code")
			res.verdict = make(chan error, 1)
		}
		c.results <- *res
	})
	switch {
	case res == nil:
		page(w, http.StatusGone, "Answer already received", "VetBridge already has the answer for this sign-in. Return to VetBridge.")
	case res.err != nil:
		page(w, http.StatusBadRequest, "Sign-in failed", res.err.Error())
	default:
		showVerdict(w, r, res.verdict)
	}
}

func showVerdict(w http.ResponseWriter, r *http.Request, verdict <-chan error) {
	t := time.NewTimer(verdictWait)
	defer t.Stop()
	select {
	case err := <-verdict:
		if err != nil {
			page(w, http.StatusBadGateway, "Sign-in failed", err.Error())
			return
		}
		page(w, http.StatusOK, "Signed in", "You are signed in to Provet Cloud. You can close this tab and return to VetBridge.")
	case <-t.C:
		page(w, http.StatusAccepted, "Finishing the sign-in", "VetBridge is still finishing the sign-in with Provet. Return to VetBridge to see how it went.")
	case <-r.Context().Done():
	}
}

// ErrSignInTimeout means nobody finished the sign-in in the browser within
// the wait (Config.SignInWait).
var ErrSignInTimeout = errors.New("the sign-in timed out")

// wait returns the answer with its code, or says in words why none came: ctx carries
// ErrSignInTimeout as its cause when the sign-in's own wait ran out.
func (c *callback) wait(ctx context.Context, wait time.Duration) (callbackResult, error) {
	select {
	case r := <-c.results:
		return r, r.err
	case <-ctx.Done():
	}
	var err error
	if cause := context.Cause(ctx); errors.Is(cause, ErrSignInTimeout) {
		err = fmt.Errorf("%w: nobody finished it in the browser within %s; start the sign-in again", ErrSignInTimeout, inWords(wait))
	} else {
		err = fmt.Errorf("the sign-in was stopped before it was finished in the browser: %w", cause)
	}
	if n := c.strays.Load(); n > 0 {
		err = fmt.Errorf("%w; %w", err, ErrStateMismatch)
	}
	return callbackResult{}, err
}

// inWords says a wait as people do: "5 minutes", "1 minute", "90s".
func inWords(d time.Duration) string {
	switch {
	case d == time.Minute:
		return "1 minute"
	case d > 0 && d%time.Minute == 0:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}

var pageT = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>VetBridge sign-in</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:3em auto">
<h1>{{.Title}}</h1><p>{{.Text}}</p></body></html>
`))

func page(w http.ResponseWriter, status int, title, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer") // the address bar holds the code
	w.WriteHeader(status)
	_ = pageT.Execute(w, map[string]any{"Title": title, "Text": text})
}
