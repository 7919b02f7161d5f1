package provet

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/oauth2"
)

// Defaults for Options.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultCallTimeout    = 3 * time.Minute
	DefaultMaxAttempts    = 5
	// MaxBodyBytes bounds any answer read from Provet: a full page of 1000
	// worklist items is about 1 MB.
	MaxBodyBytes = 16 << 20
	maxRetryWait = 5 * time.Minute // longest wait inside one call
	// maxRetryAfter bounds what a Retry-After header can impose, so a broken
	// value cannot stop sync for days.
	maxRetryAfter = time.Hour
	backoffBase   = 500 * time.Millisecond
	backoffCap    = 30 * time.Second
)

// Options configure a Client.
type Options struct {
	// APIBase is the REST base, https://<domain>/<provet_id>/api/0.1/ (see
	// ResolveTenant).
	APIBase string
	// HTTPClient carries the OAuth2 access token and refreshes it (the
	// sign-in's client). Required.
	HTTPClient *http.Client
	// Reauth forces a token refresh after Provet answered 401; the call is
	// then retried once. Nil means a 401 is final. Concurrent calls that all
	// meet a 401 each call it, so it should coalesce simultaneous refreshes.
	Reauth func(ctx context.Context) error
	// Mapping decodes worklist and referral objects; nil means DefaultMapping.
	Mapping *Mapping
	Logger  *slog.Logger
	// RequestTimeout bounds one HTTP attempt; CallTimeout bounds a whole call
	// with its retries when the caller's context has no deadline.
	RequestTimeout time.Duration
	CallTimeout    time.Duration
	// MaxAttempts bounds attempts for 5xx, 429 and network failures.
	MaxAttempts int
	UserAgent   string

	// StatusesConfirmed says whether someone confirmed the status mapping
	// whose StatusFingerprint is given. When set, SetWorklistStatus and
	// AdvanceStatus send nothing until it answers true (they return
	// ErrStatusesUnconfirmed). Nil applies no gate: sync must set it.
	StatusesConfirmed func(fingerprint string) bool

	// Now and Sleep replace the clock for tests; Sleep must return early with
	// ctx.Err() when ctx ends.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client talks to one Provet Cloud tenant. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	hc      *http.Client
	reauth  func(context.Context) error
	mapping *Mapping
	log     *slog.Logger
	reqTO   time.Duration
	callTO  time.Duration
	tries   int
	ua      string
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error
	limits  *limiter
	// confirmed is Options.StatusesConfirmed.
	confirmed func(string) bool
	// lookupHost resolves names for Diagnose; tests replace it so they never
	// query a real DNS server.
	lookupHost func(ctx context.Context, host string) ([]string, error)
}

// New validates the options and returns a Client.
func New(o Options) (*Client, error) {
	if o.HTTPClient == nil {
		return nil, errors.New("provet: an HTTP client with the sign-in's token is required")
	}
	base, err := url.Parse(o.APIBase)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("provet: API base %q is not an http(s) URL: check the Provet region and URL settings", o.APIBase)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	base.RawQuery, base.Fragment = "", ""
	// A copy of the caller's client with our own redirect policy: the token
	// transport signs every request it sees, so a redirect off Provet would
	// hand the token to another host.
	hc := *o.HTTPClient
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 || !strings.EqualFold(req.URL.Host, base.Host) || req.URL.Scheme != base.Scheme {
			return errRedirect
		}
		if via[0].Method != http.MethodGet {
			return errRedirect // a redirected PATCH would silently become a GET
		}
		return nil
	}
	c := &Client{
		base: base, hc: &hc, reauth: o.Reauth, mapping: o.Mapping,
		log: o.Logger, reqTO: o.RequestTimeout, callTO: o.CallTimeout, tries: o.MaxAttempts,
		ua: o.UserAgent, now: o.Now, sleep: o.Sleep, confirmed: o.StatusesConfirmed,
	}
	if c.mapping == nil {
		c.mapping = DefaultMapping()
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.reqTO <= 0 {
		c.reqTO = DefaultRequestTimeout
	}
	if c.callTO <= 0 {
		c.callTO = DefaultCallTimeout
	}
	if c.tries <= 0 {
		c.tries = DefaultMaxAttempts
	}
	if c.ua == "" {
		c.ua = "VetBridge"
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	c.limits = newLimiter(c.now, c.sleep)
	c.lookupHost = net.DefaultResolver.LookupHost
	return c, nil
}

// Mapping returns the mapping the client decodes with.
func (c *Client) Mapping() *Mapping { return c.mapping }

// APIBase returns the REST base URL.
func (c *Client) APIBase() string { return c.base.String() }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// request is one logical call; attempts repeat it.
type request struct {
	method string
	rel    string     // path relative to the base, ending in '/'
	query  url.Values // nil for none
	abs    *url.URL   // set instead of rel+query when following a page's next link
	body   []byte
	cost   int
}

// response is a successful answer.
type response struct {
	body   []byte
	header http.Header
	tls    *tls.ConnectionState
	status int
}

func (c *Client) resolve(r *request) (*url.URL, string, error) {
	if r.abs != nil {
		rel, ok := c.relPath(r.abs)
		if !ok {
			return nil, "", fmt.Errorf("Provet sent a link outside the API base (%s): refusing to send the token there", r.abs.Redacted())
		}
		return r.abs, rel, nil
	}
	u := c.base.JoinPath(r.rel)
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/" // Provet redirects (and drops the body of) paths without it
	}
	if len(r.query) > 0 {
		u.RawQuery = encodeQuery(r.query)
	}
	return u, r.rel, nil
}

