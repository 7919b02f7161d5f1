package provetsim

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Quirks make the simulator behave like a Provet tenant that differs from
// what VetBridge assumes. Each one stands for something Provet has not
// published or a third party observed, so that tests and `vetbridge doctor`
// can be exercised against it. The zero value is the well-behaved tenant.
// Quirks are set in Options and changed at run time with SetQuirks or
// PUT /_sim/quirks.
type Quirks struct {
	// StatusCodes are the numbers this tenant uses for the four states on
	// the wire (in JSON, filters and PATCH). Zero fields keep 1..4.
	StatusCodes StatusCodes `json:"status_codes"`
	// OmitModified leaves the "modified" key out of worklist orders.
	OmitModified bool `json:"omit_modified,omitempty"`
	// OmitPatientLink leaves the "patient" key out of worklist orders; the
	// patient is then reachable only through consultation/<id>/?expose_patients.
	OmitPatientLink bool `json:"omit_patient_link,omitempty"`
	// IgnoreFilters names worklist list filters (e.g. "modified__gte",
	// "status__in", "id__gt") that are silently ignored: the whole collection
	// comes back as if the filter had not been sent.
	IgnoreFilters []string `json:"ignore_filters,omitempty"`
	// IgnoreExpose answers every ?expose_ with plain relation URLs;
	// IgnoreExposeOf does so for the named relations only ("patient",
	// "referral", "target_areas"...).
	IgnoreExpose   bool     `json:"ignore_expose,omitempty"`
	IgnoreExposeOf []string `json:"ignore_expose_of,omitempty"`
	// PartialExpose inlines only some inner fields of an exposed object and
	// no "id", as Provet's documented example shows.
	PartialExpose bool `json:"partial_expose,omitempty"`
	// Forbidden names API resources answered 403, as for a user who lacks
	// the Provet permission: "modality", "targetarea", "appointment", "user",
	// "diagnosticimaging_referral", "diagnosticimaging_worklist", "patient",
	// "client", "consultation", "department".
	Forbidden []string `json:"forbidden,omitempty"`
	// StatusInForm restricts which spelling of status__in is understood:
	// "" both, "comma" only status__in=1,2, "brackets" only status__in=[1,2].
	// The other spelling is ignored like an unknown filter.
	StatusInForm string `json:"status_in_form,omitempty"`
}

// StatusCodes are a tenant's wire numbers for the four worklist states.
type StatusCodes struct {
	Requested  int `json:"requested,omitempty"`
	InProgress int `json:"in_progress,omitempty"`
	Completed  int `json:"completed,omitempty"`
	Cancelled  int `json:"cancelled,omitempty"`
}

// ShiftedStatuses is a tenant whose numbers are the simulator's plus by:
// ShiftedStatuses(1) is 2 requested, 3 in progress, 4 completed, 5 cancelled.
func ShiftedStatuses(by int) StatusCodes {
	return StatusCodes{Requested: StatusRequested + by, InProgress: StatusInProgress + by,
		Completed: StatusCompleted + by, Cancelled: StatusCancelled + by}
}

// wire lists the numbers in state order (index 0 is StatusRequested).
func (c StatusCodes) wire() [4]int {
	w := [4]int{c.Requested, c.InProgress, c.Completed, c.Cancelled}
	for i := range w {
		if w[i] == 0 {
			w[i] = StatusRequested + i
		}
	}
	return w
}

// Wire is the number the tenant sends for a simulator state (1..4).
func (c StatusCodes) Wire(state int) int {
	if state < StatusRequested || state > StatusCancelled {
		return state
	}
	return c.wire()[state-StatusRequested]
}

// State is the simulator state (1..4) a wire number stands for, or 0.
func (c StatusCodes) State(wire int) int {
	w := c.wire()
	if i := slices.Index(w[:], wire); i >= 0 {
		return StatusRequested + i
	}
	return 0
}

func (c StatusCodes) validate() error {
	w := c.wire()
	for i := range w {
		if slices.Index(w[:], w[i]) != i {
			return fmt.Errorf("status code %d is given for two states: give four different numbers", w[i])
		}
	}
	return nil
}

var statusInForms = []string{"", "comma", "brackets"}

// quirkResources are the names Forbidden accepts.
var quirkResources = []string{"diagnosticimaging_worklist", "diagnosticimaging_referral", "appointment",
	"patient", "client", "consultation", "user", "modality", "targetarea", "department"}

var quirkFilters = []string{"modified__gte", "id__gt", "status__in", "status"}

// Validate says what is wrong with a set of quirks, for a command line or
// script that takes them as JSON.
func (q Quirks) Validate() error {
	var errs []error
	if err := q.StatusCodes.validate(); err != nil {
		errs = append(errs, err)
	}
	if !slices.Contains(statusInForms, q.StatusInForm) {
		errs = append(errs, fmt.Errorf("status_in_form %q: use \"\", \"comma\" or \"brackets\"", q.StatusInForm))
	}
	for _, r := range q.Forbidden {
		if !slices.Contains(quirkResources, r) {
			errs = append(errs, fmt.Errorf("forbidden %q: use one of %s", r, strings.Join(quirkResources, ", ")))
		}
	}
	for _, f := range q.IgnoreFilters {
		if !slices.Contains(quirkFilters, f) {
			errs = append(errs, fmt.Errorf("ignore_filters %q: use one of %s", f, strings.Join(quirkFilters, ", ")))
		}
	}
	for _, k := range q.IgnoreExposeOf {
		if !slices.Contains(exposeKeys, k) {
			errs = append(errs, fmt.Errorf("ignore_expose_of %q: use one of %s", k, strings.Join(exposeKeys, ", ")))
		}
	}
	return errors.Join(errs...)
}

func (q Quirks) clone() Quirks {
	q.IgnoreFilters = slices.Clone(q.IgnoreFilters)
	q.IgnoreExposeOf = slices.Clone(q.IgnoreExposeOf)
	q.Forbidden = slices.Clone(q.Forbidden)
	return q
}

// SetQuirks replaces the tenant's quirks; an invalid set changes nothing.
func (s *Server) SetQuirks(q Quirks) error {
	if err := q.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.quirks = q.clone()
	s.mu.Unlock()
	return nil
}

// Quirks returns the tenant's current quirks.
func (s *Server) Quirks() Quirks {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quirks.clone()
}

func (s *Server) quirksNow() Quirks {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quirks
}

// forbidden reports whether the request's resource is refused, reading the
// resource from the path after api/0.1/.
func (q Quirks) forbidden(r *http.Request) (string, bool) {
	_, rest, ok := strings.Cut(r.URL.Path, "/api/0.1/")
	if !ok {
		return "", false
	}
	res, _, _ := strings.Cut(rest, "/")
	return res, slices.Contains(q.Forbidden, res)
}

func (s *Server) routeQuirks(mux *http.ServeMux) {
	mux.HandleFunc("GET /_sim/quirks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Quirks())
	})
	mux.HandleFunc("PUT /_sim/quirks", func(w http.ResponseWriter, r *http.Request) {
		var q Quirks
		if !decodeSim(w, r, &q) {
			return
		}
		if err := s.SetQuirks(q); err != nil {
			simAnswer(w, 0, nil, err)
			return
		}
		writeJSON(w, http.StatusOK, s.Quirks())
	})
}
