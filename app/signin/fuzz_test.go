package signin

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzDeriveEndpoints guards the parser of the address the user types: no
// panic, and nothing accepted that would send tokens in clear text off this
// computer.
func FuzzDeriveEndpoints(f *testing.F) {
	for _, s := range []string{"https://provetcloud.com/4/api/0.1/", "http://127.0.0.1:80/4/", "http://evil.example/4/", "https://x/%2F/", "://", ""} {
		f.Add(s, "")
		f.Add(s, "4")
	}
	f.Fuzz(func(t *testing.T, base, id string) {
		ep, err := DeriveEndpoints(base, id)
		if err != nil {
			return
		}
		for _, e := range []string{ep.Authorize, ep.Token, ep.Revoke, ep.UserInfo} {
			u, perr := url.Parse(e)
			if perr != nil {
				t.Fatalf("%q %q gave an unparsable endpoint %q", base, id, e)
			}
			if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
				t.Fatalf("%q %q gave a clear-text endpoint %q", base, id, e)
			}
			if !strings.HasSuffix(u.Path, "/") {
				t.Fatalf("endpoint %q lacks Provet's trailing slash", e)
			}
		}
	})
}

// FuzzCallback guards the callback's reading of the query the browser
// brings: a code is handed over only with the right state.
func FuzzCallback(f *testing.F) {
	f.Add("code=abc&state=s1")
	f.Add("error=access_denied&error_description=no&state=s1")
	f.Add("code=abc&state=s2")
	f.Add("code=&state=s1&code=x")
	f.Fuzz(func(t *testing.T, rawQuery string) {
		c := newCallback("s1", "127.0.0.1:5000")
		req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:5000/callback", nil)
		if err != nil {
			t.Skip()
		}
		req.URL.RawQuery = rawQuery
		rec := &statusRecorder{header: http.Header{}}
		served := make(chan struct{})
		go func() {
			c.ServeHTTP(rec, req)
			close(served)
		}()
		var r callbackResult
		got := false
		select {
		case r = <-c.results:
			got = true
		case <-served: // an answer, if any, was handed over before
			select {
			case r = <-c.results:
				got = true
			default:
			}
		}
		if got {
			q, _ := url.ParseQuery(rawQuery)
			if r.err == nil && (q.Get("state") != "s1" || r.code == "" || q.Get("error") != "") {
				t.Fatalf("query %q handed over code %q", rawQuery, r.code)
			}
			if r.verdict != nil {
				r.verdict <- nil
			}
		}
		<-served
	})
}

// FuzzDecodeSaved guards the reader of what the keyring or the token file
// holds: no panic, and whatever it accepts survives a save and a load.
func FuzzDecodeSaved(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"refresh_token":"r","access_token":"a","token_type":"Bearer","expiry":"2026-11-29T20:00:00Z"}`,
		`{"v":1,"refresh_token":"r"}`, `{"v":2,"refresh_token":"r","new":[1]}`, "bare-refresh-token", "{", "", `{"v":1,"expiry":"x"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tok, err := decodeSaved(v)
		if err != nil {
			return
		}
		if tok.RefreshToken == "" && tok.AccessToken == "" {
			t.Fatalf("%q decoded to an empty sign-in", v)
		}
		again, err := decodeSaved(encodeSaved(tok))
		if err != nil || again.RefreshToken != tok.RefreshToken || again.AccessToken != tok.AccessToken || !again.Expiry.Equal(tok.Expiry) {
			t.Fatalf("%q: %+v did not survive a save: %+v %v", v, tok, again, err)
		}
	})
}
