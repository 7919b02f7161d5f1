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

// DoctorOptions tune Doctor.
type DoctorOptions struct {
	// SurveyPages bounds the status survey; 0 means DefaultSurveyPages.
	SurveyPages int
	// ConfirmedFingerprint is the StatusFingerprint someone confirmed
	// (`vetbridge statuses --confirm`); "" when none.
	ConfirmedFingerprint string
}

// Diagnose runs Doctor and prints its report. It returns an error when
// something needs fixing; warnings and findings to confirm do not count.
func Diagnose(ctx context.Context, c *Client, w io.Writer) error {
	if c == nil {
		return errors.New("no Provet session to diagnose: sign in to Provet first")
	}
	r := Doctor(ctx, c, DoctorOptions{})
	if err := r.WriteText(w); err != nil {
		return err
	}
	return r.Err()
}

// Doctor runs what sync runs against the tenant and reports, as data, what
// works, what does not and what to do: name resolution, TLS and clock, the
// real full and delta queries with expose_, whether modified__gte and
// status__in are honoured (and which spelling), whether relations come
// inlined and whole, the keys the mapping reads, every endpoint sync reads
// (401/403/404, naming the Provet permission), and the status values in use
// next to the mapping's meaning. It never reports personal data.
func Doctor(ctx context.Context, c *Client, o DoctorOptions) *Report {
	d := &doctor{c: c, m: c.mapping, o: o, r: &Report{APIBase: c.base.Redacted()}}
	d.run(ctx)
	return d.r
}

type doctor struct {
	c *Client
	m *Mapping
	o DoctorOptions
	r *Report
	// total is the worklist's count without filters.
	total int
}

const doctorPageSize = 50

func (d *doctor) run(ctx context.Context) {
	r := d.r
	host := d.c.base.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		r.add("dns", SevOK, "", "%s is an IP address", host)
	} else {
		addrs, err := d.c.lookupHost(ctx, host)
		if err != nil {
			r.add("dns", SevProblem, "Check the internet connection, DNS settings or the Provet URL",
				"cannot resolve %s (%v)", host, err)
			return
		}
		r.add("dns", SevOK, "", "%s resolves to %d address(es)", host, len(addrs))
	}
	first, ok := d.plainPage(ctx, host)
	if !ok {
		return
	}
	d.statuses(ctx)
	d.statusFilter(ctx)
	full := d.query(ctx, "full-query", FullQuery(d.r.StatusFilter, doctorPageSize))
	d.delta(ctx)
	sample := first
	if len(full) > 0 {
		sample = full
	}
	if len(sample) == 0 {
		r.add("worklist", SevWarning, "Create an imaging referral in Provet and run this again",
			"the worklist is empty, so its keys and relations cannot be checked")
		d.probeLists(ctx)
		return
	}
	d.expose(sample)
	d.items(ctx, sample)
	d.probeLists(ctx)
}

// plainPage reads the first page without filters: transport, page shape and
// the unfiltered count.
func (d *doctor) plainPage(ctx context.Context, host string) ([]json.RawMessage, bool) {
	r := d.r
	q := url.Values{"page_size": {strconv.Itoa(doctorPageSize)}}
	resp, err := d.c.do(ctx, &request{method: http.MethodGet, rel: pathWorklist, query: q})
	if err != nil {
		if ce := certError(err); ce != nil {
			r.add("transport", SevProblem, fmt.Sprintf("If a proxy or antivirus inspects HTTPS, ask IT to exempt %s", host),
				"the TLS certificate of %s is not trusted (%v)", host, ce)
			return nil, false
		}
		d.endpointErr("worklist", pathWorklist, err)
		return nil, false
	}
	d.transport(resp, host)
	var p page
	if err := json.Unmarshal(resp.body, &p); err != nil {
		r.add("worklist", SevProblem, "Check the Provet URL setting: it must be the API base ending in /api/0.1/",
			"the worklist list is not a Provet page: %v", err)
		return nil, false
	}
	d.total = p.Count
	r.add("worklist", SevOK, "", "the worklist lists %d order(s)", p.Count)
	return p.Results, true
}

