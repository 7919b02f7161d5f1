package provet

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxClockSkew is how far the computer's clock may drift from Provet's before
// Diagnose warns: token expiry and the modified__gte delta sync both compare
// the two clocks.
const MaxClockSkew = 60 * time.Second

// Diagnose checks the connection to Provet and shows, for one real worklist
// item and its referral, patient and client, the raw JSON keys next to what
// the mapping understood, so a tenant whose schema differs can be fixed with
// mapping overrides. It never prints personal data: text values are shown by
// length only. It returns an error when something needs fixing; warnings do
// not count.
func Diagnose(ctx context.Context, c *Client, w io.Writer) error {
	if c == nil {
		return errors.New("no Provet session to diagnose: sign in to Provet first")
	}
	d := &diag{w: w, c: c}
	d.run(ctx)
	d.printf("\n")
	if len(d.problems) == 0 {
		d.printf("No problems found (%d warnings).\n", d.warnings)
		return nil
	}
	d.printf("%d problem(s), %d warning(s):\n", len(d.problems), d.warnings)
	for _, p := range d.problems {
		d.printf("  - %s\n", p)
	}
	return fmt.Errorf("Provet diagnostics found %d problem(s): %s", len(d.problems), d.problems[0])
}

type diag struct {
	w        io.Writer
	c        *Client
	problems []string
	warnings int
}

func (d *diag) printf(format string, a ...any) { fmt.Fprintf(d.w, format, a...) }

func (d *diag) problem(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	d.problems = append(d.problems, msg)
	d.printf("  PROBLEM: %s\n", msg)
}

func (d *diag) warn(format string, a ...any) {
	d.warnings++
	d.printf("  WARNING: %s\n", fmt.Sprintf(format, a...))
}

func (d *diag) run(ctx context.Context) {
	base := d.c.base
	d.printf("Provet API: %s\n", base.Redacted())

	d.printf("\nName resolution\n")
	host := base.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		d.printf("  %s is an IP address\n", host)
	} else {
		addrs, err := d.c.lookupHost(ctx, host)
		if err != nil {
			d.problem("cannot resolve %s (%v): check the internet connection, DNS settings or the Provet URL", host, err)
			return
		}
		d.printf("  %s resolves to %d address(es)\n", host, len(addrs))
	}

	d.printf("\nWorklist (one page)\n")
	q := url.Values{"page_size": {"5"}}
	resp, err := d.c.do(ctx, &request{method: http.MethodGet, rel: pathWorklist, query: q})
	if err != nil {
		if ce := certError(err); ce != nil {
			d.problem("the TLS certificate of %s is not trusted (%v): if a proxy or antivirus inspects HTTPS, ask IT to exempt %s", host, ce, host)
			return
		}
		d.problem("cannot list the worklist: %v", err)
		return
	}
	d.transport(resp, host)
	var p page
	if err := json.Unmarshal(resp.body, &p); err != nil {
		d.problem("the worklist list is not a Provet page: %v", err)
		return
	}
	var pageKeys object
	_ = json.Unmarshal(resp.body, &pageKeys)
	d.printf("  page keys: %s\n", strings.Join(sortedKeys(pageKeys), ", "))
	d.printf("  count %d, %d on this page, next page: %v\n", p.Count, len(p.Results), p.Next != nil && *p.Next != "")
	if len(p.Results) == 0 {
		d.warn("the worklist is empty, so its keys cannot be checked: create an imaging referral in Provet and run this again")
		return
	}

	m := d.c.mapping
	it, err := m.DecodeWorklist(p.Results[0])
	if err != nil {
		d.problem("the first worklist item does not decode: %v", err)
		d.showKeys("worklist item", p.Results[0], m, "worklist", nil)
		return
	}
	d.printf("\nWorklist item %d (detail)\n", it.ID)
	detail, err := d.c.WorklistItem(ctx, it.ID)
	if err != nil {
		d.problem("cannot read worklist item %d: %v", it.ID, err)
		detail = it
	}
	d.showKeys("worklist item", detail.Raw, m, "worklist", describeWorklist(detail))
	if detail.Status == StatusUnknown {
		d.problem("status value %q is not in the mapping: set status.<requested|in_progress|completed|cancelled> to include it", detail.StatusRaw)
	}

	if detail.Referral.ID > 0 {
		d.printf("\nImaging referral %d\n", detail.Referral.ID)
		if r, err := d.c.Referral(ctx, detail.Referral.ID); err != nil {
			d.problem("cannot read the referral: %v", err)
		} else {
			d.showKeys("referral", r.Raw, m, "referral", describeReferral(r))
		}
	} else {
		d.warn("the worklist item names no referral, so remarks and the appointment cannot be read (mapping worklist.referral)")
	}

	if detail.Patient.ID > 0 {
		d.printf("\nPatient %d\n", detail.Patient.ID)
		if pt, err := d.c.Patient(ctx, detail.Patient.ID); err != nil {
			d.problem("cannot read the patient: %v", err)
		} else {
			d.showKnown(pt.Raw, []string{"id", "name", "species", "breed", "gender", "date_of_birth", "client", "microchip", "weight"})
		}
	} else {
		d.problem("the worklist item names no patient (mapping worklist.patient)")
	}

	owner := detail.Client
	if owner.ID > 0 {
		d.printf("\nClient %d\n", owner.ID)
		if o, err := d.c.Owner(ctx, owner.ID); err != nil {
			d.problem("cannot read the client: %v", err)
		} else {
			d.showKnown(o.Raw, []string{"id", "firstname", "lastname", "organization_name", "customer_type", "phone_numbers"})
		}
	} else {
		d.warn("the worklist item names no client; the owner will be read from the patient (mapping worklist.client)")
	}
}

