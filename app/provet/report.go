package provet

import (
	"fmt"
	"io"
	"strings"
)

// Severity grades a doctor finding.
type Severity int

const (
	SevOK      Severity = iota // what was checked and found fine, for the record
	SevWarning                 // works, but costs more or shows less than it could
	SevConfirm                 // cannot be judged by a program: a person must check it against Provet
	SevProblem                 // something sync or write-back gets wrong until it is fixed
)

var severityNames = [...]string{"ok", "warning", "confirm", "problem"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "unknown"
	}
	return severityNames[s]
}

// Finding is one result of Doctor.
type Finding struct {
	// Check names what was checked, stable across versions so that the app
	// can act on it: "dns", "transport", "worklist", "full-query",
	// "delta-query", "filter.modified", "filter.status", "expose.<relation>",
	// "key.modified", "key.patient", "endpoint.<resource>", "statuses",
	// "statuses.unknown", "statuses.distribution", "statuses.confirmed".
	Check    string
	Severity Severity
	Summary  string
	Action   string // what to do; empty for SevOK
}

// KeyRow is one mapped field of a worklist or referral object.
type KeyRow struct {
	Name       string // the mapping override name, e.g. "worklist.status"
	Key        string // the JSON key it reads; "" when none is configured
	Raw        string // the raw value without personal data; "MISSING" when absent
	Understood string
}

// ObjectKeys shows one real object next to what the mapping understood.
type ObjectKeys struct {
	Title    string
	Rows     []KeyRow // mapped fields (worklist and referral only)
	Unmapped []string // keys nothing reads, "key (summary)"
	Keys     []string // all keys with their JSON kind, for published objects
}

// Report is what Doctor found. Print it with WriteText; the app shows the
// same data in a window.
type Report struct {
	APIBase  string
	Findings []Finding
	Objects  []ObjectKeys
	// Survey is nil when the worklist could not be read.
	Survey *StatusSurvey
	// StatusFilter is the spelling of status__in this tenant honours; sync
	// should remember it (WorklistQuery.StatusForm). Valid when
	// StatusFilterChecked.
	StatusFilter        StatusFilterForm
	StatusFilterChecked bool
}

func (r *Report) add(check string, sev Severity, action, format string, a ...any) {
	r.Findings = append(r.Findings, Finding{Check: check, Severity: sev, Summary: fmt.Sprintf(format, a...), Action: action})
}

func (r *Report) bySeverity(s Severity) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Severity == s {
			out = append(out, f)
		}
	}
	return out
}

// Problems lists the findings that must be fixed.
func (r *Report) Problems() []Finding { return r.bySeverity(SevProblem) }

// ToConfirm lists what a person must check against Provet's own screens.
func (r *Report) ToConfirm() []Finding { return r.bySeverity(SevConfirm) }

// Warnings lists what works at a cost.
func (r *Report) Warnings() []Finding { return r.bySeverity(SevWarning) }

// OK reports that nothing is wrong and nothing waits for confirmation: only
// then may a summary say "No problems found".
func (r *Report) OK() bool { return len(r.Problems()) == 0 && len(r.ToConfirm()) == 0 }

// Err is nil when there is no problem; otherwise it names the first.
func (r *Report) Err() error {
	p := r.Problems()
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("Provet diagnostics found %d problem(s): %s", len(p), p[0].Summary)
}

var severityTags = [...]string{"ok", "WARNING", "CONFIRM", "PROBLEM"}

// WriteText prints the report for a terminal or a log.
func (r *Report) WriteText(w io.Writer) error {
	p := &printer{w: w}
	p.printf("Provet API: %s\n\nChecks\n", r.APIBase)
	for _, f := range r.Findings {
		p.printf("  %-8s %s\n", severityTags[f.Severity], f.Summary)
		if f.Action != "" {
			p.printf("  %-8s → %s\n", "", f.Action)
		}
	}
	if r.StatusFilterChecked {
		p.printf("\nStatus filter form to use: %s\n", r.StatusFilter)
	}
	if r.Survey != nil {
		p.printf("\n")
		if p.err == nil {
			p.err = r.Survey.WriteText(w)
		}
	}
	for _, o := range r.Objects {
		p.printf("\n%s\n", o.Title)
		if len(o.Rows) > 0 {
			p.printf("  %-36s %-26s %-28s %s\n", "mapping", "JSON key", "raw value", "understood")
		}
		for _, row := range o.Rows {
			if row.Key == "" {
				p.printf("  %-36s %-26s\n", row.Name, "(none configured)")
				continue
			}
			p.printf("  %-36s %-26s %-28s %s\n", row.Name, row.Key, row.Raw, row.Understood)
		}
		if len(o.Unmapped) > 0 {
			p.printf("  keys the mapping does not read: %s\n", strings.Join(o.Unmapped, ", "))
		}
		if len(o.Keys) > 0 {
			p.printf("  keys: %s\n", strings.Join(o.Keys, ", "))
		}
	}
	p.printf("\n")
	probs, conf, warns := r.Problems(), r.ToConfirm(), r.Warnings()
	switch {
	case len(probs) > 0:
		p.printf("%d problem(s), %d to confirm, %d warning(s):\n", len(probs), len(conf), len(warns))
		for _, f := range probs {
			p.printf("  - %s\n", f.Summary)
		}
	case len(conf) > 0:
		p.printf("Nothing is broken, but %d finding(s) need a person to confirm them against Provet (%d warning(s)):\n", len(conf), len(warns))
		for _, f := range conf {
			p.printf("  - %s\n", f.Summary)
		}
	default:
		p.printf("No problems found (%d warnings).\n", len(warns))
	}
	return p.err
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, a ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, a...)
	}
}

// WriteText prints the survey as `vetbridge statuses` shows it: each raw
// value with its count, meaning and example orders.
func (s *StatusSurvey) WriteText(w io.Writer) error {
	p := &printer{w: w}
	scope := "a sample"
	if s.Complete {
		scope = "all pages"
	}
	p.printf("Status values (%d of %d orders read on %d page(s), %s; mapping %s)\n", s.Read, s.Total, s.Pages, scope, s.Fingerprint)
	p.printf("  %-12s %7s  %-12s %s\n", "raw value", "orders", "meaning", "example orders")
	for _, v := range s.Values {
		p.printf("  %-12s %7d  %-12s %s\n", v.Raw, v.Count, v.Meaning, idList(v.Examples))
	}
	for _, v := range s.Unknown() {
		p.printf("  PROBLEM: %q means nothing to the mapping: look up orders %s in Provet and add it to the right state\n", v.Raw, idList(v.Examples))
	}
	for _, c := range s.Concerns() {
		p.printf("  CHECK: %s\n", c)
	}
	return p.err
}

// MarshalText writes the severity's name, for the app's local API and logs.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