// transport reports TLS and the clock difference from the answer's headers.
func (d *doctor) transport(resp *response, host string) {
	r := d.r
	switch {
	case resp.tls != nil:
		msg := "TLS " + tls.VersionName(resp.tls.Version)
		if certs := resp.tls.PeerCertificates; len(certs) > 0 {
			msg += fmt.Sprintf(", certificate for %s valid until %s", certs[0].Subject.CommonName, certs[0].NotAfter.Format(time.DateOnly))
			if left := certs[0].NotAfter.Sub(d.c.now()); left < 14*24*time.Hour {
				r.add("transport", SevWarning, "Nothing to do unless it lapses: then tell Provet support",
					"Provet's certificate expires in %s", left.Round(time.Hour))
			}
		}
		r.add("transport", SevOK, "", "%s", msg)
	case !isLoopbackHost(host):
		r.add("transport", SevProblem, "Use the https:// address of Provet Cloud", "the connection is not encrypted")
	default:
		r.add("transport", SevOK, "", "plain HTTP to a local simulator")
	}
	date := resp.header.Get("Date")
	server, err := http.ParseTime(date)
	if err != nil {
		r.add("transport", SevWarning, "Nothing to do; keep the computer's clock set automatically",
			"Provet sent no readable Date header, so clock skew cannot be checked")
		return
	}
	skew := d.c.now().Sub(server)
	r.add("transport", SevOK, "", "clock difference to Provet: %s", skew.Round(time.Second))
	if skew > MaxClockSkew || skew < -MaxClockSkew {
		r.add("transport", SevWarning, "Turn on automatic time setting in Windows",
			"this computer's clock is %s off Provet's: sign-in expiry and change tracking depend on it", skew.Abs().Round(time.Second))
	}
}

// statuses runs the survey and judges the values.
func (d *doctor) statuses(ctx context.Context) {
	r := d.r
	sv, err := SurveyStatuses(ctx, d.c, d.o.SurveyPages)
	if err != nil {
		r.add("statuses", SevProblem, "Run `vetbridge doctor` again; if it persists, see the error",
			"cannot survey the worklist's status values: %v", err)
		return
	}
	r.Survey = &sv
	if sv.Read == 0 {
		r.add("statuses", SevConfirm, "Create an imaging referral in Provet, then run `vetbridge statuses`",
			"the worklist is empty, so its status values cannot be checked")
		return
	}
	r.add("statuses", SevOK, "", "%d distinct status value(s) in %d order(s) read", len(sv.Values), sv.Read)
	for _, v := range sv.Unknown() {
		r.add("statuses.unknown", SevProblem,
			fmt.Sprintf("Open orders %s in Provet, see which state they show, and add %q to that state in the mapping (status.<requested|in_progress|completed|cancelled>); until then no status is written", idList(v.Examples), v.Raw),
			"status value %q (%d order(s)) means nothing to the mapping", v.Raw, v.Count)
	}
	for _, c := range sv.Concerns() {
		r.add("statuses.distribution", SevConfirm,
			"Compare the example orders in the status table with Provet's screens; correct the status mapping if they differ",
			"%s", c)
	}
	if d.o.ConfirmedFingerprint != sv.Fingerprint {
		r.add("statuses.confirmed", SevConfirm,
			"Compare the status table with Provet's own screens, then run `vetbridge statuses --confirm`; until then no status is written to Provet",
			"the status values (mapping %s) have not been confirmed by a person", sv.Fingerprint)
	}
}

func idList(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}