// relPath checks that u is on the API base and returns the rest of its path.
func (c *Client) relPath(u *url.URL) (string, bool) {
	if !strings.EqualFold(u.Scheme, c.base.Scheme) || !strings.EqualFold(u.Host, c.base.Host) {
		return "", false
	}
	return strings.CutPrefix(u.Path, c.base.Path)
}

// do runs a call with rate limiting, retries and one re-authentication.
func (c *Client) do(ctx context.Context, r *request) (*response, error) {
	if _, has := ctx.Deadline(); !has {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.callTO)
		defer cancel()
	}
	u, rel, err := c.resolve(r)
	if err != nil {
		return nil, &APIError{Kind: ErrServer, Method: r.method, Path: r.abs.Path, Err: err}
	}
	key := endpointKey(r.method, rel)
	cost := max(r.cost, 1)
	fail := func(kind error, status, attempts int, cause error) *APIError {
		return &APIError{Kind: kind, Method: r.method, Path: rel, Status: status, Attempts: attempts, Err: cause,
			Endpoint: resourceOf(rel)}
	}
	reauthed := false
	var last *APIError
	for attempt := 1; attempt <= c.tries; attempt++ {
		if err := c.limits.wait(ctx, key, cost); err != nil {
			return nil, c.ctxErr(ctx, last, fail(ErrThrottled, 0, attempt-1, nil))
		}
		resp, err := c.attempt(ctx, r.method, u, r.body)
		if err != nil {
			if ctx.Err() != nil {
				return nil, c.ctxErr(ctx, last, fail(ErrOffline, 0, attempt, err))
			}
			kind, retry := classifyTransport(err)
			last = fail(kind, 0, attempt, err)
			if !retry {
				return nil, last
			}
			c.log.Debug("provet: network failure, retrying", "method", r.method, "path", rel, "attempt", attempt, "err", err)
			if err := c.backoff(ctx, attempt); err != nil {
				return nil, c.ctxErr(ctx, last, last)
			}
			continue
		}
		switch s := resp.status; {
		case s >= 200 && s < 300:
			return resp, nil
		case s == http.StatusUnauthorized:
			if reauthed || c.reauth == nil {
				return nil, fail(ErrUnauthorized, s, attempt, nil)
			}
			reauthed = true
			c.log.Debug("provet: 401, refreshing the session", "path", rel)
			if err := c.reauth(ctx); err != nil {
				kind := ErrUnauthorized
				if k, retry := classifyTransport(err); k == ErrOffline && retry {
					kind = ErrOffline // the refresh could not reach Provet: not the user's fault
				}
				return nil, fail(kind, s, attempt, fmt.Errorf("refreshing the sign-in: %w", err))
			}
			attempt-- // the retry after a refresh is not a failure
		case s == http.StatusTooManyRequests:
			wait := retryAfter(resp.header, c.now())
			last = fail(ErrThrottled, s, attempt, nil)
			last.RetryAfter = wait
			if wait <= 0 {
				wait = c.backoffDelay(attempt)
			}
			c.limits.block(key, c.now().Add(wait))
			if attempt >= c.tries {
				return nil, last
			}
			if dl, ok := ctx.Deadline(); wait > maxRetryWait || (ok && time.Until(dl) < wait) {
				return nil, last // waiting would outlive the call: let the caller retry later
			}
			c.log.Info("provet: rate limited, waiting", "path", rel, "wait", wait)
			if err := c.sleep(ctx, wait); err != nil {
				return nil, c.ctxErr(ctx, last, last)
			}
		case s >= 500 || s == http.StatusRequestTimeout:
			last = fail(ErrServer, s, attempt, nil)
			last.Detail = excerpt(resp.body)
			if s == http.StatusNotImplemented {
				return nil, last
			}
			if attempt >= c.tries {
				return nil, last
			}
			// A 503 may say when the service returns (maintenance).
			wait := retryAfter(resp.header, c.now())
			if wait <= 0 {
				wait = c.backoffDelay(attempt)
			}
			if dl, ok := ctx.Deadline(); wait > maxRetryWait || (ok && time.Until(dl) < wait) {
				return nil, last
			}
			c.log.Debug("provet: server error, retrying", "path", rel, "status", s, "attempt", attempt, "wait", wait)
			if err := c.sleep(ctx, wait); err != nil {
				return nil, c.ctxErr(ctx, last, last)
			}
		case s == http.StatusNotFound || s == http.StatusGone:
			return nil, fail(ErrNotFound, s, attempt, nil)
		case s == http.StatusForbidden:
			e := fail(ErrForbidden, s, attempt, nil)
			e.Detail = excerpt(resp.body)
			e.Permission = PermissionFor(rel)
			return nil, e
		default:
			e := fail(ErrRejected, s, attempt, nil)
			e.Detail = excerpt(resp.body)
			return nil, e
		}
	}
	return nil, last
}