// transport reports TLS and the clock difference from the answer's headers.
func (d *diag) transport(resp *response, host string) {
	if resp.tls != nil {
		d.printf("  TLS %s", tls.VersionName(resp.tls.Version))
		if certs := resp.tls.PeerCertificates; len(certs) > 0 {
			left := time.Until(certs[0].NotAfter)
			d.printf(", certificate for %s valid until %s", certs[0].Subject.CommonName, certs[0].NotAfter.Format(time.DateOnly))
			if left < 14*24*time.Hour {
				d.warn("Provet's certificate expires in %s", left.Round(time.Hour))
			}
		}
		d.printf("\n")
	} else if !isLoopbackHost(host) {
		d.problem("the connection is not encrypted: use the https:// address of Provet Cloud")
	} else {
		d.printf("  plain HTTP to a local simulator\n")
	}
	date := resp.header.Get("Date")
	if date == "" {
		d.warn("Provet sent no Date header, so clock skew cannot be checked")
		return
	}
	server, err := http.ParseTime(date)
	if err != nil {
		d.warn("Provet's Date header %q cannot be read", date)
		return
	}
	skew := d.c.now().Sub(server)
	d.printf("  clock difference to Provet: %s\n", skew.Round(time.Second))
	if skew > MaxClockSkew || skew < -MaxClockSkew {
		d.warn("this computer's clock is %s off Provet's: sign-in expiry and change tracking depend on it; turn on automatic time setting in Windows", skew.Abs().Round(time.Second))
	}
}

// showKeys prints each mapped field with its JSON key, whether the key is
// present and what was understood, then the JSON keys nothing reads.
func (d *diag) showKeys(what string, raw json.RawMessage, m *Mapping, object string, understood map[string]string) {
	o, err := parseObject(raw)
	if err != nil {
		d.problem("%s is not a JSON object: %v", what, err)
		return
	}
	names, keys := m.MappedKeys(object)
	used := map[string]bool{}
	d.printf("  %-36s %-26s %-28s %s\n", "mapping", "JSON key", "raw value", "understood")
	for i, name := range names {
		key := keys[i]
		if key == "" {
			d.printf("  %-36s %-26s\n", name, "(none configured)")
			continue
		}
		used[key] = true
		v, present := o[key]
		rawShown := "MISSING"
		if present {
			rawShown = summarize(v)
		}
		d.printf("  %-36s %-26s %-28s %s\n", name, key, rawShown, understood[name])
		if !present && isRequired(m, name) {
			d.problem("%s has no key %q: set mapping %s to the right key", what, key, name)
		}
	}
	var unmapped []string
	for _, k := range sortedKeys(o) {
		if !used[k] {
			unmapped = append(unmapped, k+" ("+summarize(o[k])+")")
		}
	}
	if len(unmapped) > 0 {
		d.printf("  keys the mapping does not read: %s\n", strings.Join(unmapped, ", "))
	}
}