// statusFilter tries both spellings of status__in with the open states.
func (d *doctor) statusFilter(ctx context.Context) {
	r := d.r
	var vals []string
	for _, s := range []Status{StatusRequested, StatusInProgress} {
		vals = append(vals, d.m.StatusValues[s]...)
	}
	honoured := map[StatusFilterForm]bool{}
	for _, form := range []StatusFilterForm{StatusFilterComma, StatusFilterBrackets} {
		q := url.Values{"page_size": {strconv.Itoa(doctorPageSize)}, "status__in": {form.spell(vals)}}
		resp, err := d.c.do(ctx, &request{method: http.MethodGet, rel: pathWorklist, query: q})
		if err != nil {
			if !errors.Is(err, ErrRejected) {
				d.endpointErr("worklist", pathWorklist, err)
				return
			}
			continue // 400: this spelling is refused
		}
		var p page
		if json.Unmarshal(resp.body, &p) != nil {
			continue
		}
		honoured[form] = d.onlyStatuses(p, vals)
	}
	r.StatusFilterChecked = true
	switch {
	case honoured[StatusFilterComma]:
		r.StatusFilter = StatusFilterComma
	case honoured[StatusFilterBrackets]:
		r.StatusFilter = StatusFilterBrackets
	default:
		r.StatusFilter = StatusFilterNone
		r.add("filter.status", SevWarning,
			"Nothing to change: VetBridge sends no status filter and keeps the open orders itself; a reconcile then costs more requests. Ask Provet support which spelling the worklist's status filter takes",
			"Provet honours neither status__in=%s nor status__in=%s: a reconcile reads every order, not just the open ones",
			StatusFilterComma.spell(vals), StatusFilterBrackets.spell(vals))
		return
	}
	r.add("filter.status", SevOK, "", "status__in=%s is honoured (brackets: %v, commas: %v)",
		r.StatusFilter.spell(vals), honoured[StatusFilterBrackets], honoured[StatusFilterComma])
}

// onlyStatuses judges a filtered page: every order carries one of vals and,
// when the tenant has orders outside them, fewer came back than exist.
func (d *doctor) onlyStatuses(p page, vals []string) bool {
	for _, raw := range p.Results {
		_, st, ok := d.m.rawStatus(raw)
		if ok && !slices.ContainsFunc(vals, func(v string) bool { return strings.EqualFold(v, st) }) {
			return false
		}
	}
	if sv := d.r.Survey; sv != nil && p.Count >= d.total && d.total > 0 {
		for _, v := range sv.Values {
			if !slices.ContainsFunc(vals, func(x string) bool { return strings.EqualFold(x, v.Raw) }) {
				return false // values outside the set exist, yet nothing was left out
			}
		}
	}
	return true
}

// query sends one of sync's queries, first page only, and returns its items.
func (d *doctor) query(ctx context.Context, check string, q WorklistQuery) []json.RawMessage {
	r := d.r
	vals, err := q.values(d.m)
	if err != nil {
		r.add(check, SevProblem, "Set the status values in the mapping", "%v", err)
		return nil
	}
	resp, err := d.c.do(ctx, &request{method: http.MethodGet, rel: pathWorklist, query: vals})
	if err != nil {
		d.endpointErr(check, pathWorklist, err)
		return nil
	}
	var p page
	if err := json.Unmarshal(resp.body, &p); err != nil {
		r.add(check, SevProblem, "Run `vetbridge doctor` again; if it persists, tell Provet support", "%s answer is not a Provet page: %v", check, err)
		return nil
	}
	for _, raw := range p.Results {
		if _, err := d.m.DecodeWorklist(raw); err != nil {
			r.add(check, SevProblem, "Correct the mapping key it names (see the key table below)", "an order from the %s does not decode: %v", check, err)
			return p.Results
		}
	}
	r.add(check, SevOK, "", "the %s answers: %d order(s)", check, p.Count)
	return p.Results
}

// delta checks the poll query and that modified__gte is honoured.
func (d *doctor) delta(ctx context.Context) {
	r := d.r
	now := d.c.now()
	d.query(ctx, "delta-query", DeltaQuery(now.Add(-time.Hour), d.r.StatusFilter))
	q := WorklistQuery{ModifiedSince: now.Add(24 * time.Hour), PageSize: 1}
	vals, _ := q.values(d.m)
	resp, err := d.c.do(ctx, &request{method: http.MethodGet, rel: pathWorklist, query: vals})
	if err != nil {
		d.endpointErr("filter.modified", pathWorklist, err)
		return
	}
	var p page
	if json.Unmarshal(resp.body, &p) != nil {
		return
	}
	if p.Count > 0 || len(p.Results) > 0 {
		r.add("filter.modified", SevProblem,
			"Lengthen the poll interval in Settings (each poll pages through every order) and ask Provet support to enable modified__gte on diagnosticimaging_worklist",
			"Provet ignores modified__gte; every poll would page through the whole history (%d orders returned for a time in the future)", p.Count)
		return
	}
	r.add("filter.modified", SevOK, "", "modified__gte is honoured")
}