// ctxErr reports a call ended by its context. The caller's own cancellation
// stays recognisable with errors.Is(err, context.Canceled); a deadline is
// reported as what was failing when time ran out.
func (c *Client) ctxErr(ctx context.Context, last, fallback *APIError) error {
	e := fallback
	if last != nil {
		e = last
	}
	cp := *e
	if cp.Err == nil {
		cp.Err = ctx.Err()
	} else if !errors.Is(cp.Err, ctx.Err()) {
		cp.Err = fmt.Errorf("%w (%w)", cp.Err, ctx.Err())
	}
	return &cp
}

// attempt sends one HTTP request and reads the whole answer under the
// per-request deadline.
func (c *Client) attempt(ctx context.Context, method string, u *url.URL, body []byte) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.reqTO)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxBodyBytes {
		return nil, errTooLarge
	}
	return &response{body: b, header: resp.Header, tls: resp.TLS, status: resp.StatusCode}, nil
}

var (
	errTooLarge = fmt.Errorf("the answer is larger than %d MB", MaxBodyBytes>>20)
	errRedirect = errors.New("Provet redirected the request away from the API address; check the Provet URL setting")
)

// classifyTransport tells network trouble (retry, offline) from failures a
// retry cannot fix.
func classifyTransport(err error) (kind error, retry bool) {
	var rerr *oauth2.RetrieveError
	if errors.As(err, &rerr) {
		// The token source could not refresh: the refresh token is dead,
		// unless Provet's token endpoint itself failed.
		if rerr.Response != nil && rerr.Response.StatusCode >= 500 {
			return ErrServer, true
		}
		return ErrUnauthorized, false
	}
	if errors.Is(err, errTooLarge) || errors.Is(err, errRedirect) {
		return ErrServer, false
	}
	if isCertError(err) {
		// Retrying does not fix an untrusted certificate (often a proxy
		// intercepting TLS); it is offline as far as the clinic can tell.
		return ErrOffline, false
	}
	var nerr net.Error
	if errors.As(err, &nerr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, context.DeadlineExceeded) {
		return ErrOffline, true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return ErrOffline, true
	}
	return ErrOffline, false
}

// certError returns the TLS certificate failure in err's chain, or nil.
func certError(err error) error {
	var (
		uerr  x509.UnknownAuthorityError
		herr  x509.HostnameError
		cerr  x509.CertificateInvalidError
		tverr *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &tverr):
		return tverr
	case errors.As(err, &uerr):
		return uerr
	case errors.As(err, &herr):
		return herr
	case errors.As(err, &cerr):
		return cerr
	}
	return nil
}

func isCertError(err error) bool { return certError(err) != nil }

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}

// backoffDelay is capped exponential backoff with jitter, so that many
// clinics recovering from the same outage do not return in lockstep.
func (c *Client) backoffDelay(attempt int) time.Duration {
	d := backoffBase << min(attempt-1, 10)
	if d > backoffCap || d <= 0 {
		d = backoffCap
	}
	half := d / 2
	return half + rand.N(half+1)
}

func (c *Client) backoff(ctx context.Context, attempt int) error {
	if attempt >= c.tries {
		return nil // no retry follows: do not wait for nothing
	}
	return c.sleep(ctx, c.backoffDelay(attempt))
}

// excerpt keeps a short, printable part of an error body for messages.
func excerpt(b []byte) string {
	const n = 200
	if len(b) > n {
		b = b[:n]
	}
	// Cutting may split a rune; dropping invalid bytes repairs that.
	return strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "")), " ")
}

// get is a GET of rel with the client's retries and limits.
func (c *Client) get(ctx context.Context, rel string, q url.Values) (*response, error) {
	return c.do(ctx, &request{method: http.MethodGet, rel: rel, query: q})
}

// decodeErr wraps an answer that could not be decoded as a server bug.
func decodeErr(method, rel string, err error) error {
	return &APIError{Kind: ErrServer, Method: method, Path: rel, Detail: "the answer is not what VetBridge expects", Err: err}
}

// page is one page of a Provet list.
type page struct {
	Count    int               `json:"count"`
	NumPages int               `json:"num_pages"`
	Next     *string           `json:"next"`
	Previous *string           `json:"previous"`
	Results  []json.RawMessage `json:"results"`
}
