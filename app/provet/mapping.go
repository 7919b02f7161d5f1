package provet

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is the only place that knows the JSON keys and status values of
// Provet's diagnostic imaging worklist and referral. Provet has not published
// them; the defaults are what our simulator serves and what is plausible in
// Provet's style. A real tenant that differs is corrected with configuration
// overrides (see ApplyOverrides) and checked with `vetbridge doctor`.

// Status is a worklist order's state as VetBridge understands it.
type Status int

const (
	StatusUnknown    Status = iota // a value the mapping does not know
	StatusRequested                // ordered, waiting to be imaged
	StatusInProgress               // the exam has started
	StatusCompleted                // images taken
	StatusCancelled                // the order was withdrawn or discontinued
)

var statusNames = [...]string{"unknown", "requested", "in_progress", "completed", "cancelled"}

func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return "unknown"
	}
	return statusNames[s]
}

// WorklistKeys are the JSON keys of a diagnostic imaging worklist object. An
// empty key means the tenant has no such field.
type WorklistKeys struct {
	ID, URL, Status                     string
	Patient, Client                     string
	Modality, TargetAreas               string
	Referral, Consultation, Appointment string
	RequestingUser, SupervisingVet      string
	Department, Remarks, Urgent         string
	Created, Modified                   string
}

// ReferralKeys are the JSON keys of a diagnostic imaging referral object.
type ReferralKeys struct {
	ID, URL                             string
	Worklist, Consultation, Appointment string
	Remarks, InternalNotes, Urgent      string
	Created, Modified                   string
}

// Mapping decodes worklist and referral objects. Treat a Mapping as immutable
// once a Client uses it; ApplyOverrides before.
type Mapping struct {
	Worklist WorklistKeys
	Referral ReferralKeys
	// StatusValues lists, for each known status, the raw values that mean it
	// (numbers as their decimal text). The first value is the one written by
	// PATCH.
	StatusValues map[Status][]string
}

// DefaultMapping is the simulator's schema: relations as URLs and an integer
// status 1 requested, 2 in progress, 3 completed, 4 cancelled.
func DefaultMapping() *Mapping {
	return &Mapping{
		Worklist: WorklistKeys{
			ID: "id", URL: "url", Status: "status",
			Patient: "patient", Client: "client",
			Modality: "modality", TargetAreas: "target_areas",
			Referral: "referral", Consultation: "consultation",
			RequestingUser: "requesting_user", SupervisingVet: "supervising_veterinarian",
			Department: "department",
			Created:    "created", Modified: "modified",
			// The simulator keeps the appointment, remarks and urgency on the
			// referral; a tenant that also has them on the worklist item can
			// name the keys here.
			Appointment: "", Remarks: "", Urgent: "",
		},
		Referral: ReferralKeys{
			ID: "id", URL: "url",
			Worklist: "worklist", Consultation: "consultation", Appointment: "appointment",
			Remarks: "remarks", InternalNotes: "internal_notes", Urgent: "urgent",
			Created: "created", Modified: "modified",
		},
		StatusValues: map[Status][]string{
			StatusRequested:  {"1"},
			StatusInProgress: {"2"},
			StatusCompleted:  {"3"},
			StatusCancelled:  {"4"},
		},
	}
}

// Clone returns a deep copy.
func (m *Mapping) Clone() *Mapping {
	c := *m
	c.StatusValues = make(map[Status][]string, len(m.StatusValues))
	for k, v := range m.StatusValues {
		c.StatusValues[k] = slices.Clone(v)
	}
	return &c
}

// keyField names one overridable key, as written in configuration.
type keyField struct {
	name     string
	ptr      *string
	required bool // the object cannot be used without it
}

func (m *Mapping) keyFields() []keyField {
	w, r := &m.Worklist, &m.Referral
	return []keyField{
		{"worklist.id", &w.ID, true},
		{"worklist.url", &w.URL, false},
		{"worklist.status", &w.Status, true},
		{"worklist.patient", &w.Patient, true},
		{"worklist.client", &w.Client, false},
		{"worklist.modality", &w.Modality, false},
		{"worklist.target_areas", &w.TargetAreas, false},
		{"worklist.referral", &w.Referral, false},
		{"worklist.consultation", &w.Consultation, false},
		{"worklist.appointment", &w.Appointment, false},
		{"worklist.requesting_user", &w.RequestingUser, false},
		{"worklist.supervising_veterinarian", &w.SupervisingVet, false},
		{"worklist.department", &w.Department, false},
		{"worklist.remarks", &w.Remarks, false},
		{"worklist.urgent", &w.Urgent, false},
		{"worklist.created", &w.Created, false},
		{"worklist.modified", &w.Modified, false},
		{"referral.id", &r.ID, true},
		{"referral.url", &r.URL, false},
		{"referral.worklist", &r.Worklist, false},
		{"referral.consultation", &r.Consultation, false},
		{"referral.appointment", &r.Appointment, false},
		{"referral.remarks", &r.Remarks, false},
		{"referral.internal_notes", &r.InternalNotes, false},
		{"referral.urgent", &r.Urgent, false},
		{"referral.created", &r.Created, false},
		{"referral.modified", &r.Modified, false},
	}
}