// expose checks that the relations sync asks for come back inlined and whole.
func (d *doctor) expose(items []json.RawMessage) {
	r := d.r
	kinds := map[string]Kind{"patient": KindPatient, "client": KindOwner, "referral": KindReferral,
		"requesting_user": KindUser, "supervising_veterinarian": KindUser, "modality": KindModality, "target_areas": KindTargetArea}
	anyInlined, anyPartial := false, false
	var notInlined []string
	for _, rel := range SyncExpose {
		kind, ok := kinds[rel]
		if !ok {
			continue // appointment is inlined inside the referral
		}
		state, missing := d.relationState(items, rel, kind)
		switch state {
		case "absent":
			continue
		case "url":
			notInlined = append(notInlined, rel)
		case "partial":
			anyInlined, anyPartial = true, true
			r.add("expose."+rel, SevWarning, "Nothing to do: VetBridge fetches each such object whole (one more request per order)",
				"inlined %s objects lack %s", rel, strings.Join(missing, ", "))
		default:
			anyInlined = true
		}
	}
	switch {
	case !anyInlined && len(notInlined) > 0:
		r.add("expose", SevWarning, "Nothing to do: VetBridge fetches each related object, which costs more requests per order; a long poll interval keeps this within Provet's limits",
			"Provet ignores expose_: relations come back as links (%s)", strings.Join(notInlined, ", "))
	case len(notInlined) > 0:
		r.add("expose", SevWarning, "Nothing to do: VetBridge fetches these objects one by one",
			"Provet does not inline %s", strings.Join(notInlined, ", "))
	case anyPartial:
		r.add("expose", SevOK, "", "expose_ is honoured, some objects only in part (see above)")
	default:
		r.add("expose", SevOK, "", "expose_ is honoured")
	}
}

// relationState says how rel came back in the first order that has it:
// "absent", "url", "partial" (with the keys missing) or "whole".
func (d *doctor) relationState(items []json.RawMessage, rel string, kind Kind) (string, []string) {
	for _, raw := range items {
		o, err := parseObject(raw)
		if err != nil {
			continue
		}
		v := o.get(rel)
		if v == nil {
			continue
		}
		if kindOf(v) == "array" {
			var list []json.RawMessage
			if json.Unmarshal(v, &list) != nil || len(list) == 0 {
				continue
			}
			v = list[0]
		}
		ref, err := decodeRef(v)
		if err != nil {
			continue
		}
		if ref.Inline == nil {
			return "url", nil
		}
		if missing := d.m.MissingInline(kind, ref); len(missing) > 0 {
			return "partial", missing
		}
		return "whole", nil
	}
	return "absent", nil
}

// items checks the keys of the first order and probes every detail endpoint
// sync reads with the ids that order names.
func (d *doctor) items(ctx context.Context, items []json.RawMessage) {
	r := d.r
	it, err := d.m.DecodeWorklist(items[0])
	if err != nil {
		r.Objects = append(r.Objects, d.keyTable("Worklist item (does not decode)", items[0], "worklist", nil))
		return
	}
	detail, err := d.c.WorklistItem(ctx, it.ID)
	if err != nil {
		d.endpointErr("endpoint.diagnosticimaging_worklist", pathWorklist, err)
		detail = it
	}
	r.Objects = append(r.Objects, d.keyTable(fmt.Sprintf("Worklist item %d", detail.ID), detail.Raw, "worklist", describeWorklist(detail)))
	o, _ := parseObject(detail.Raw)
	if k := d.m.Worklist.Modified; k == "" || o[k] == nil {
		r.add("key.modified", SevProblem,
			"If Provet names the change time differently, set mapping worklist.modified to that key; otherwise changes are only seen at each reconcile",
			"worklist orders carry no %q key: polls cannot tell which orders changed", d.m.Worklist.Modified)
	}
	d.patient(ctx, detail)
	d.referral(ctx, detail)
	if u := detail.RequestingUser; u.ID > 0 {
		_, err := d.c.User(ctx, u.ID)
		d.probe("user", pathUser, err)
	}
	if cl := detail.Client; cl.ID > 0 {
		if ow, err := d.c.Owner(ctx, cl.ID); d.probe("client", pathClient, err) {
			r.Objects = append(r.Objects, knownKeys(fmt.Sprintf("Client %d", cl.ID), ow.Raw))
		}
	}
}