func isRequired(m *Mapping, name string) bool {
	for _, f := range m.keyFields() {
		if f.name == name {
			return f.required
		}
	}
	return false
}

// showKnown lists a published object's keys, flagging expected ones missing.
func (d *diag) showKnown(raw json.RawMessage, expected []string) {
	o, err := parseObject(raw)
	if err != nil {
		d.problem("not a JSON object: %v", err)
		return
	}
	var parts []string
	for _, k := range sortedKeys(o) {
		parts = append(parts, k+" ("+kindOf(o[k])+")")
	}
	d.printf("  keys: %s\n", strings.Join(parts, ", "))
	var missing []string
	for _, k := range expected {
		if _, ok := o[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		d.warn("expected keys missing: %s", strings.Join(missing, ", "))
	}
}

func sortedKeys(o object) []string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// summarize shows a raw value without personal data: numbers, booleans,
// nulls, URLs and timestamps as they are, other text by length only.
func summarize(v json.RawMessage) string {
	switch k := kindOf(v); k {
	case "number", "boolean", "null":
		s := string(v)
		if len(s) > 24 {
			s = s[:24] + "…"
		}
		return s
	case "string":
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "string"
		}
		if _, err := ParseTime(s); err == nil {
			return s
		}
		if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
			if id, err := IDFromURL(s); err == nil {
				return "URL …/" + strconv.FormatInt(id, 10) + "/"
			}
			return "URL"
		}
		if _, err := strconv.ParseFloat(s, 64); err == nil && len(s) < 24 {
			return strconv.Quote(s)
		}
		return fmt.Sprintf("text (%d chars)", len([]rune(s)))
	case "array":
		var items []json.RawMessage
		if json.Unmarshal(v, &items) != nil {
			return "array"
		}
		return fmt.Sprintf("array of %d", len(items))
	default:
		return k
	}
}

func refText(r Ref) string {
	if r.IsZero() {
		return "-"
	}
	return "id " + strconv.FormatInt(r.ID, 10)
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func textLen(s string) string {
	if s == "" {
		return "-"
	}
	return fmt.Sprintf("text (%d chars)", len([]rune(s)))
}

// describeWorklist says what the mapping understood, by override name.
func describeWorklist(it *WorklistItem) map[string]string {
	areas := make([]string, 0, len(it.TargetAreas))
	for _, a := range it.TargetAreas {
		areas = append(areas, refText(a))
	}
	return map[string]string{
		"worklist.id":                       strconv.FormatInt(it.ID, 10),
		"worklist.url":                      textOrDash(it.URL != "", "URL"),
		"worklist.status":                   it.Status.String(),
		"worklist.patient":                  refText(it.Patient),
		"worklist.client":                   refText(it.Client),
		"worklist.modality":                 refText(it.Modality),
		"worklist.target_areas":             "[" + strings.Join(areas, ", ") + "]",
		"worklist.referral":                 refText(it.Referral),
		"worklist.consultation":             refText(it.Consultation),
		"worklist.appointment":              refText(it.Appointment),
		"worklist.requesting_user":          refText(it.RequestingUser),
		"worklist.supervising_veterinarian": refText(it.SupervisingVet),
		"worklist.department":               refText(it.Department),
		"worklist.remarks":                  textLen(it.Remarks),
		"worklist.urgent":                   strconv.FormatBool(it.Urgent),
		"worklist.created":                  timeText(it.Created),
		"worklist.modified":                 timeText(it.Modified),
	}
}

func describeReferral(r *ImagingReferral) map[string]string {
	return map[string]string{
		"referral.id":             strconv.FormatInt(r.ID, 10),
		"referral.url":            textOrDash(r.URL != "", "URL"),
		"referral.worklist":       refText(r.Worklist),
		"referral.consultation":   refText(r.Consultation),
		"referral.appointment":    refText(r.Appointment),
		"referral.remarks":        textLen(r.Remarks),
		"referral.internal_notes": textLen(r.InternalNotes),
		"referral.urgent":         strconv.FormatBool(r.Urgent),
		"referral.created":        timeText(r.Created),
		"referral.modified":       timeText(r.Modified),
	}
}

func textOrDash(ok bool, s string) string {
	if ok {
		return s
	}
	return "-"
}
