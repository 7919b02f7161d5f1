package provet

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// Region domains as Provet documents them.
var regionDomains = map[string]string{
	"eu":         "provetcloud.com",
	"us":         "us.provetcloud.com",
	"enterprise": "enterprise.provetcloud.com",
}

// Tenant is one Provet Cloud installation: where its REST API and its OAuth
// endpoints live.
type Tenant struct {
	ProvetID  string // the clinic's installation id, the first path segment
	APIBase   string // https://<domain>/<provet_id>/api/0.1/
	OAuthBase string // https://<domain>/<provet_id>/oauth2/
}

// OAuthEndpoint returns an endpoint under the OAuth base, e.g. "token/".
func (t Tenant) OAuthEndpoint(name string) string {
	return t.OAuthBase + strings.TrimPrefix(name, "/")
}

// ResolveTenant derives the URLs from configuration. region is "eu", "us",
// "enterprise" or "custom"; for "custom" (or when region is empty and
// customURL is set) customURL is what the user pasted: a bare host such as
// https://awstest.provetcloud.com, a tenant URL https://host/<id>/, or the full
// REST base from Provet's Settings > Integrations page. provetID may be empty
// when the pasted URL already carries it; when both are given they must agree.
func ResolveTenant(region, customURL, provetID string) (Tenant, error) {
	provetID = strings.Trim(strings.TrimSpace(provetID), "/")
	region = strings.ToLower(strings.TrimSpace(region))
	customURL = strings.TrimSpace(customURL)
	if region == "" && customURL != "" {
		region = "custom"
	}
	if region == "custom" {
		return tenantFromURL(customURL, provetID)
	}
	domain, ok := regionDomains[region]
	if !ok {
		return Tenant{}, fmt.Errorf("unknown Provet region %q: choose eu, us, enterprise, or custom with the URL from Provet's Settings > Integrations", region)
	}
	if err := checkProvetID(provetID); err != nil {
		return Tenant{}, err
	}
	return makeTenant("https", domain, provetID), nil
}

func checkProvetID(id string) error {
	if id == "" {
		return errors.New("the Provet ID is missing: it is the number after the domain in your Provet address, e.g. 1234 in https://provetcloud.com/1234/")
	}
	if strings.ContainsAny(id, "/?#% \t") {
		return fmt.Errorf("the Provet ID %q is not valid: enter only the number after the domain in your Provet address", id)
	}
	return nil
}

func makeTenant(scheme, host, id string) Tenant {
	root := scheme + "://" + host + "/" + url.PathEscape(id) + "/"
	return Tenant{ProvetID: id, APIBase: root + "api/0.1/", OAuthBase: root + "oauth2/"}
}

func tenantFromURL(raw, provetID string) (Tenant, error) {
	if raw == "" {
		return Tenant{}, errors.New("the custom Provet URL is empty: paste the API address from Provet's Settings > Integrations")
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Tenant{}, fmt.Errorf("the custom Provet URL %q is not a valid address: %w", raw, err)
	}
	if u.Host == "" {
		return Tenant{}, fmt.Errorf("the custom Provet URL %q has no host name", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		// Tokens would cross the network in clear; only the local simulator
		// and test servers get a pass.
		if !isLoopbackHost(u.Hostname()) {
			return Tenant{}, fmt.Errorf("the custom Provet URL %q uses http: Provet Cloud must be reached over https", raw)
		}
	default:
		return Tenant{}, fmt.Errorf("the custom Provet URL %q must start with https://", raw)
	}
	var segs []string
	for _, s := range strings.Split(u.Path, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	var fromURL string
	switch i := indexTenantMarker(segs); {
	case i > 0:
		fromURL = segs[i-1]
	case i == 0:
		return Tenant{}, fmt.Errorf("the custom Provet URL %q lacks the Provet ID before %q", raw, segs[0])
	case len(segs) == 1:
		fromURL = segs[0]
	case len(segs) > 1:
		return Tenant{}, fmt.Errorf("cannot tell the Provet ID from %q: paste it as https://host/<provet_id>/api/0.1/", raw)
	}
	if fromURL != "" {
		if provetID != "" && provetID != fromURL {
			return Tenant{}, fmt.Errorf("the custom Provet URL names Provet ID %q but the configured Provet ID is %q: correct one of them", fromURL, provetID)
		}
		provetID = fromURL
	}
	if err := checkProvetID(provetID); err != nil {
		return Tenant{}, err
	}
	return makeTenant(u.Scheme, u.Host, provetID), nil
}

// indexTenantMarker finds the segment after the Provet ID ("api" or
// "oauth2"), so pasted REST and OAuth URLs both work.
func indexTenantMarker(segs []string) int {
	for i, s := range segs {
		if s == "api" || s == "oauth2" {
			return i
		}
	}
	return -1
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// IDFromURL reads an object id from a Provet relation URL such as
// https://provetcloud.com/4/api/0.1/client/17/ (the last path segment). A bare
// number is accepted too, since some relations may be serialised as ids.
func IDFromURL(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if id, err := strconv.ParseInt(s, 10, 64); err == nil {
		if id <= 0 {
			return 0, fmt.Errorf("id %d is not positive", id)
		}
		return id, nil
	}
	p := s
	if _, rest, ok := strings.Cut(s, "://"); ok && !strings.Contains(rest, "/") {
		return 0, fmt.Errorf("relation %q has no path", s)
	}
	if strings.ContainsAny(s, "?#%") {
		u, err := url.Parse(s)
		if err != nil {
			return 0, fmt.Errorf("relation %q is not a URL: %w", s, err)
		}
		p = u.Path
	}
	last := path.Base(strings.TrimRight(p, "/"))
	id, err := strconv.ParseInt(last, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("relation %q does not end in a numeric id", s)
	}
	return id, nil
}