// patient checks the patient link and the consultation route.
func (d *doctor) patient(ctx context.Context, it *WorklistItem) {
	r := d.r
	if it.Patient.ID > 0 {
		if p, err := d.c.Patient(ctx, it.Patient.ID); d.probe("patient", pathPatient, err) {
			r.Objects = append(r.Objects, knownKeys(fmt.Sprintf("Patient %d", it.Patient.ID), p.Raw))
		}
	} else {
		how := "and has no consultation either: no patient can be found"
		if it.Consultation.ID > 0 {
			if _, err := d.c.ConsultationPatient(ctx, it.Consultation.ID); err == nil {
				how = "; VetBridge reads the patient through consultation/<id>/?expose_patients instead (one more request per order)"
			} else {
				how = fmt.Sprintf("and its consultation does not give the patient either (%v)", err)
			}
		}
		r.add("key.patient", SevProblem,
			"If Provet names the patient link differently, set mapping worklist.patient to that key; otherwise make sure the technician's Provet user may read consultations and patients",
			"worklist order %d carries no patient link (mapping worklist.patient = %q)%s", it.ID, d.m.Worklist.Patient, how)
	}
	if c := it.Consultation; c.ID > 0 {
		_, err := d.c.Consultation(ctx, c.ID)
		d.probe("consultation", pathConsultation, err)
	}
}

// referral probes the referral and, through it, the appointment.
func (d *doctor) referral(ctx context.Context, it *WorklistItem) {
	r := d.r
	if it.Referral.ID <= 0 {
		r.add("key.referral", SevWarning, "Set mapping worklist.referral if Provet names it differently",
			"the worklist order names no referral, so remarks and the appointment cannot be read")
		return
	}
	ref, err := d.c.Referral(ctx, it.Referral.ID)
	if !d.probe("diagnosticimaging_referral", pathReferral, err) {
		return
	}
	r.Objects = append(r.Objects, d.keyTable(fmt.Sprintf("Imaging referral %d", ref.ID), ref.Raw, "referral", describeReferral(ref)))
	if a := ref.Appointment; a.ID > 0 {
		_, err := d.c.Appointment(ctx, a.ID)
		d.probe("appointment", pathAppointment, err)
	}
}

// probeLists reads the reference lists sync reads.
func (d *doctor) probeLists(ctx context.Context) {
	_, err := d.c.Modalities(ctx)
	d.probe("modality", pathModality, err)
	_, err = d.c.TargetAreas(ctx)
	d.probe("targetarea", pathTargetArea, err)
}

// consequences say what sync loses without an endpoint.
var consequences = map[string]string{
	"worklist":                            "sync cannot read any order and the worklist stays empty",
	"diagnosticimaging_worklist":          "sync cannot read orders one by one (webhooks, deleted orders)",
	"diagnosticimaging_referral":          "remarks, urgency and appointment times stay empty",
	"appointment":                         "scheduled times stay empty",
	"patient":                             "patients are known only from inlined copies",
	"client":                              "owner names stay empty unless inlined",
	"consultation":                        "orders without a patient link cannot find their patient",
	"user":                                "the requesting and supervising vets' names stay empty unless inlined",
	"modality":                            "modality names come only from inlined copies",
	"targetarea":                          "body part names come only from inlined copies",
	"full-query":                          "the reconcile fails",
	"delta-query":                         "every poll fails",
	"filter.modified":                     "polls cannot be checked",
	"endpoint.diagnosticimaging_worklist": "sync cannot read orders one by one (webhooks, deleted orders)",
}

