package provet

import (
	"strings"
	"testing"
)

func TestResolveTenant(t *testing.T) {
	tests := []struct {
		region, url, id    string
		wantAPI, wantOAuth string
		wantID             string
	}{
		{"eu", "", "4", "https://provetcloud.com/4/api/0.1/", "https://provetcloud.com/4/oauth2/", "4"},
		{"US", "", " 1234/ ", "https://us.provetcloud.com/1234/api/0.1/", "https://us.provetcloud.com/1234/oauth2/", "1234"},
		{"enterprise", "", "77", "https://enterprise.provetcloud.com/77/api/0.1/", "https://enterprise.provetcloud.com/77/oauth2/", "77"},
		{"custom", "https://awstest.provetcloud.com/5/api/0.1/", "", "https://awstest.provetcloud.com/5/api/0.1/", "https://awstest.provetcloud.com/5/oauth2/", "5"},
		{"custom", "https://awstest.provetcloud.com/5/api/0.1", "5", "https://awstest.provetcloud.com/5/api/0.1/", "https://awstest.provetcloud.com/5/oauth2/", "5"},
		{"custom", "https://awstest.provetcloud.com", "9", "https://awstest.provetcloud.com/9/api/0.1/", "https://awstest.provetcloud.com/9/oauth2/", "9"},
		{"custom", "awstest.provetcloud.com/9/", "", "https://awstest.provetcloud.com/9/api/0.1/", "https://awstest.provetcloud.com/9/oauth2/", "9"},
		{"custom", "https://x.example/12/oauth2/token/", "", "https://x.example/12/api/0.1/", "https://x.example/12/oauth2/", "12"},
		{"", "http://127.0.0.1:8080/3/api/0.1/", "", "http://127.0.0.1:8080/3/api/0.1/", "http://127.0.0.1:8080/3/oauth2/", "3"},
		{"custom", "http://localhost:9/3", "", "http://localhost:9/3/api/0.1/", "http://localhost:9/3/oauth2/", "3"},
	}
	for _, tt := range tests {
		got, err := ResolveTenant(tt.region, tt.url, tt.id)
		if err != nil {
			t.Errorf("ResolveTenant(%q, %q, %q): %v", tt.region, tt.url, tt.id, err)
			continue
		}
		if got.APIBase != tt.wantAPI || got.OAuthBase != tt.wantOAuth || got.ProvetID != tt.wantID {
			t.Errorf("ResolveTenant(%q, %q, %q) = %+v", tt.region, tt.url, tt.id, got)
		}
	}
	if got := (Tenant{OAuthBase: "https://h/1/oauth2/"}).OAuthEndpoint("/token/"); got != "https://h/1/oauth2/token/" {
		t.Errorf("OAuthEndpoint = %q", got)
	}
}

func TestResolveTenantErrors(t *testing.T) {
	tests := []struct {
		region, url, id, want string
	}{
		{"eu", "", "", "Provet ID is missing"},
		{"eu", "", "1/2", "not valid"},
		{"mars", "", "1", "unknown Provet region"},
		{"custom", "", "1", "empty"},
		{"custom", "http://provetcloud.com/4/", "", "https"},
		{"custom", "ftp://provetcloud.com/4/", "", "https"},
		{"custom", "https://provetcloud.com/4/api/0.1/", "5", "correct one of them"},
		{"custom", "https://provetcloud.com/api/0.1/", "", "lacks the Provet ID"},
		{"custom", "https://provetcloud.com/a/b/", "", "cannot tell"},
		{"custom", "https://provetcloud.com/", "", "Provet ID is missing"},
	}
	for _, tt := range tests {
		_, err := ResolveTenant(tt.region, tt.url, tt.id)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ResolveTenant(%q, %q, %q) error = %v, want it to mention %q", tt.region, tt.url, tt.id, err, tt.want)
		}
	}
}

func TestIDFromURL(t *testing.T) {
	good := map[string]int64{
		"https://provetcloud.com/4/api/0.1/client/1/":                      1,
		"https://provetcloud.com/4/api/0.1/diagnosticimaging_worklist/987": 987,
		"https://provetcloud.com/4/api/0.1/patient/42/?expose=x":           42,
		" 17 ":               17,
		"/4/api/0.1/user/5/": 5,
	}
	for in, want := range good {
		if got, err := IDFromURL(in); err != nil || got != want {
			t.Errorf("IDFromURL(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-3", "https://provetcloud.com/4/api/0.1/client/", "https://h/x/abc/", "://bad", "https://h/1/api/0.1/client/99999999999999999999/", "https://17", "https://h/a/%zz/"} {
		if got, err := IDFromURL(in); err == nil {
			t.Errorf("IDFromURL(%q) = %d, want an error", in, got)
		}
	}
}