// OverrideNames lists every name ApplyOverrides accepts, for help texts.
func OverrideNames() []string {
	var names []string
	for _, f := range DefaultMapping().keyFields() {
		names = append(names, f.name)
	}
	for s := StatusRequested; s <= StatusCancelled; s++ {
		names = append(names, "status."+s.String())
	}
	return names
}

// ApplyOverrides corrects the mapping from configuration. Names are
// "worklist.<field>" or "referral.<field>" with the JSON key as value (an
// empty value for an optional field says the tenant has no such field), and
// "status.<requested|in_progress|completed|cancelled>" with one raw value or
// several separated by commas (the first is the one written back). Either all
// overrides apply or, on error, none do.
func (m *Mapping) ApplyOverrides(overrides map[string]string) error {
	next := m.Clone()
	fields := next.keyFields()
	names := make([]string, 0, len(overrides))
	for n := range overrides {
		names = append(names, n)
	}
	slices.Sort(names) // deterministic errors
	var errs []error
	for _, name := range names {
		val := strings.TrimSpace(overrides[name])
		norm := strings.ToLower(strings.TrimSpace(name))
		if st, ok := strings.CutPrefix(norm, "status."); ok {
			s := statusByName(st)
			if s == StatusUnknown {
				errs = append(errs, fmt.Errorf("mapping override %q: unknown status %q (use requested, in_progress, completed or cancelled)", name, st))
				continue
			}
			vals, err := parseStatusValues(val)
			if err != nil {
				errs = append(errs, fmt.Errorf("mapping override %q: %w", name, err))
				continue
			}
			next.StatusValues[s] = vals
			continue
		}
		i := slices.IndexFunc(fields, func(f keyField) bool { return f.name == norm })
		if i < 0 {
			errs = append(errs, fmt.Errorf("mapping override %q is not known; valid names are %s", name, strings.Join(OverrideNames(), ", ")))
			continue
		}
		f := fields[i]
		if val == "" && f.required {
			errs = append(errs, fmt.Errorf("mapping override %q: this field is required and cannot be empty", name))
			continue
		}
		if strings.ContainsFunc(val, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			errs = append(errs, fmt.Errorf("mapping override %q: the JSON key %q contains control characters", name, val))
			continue
		}
		*f.ptr = val
	}
	if len(errs) == 0 {
		errs = append(errs, next.validate())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("check the \"mapping\" section of the configuration: %w", err)
	}
	*m = *next
	return nil
}

func statusByName(n string) Status {
	n = strings.ReplaceAll(strings.ReplaceAll(n, "-", "_"), " ", "_")
	switch n {
	case "requested", "open":
		return StatusRequested
	case "in_progress", "inprogress", "started":
		return StatusInProgress
	case "completed", "done":
		return StatusCompleted
	case "cancelled", "canceled", "discontinued":
		return StatusCancelled
	}
	return StatusUnknown
}