// probe records an endpoint's answer; it reports whether the call worked.
func (d *doctor) probe(resource, rel string, err error) bool {
	if err == nil {
		d.r.add("endpoint."+resource, SevOK, "", "%s is readable", rel)
		return true
	}
	d.endpointErr("endpoint."+resource, rel, err)
	return false
}

// endpointErr turns a failed call into a finding that says what to do.
func (d *doctor) endpointErr(check, rel string, err error) {
	r := d.r
	what := consequences[strings.TrimPrefix(check, "endpoint.")]
	if what == "" {
		what = "sync cannot use it"
	}
	switch {
	case errors.Is(err, ErrUnauthorized):
		r.add(check, SevProblem, "Sign in to Provet again", "Provet refused the sign-in on %s (HTTP 401)", rel)
	case errors.Is(err, ErrForbidden):
		perm := PermissionFor(rel)
		action := "Ask the clinic's Provet administrator which permission this user lacks"
		if perm != "" {
			action = fmt.Sprintf("Ask the clinic's Provet administrator to grant this user the permission %q", perm)
		}
		r.add(check, SevProblem, action, "the Provet user may not read %s (HTTP 403): %s", rel, what)
	case errors.Is(err, ErrNotFound) && (rel == pathModality || rel == pathTargetArea || rel == pathWorklist):
		r.add(check, SevProblem, "Check the Provet URL setting; if it is right, ask Provet support whether this endpoint is enabled for the tenant",
			"%s does not exist on this tenant (HTTP 404): %s", rel, what)
	case errors.Is(err, ErrNotFound):
		r.add(check, SevWarning, "Nothing to do if the object was just deleted; run `vetbridge doctor` again later",
			"an object the first order names under %s answers 404", rel)
	default:
		r.add(check, SevProblem, "See the error; check the connection and run `vetbridge doctor` again", "%s: %v (%s)", rel, err, what)
	}
}

// keyTable shows each mapped field with its JSON key, whether it is present
// and what was understood, then the JSON keys nothing reads.
func (d *doctor) keyTable(title string, raw json.RawMessage, object string, understood map[string]string) ObjectKeys {
	ok := ObjectKeys{Title: title}
	o, err := parseObject(raw)
	if err != nil {
		d.r.add("key."+object, SevProblem, "Check the Provet URL setting", "%s is not a JSON object: %v", title, err)
		return ok
	}
	names, keys := d.m.MappedKeys(object)
	used := map[string]bool{}
	for i, name := range names {
		row := KeyRow{Name: name, Key: keys[i], Understood: understood[name]}
		if row.Key != "" {
			used[row.Key] = true
			v, present := o[row.Key]
			row.Raw = "MISSING"
			if present {
				row.Raw = summarize(v)
			} else if isRequired(d.m, name) && name != "worklist.patient" { // key.patient reports that one
				d.r.add("key."+object, SevProblem, fmt.Sprintf("Set mapping %s to the right key (see the key table)", name),
					"%s has no key %q", title, row.Key)
			}
		}
		ok.Rows = append(ok.Rows, row)
	}
	for _, k := range sortedKeys(o) {
		if !used[k] {
			ok.Unmapped = append(ok.Unmapped, k+" ("+summarize(o[k])+")")
		}
	}
	return ok
}

// knownKeys lists a published object's keys with their JSON kinds.
func knownKeys(title string, raw json.RawMessage) ObjectKeys {
	ok := ObjectKeys{Title: title}
	o, err := parseObject(raw)
	if err != nil {
		return ok
	}
	for _, k := range sortedKeys(o) {
		ok.Keys = append(ok.Keys, k+" ("+kindOf(o[k])+")")
	}
	return ok
}

func isRequired(m *Mapping, name string) bool {
	for _, f := range m.keyFields() {
		if f.name == name {
			return f.required
		}
	}
	return false
}