func parseStatusValues(val string) ([]string, error) {
	var out []string
	for _, v := range strings.Split(val, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if n, err := normalizeNumber(v); err == nil && looksNumeric(v) {
			v = n
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errors.New("give at least one status value, e.g. 3 or done")
	}
	return out, nil
}

func looksNumeric(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// validate checks that keys and status values do not collide.
func (m *Mapping) validate() error {
	var errs []error
	seen := map[string]string{}
	for _, f := range m.keyFields() {
		if *f.ptr == "" {
			if f.required {
				errs = append(errs, fmt.Errorf("%s must name a JSON key", f.name))
			}
			continue
		}
		obj, _, _ := strings.Cut(f.name, ".")
		k := obj + "\x00" + *f.ptr
		if other, dup := seen[k]; dup {
			errs = append(errs, fmt.Errorf("%s and %s both read the JSON key %q", other, f.name, *f.ptr))
			continue
		}
		seen[k] = f.name
	}
	owner := map[string]Status{}
	for s := StatusRequested; s <= StatusCancelled; s++ {
		vals := m.StatusValues[s]
		if len(vals) == 0 {
			errs = append(errs, fmt.Errorf("status.%s has no value", s))
		}
		for _, v := range vals {
			k := strings.ToLower(v)
			if o, dup := owner[k]; dup && o != s {
				errs = append(errs, fmt.Errorf("status value %q is given for both status.%s and status.%s", v, o, s))
				continue
			}
			owner[k] = s
		}
	}
	return errors.Join(errs...)
}

// StatusOf maps a raw status value (numbers as decimal text) to a Status.
func (m *Mapping) StatusOf(raw string) Status {
	raw = strings.TrimSpace(raw)
	for s := StatusRequested; s <= StatusCancelled; s++ {
		for _, v := range m.StatusValues[s] {
			if strings.EqualFold(v, raw) {
				return s
			}
		}
	}
	return StatusUnknown
}

// statusPatch is the JSON body that sets a worklist order's status. A value
// that reads as an integer is sent as a JSON number, as Provet's integer
// choice fields expect; anything else as a string.
func (m *Mapping) statusPatch(s Status) ([]byte, error) {
	vals := m.StatusValues[s]
	if len(vals) == 0 {
		return nil, fmt.Errorf("no Provet value is configured for status %s: set status.%s in the mapping", s, s)
	}
	v := vals[0]
	var val any = v
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		val = n
	}
	return json.Marshal(map[string]any{m.Worklist.Status: val})
}

// WorklistItem is one diagnostic imaging order.
type WorklistItem struct {
	ID             int64
	URL            string
	Status         Status
	StatusRaw      string // as Provet sent it, for diagnostics and unknown values
	Patient        Ref
	Client         Ref
	Modality       Ref
	TargetAreas    []Ref
	Referral       Ref
	Consultation   Ref
	Appointment    Ref
	RequestingUser Ref
	SupervisingVet Ref
	Department     Ref
	Remarks        string
	Urgent         bool
	Created        time.Time
	Modified       time.Time
	Raw            json.RawMessage // the object exactly as received
}

// ImagingReferral is the referral behind a worklist order: remarks, the
// consultation and the booked appointment.
type ImagingReferral struct {
	ID            int64
	URL           string
	Worklist      Ref
	Consultation  Ref
	Appointment   Ref
	Remarks       string
	InternalNotes string
	Urgent        bool
	Created       time.Time
	Modified      time.Time
	Raw           json.RawMessage
}

// DecodeWorklist decodes one worklist object. An unknown status value is not
// an error (the item keeps StatusUnknown and StatusRaw); a missing id or a
// malformed mapped field is, naming the key so the mapping can be fixed.
func (m *Mapping) DecodeWorklist(raw []byte) (*WorklistItem, error) {
	o, err := parseObject(raw)
	if err != nil {
		return nil, fmt.Errorf("worklist item: %w", err)
	}
	k := &m.Worklist
	it := &WorklistItem{Raw: json.RawMessage(slices.Clone(raw))}
	d := decoder{o: o}
	it.ID = d.id(k.ID, k.URL)
	if d.err == nil && it.ID <= 0 {
		d.err = fmt.Errorf("no id under key %q (check mapping worklist.id)", k.ID)
	}
	it.URL = d.str(k.URL)
	if v := o.get(k.Status); v != nil {
		s, err := scalarText(v)
		if err != nil {
			d.fail(keyErr(k.Status, err))
		}
		it.StatusRaw = s
		it.Status = m.StatusOf(s)
	}
	it.Patient = d.ref(k.Patient)
	it.Client = d.ref(k.Client)
	it.Modality = d.ref(k.Modality)
	it.TargetAreas = d.refs(k.TargetAreas)
	it.Referral = d.ref(k.Referral)
	it.Consultation = d.ref(k.Consultation)
	it.Appointment = d.ref(k.Appointment)
	it.RequestingUser = d.ref(k.RequestingUser)
	it.SupervisingVet = d.ref(k.SupervisingVet)
	it.Department = d.ref(k.Department)
	it.Remarks = d.str(k.Remarks)
	it.Urgent = d.boolean(k.Urgent)
	it.Created = d.time(k.Created)
	it.Modified = d.time(k.Modified)
	if d.err != nil {
		if it.ID > 0 {
			return nil, fmt.Errorf("worklist item %d: %w", it.ID, d.err)
		}
		return nil, fmt.Errorf("worklist item: %w", d.err)
	}
	return it, nil
}

// DecodeReferral decodes one diagnostic imaging referral object.
func (m *Mapping) DecodeReferral(raw []byte) (*ImagingReferral, error) {
	o, err := parseObject(raw)
	if err != nil {
		return nil, fmt.Errorf("imaging referral: %w", err)
	}
	k := &m.Referral
	r := &ImagingReferral{Raw: json.RawMessage(slices.Clone(raw))}
	d := decoder{o: o}
	r.ID = d.id(k.ID, k.URL)
	if d.err == nil && r.ID <= 0 {
		d.err = fmt.Errorf("no id under key %q (check mapping referral.id)", k.ID)
	}
	r.URL = d.str(k.URL)
	r.Worklist = d.ref(k.Worklist)
	r.Consultation = d.ref(k.Consultation)
	r.Appointment = d.ref(k.Appointment)
	r.Remarks = d.str(k.Remarks)
	r.InternalNotes = d.str(k.InternalNotes)
	r.Urgent = d.boolean(k.Urgent)
	r.Created = d.time(k.Created)
	r.Modified = d.time(k.Modified)
	if d.err != nil {
		return nil, fmt.Errorf("imaging referral %d: %w", r.ID, d.err)
	}
	return r, nil
}

// MappedKeys returns, for diagnostics, the worklist or referral ("worklist",
// "referral") override names and the JSON key each reads.
func (m *Mapping) MappedKeys(object string) (names, keys []string) {
	for _, f := range m.keyFields() {
		if strings.HasPrefix(f.name, object+".") {
			names = append(names, f.name)
			keys = append(keys, *f.ptr)
		}
	}
	return names, keys
}
