package provet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// Survey bounds: small pages (Provet charges a page of 1000 as 20 requests)
// and a default of ten of them.
const (
	surveyPageSize       = 50
	DefaultSurveyPages   = 10
	surveyExamples       = 3
	minOrdersForConcerns = 10
)

// StatusValue is one raw status value seen in the tenant's worklist.
type StatusValue struct {
	Raw      string  // as Provet sends it, numbers as decimal text
	Count    int     // orders read with it
	Examples []int64 // up to three order ids, for looking them up in Provet
	Meaning  Status  // what the mapping says it is; StatusUnknown when it does not know it
}

// StatusSurvey is what SurveyStatuses saw.
type StatusSurvey struct {
	Values      []StatusValue // most common first
	Read        int           // distinct orders read
	Total       int           // orders in the worklist, as Provet counts them
	Pages       int           // pages read
	Complete    bool          // every page was read, so every value in use is listed
	Fingerprint string        // StatusFingerprint of the mapping that gave the meanings
}

// Unknown lists the values the mapping does not know.
func (s StatusSurvey) Unknown() []StatusValue {
	var out []StatusValue
	for _, v := range s.Values {
		if v.Meaning == StatusUnknown {
			out = append(out, v)
		}
	}
	return out
}

func (s StatusSurvey) countOf(st Status) int {
	n := 0
	for _, v := range s.Values {
		if v.Meaning == st {
			n += v.Count
		}
	}
	return n
}

// Concerns lists what makes the distribution implausible for a clinic's
// imaging worklist under the current mapping: the tell-tale of status
// numbers shifted against the mapping. Each asks for a check, not a fix.
func (s StatusSurvey) Concerns() []string {
	if s.Read < minOrdersForConcerns {
		return nil
	}
	var out []string
	if s.countOf(StatusRequested) == 0 {
		out = append(out, fmt.Sprintf("none of the %d orders read reads as 'requested', yet new orders are requested: the values may be shifted against the mapping", s.Read))
	}
	if c, d := s.countOf(StatusCancelled), s.countOf(StatusCompleted); c > d {
		out = append(out, fmt.Sprintf("more orders read as 'cancelled' (%d) than as 'completed' (%d): what the mapping calls cancelled may be Provet's completed", c, d))
	}
	if len(s.Values) == 1 && s.Read >= 2*minOrdersForConcerns {
		out = append(out, fmt.Sprintf("all %d orders read carry the same status %q", s.Read, s.Values[0].Raw))
	}
	return out
}

// SurveyStatuses reads up to maxPages small worklist pages without a status
// filter and counts each distinct raw status value. It reads the first page
// and then the last ones: if Provet lists by id, the oldest orders show the
// closed states and the newest the open ones, so a bounded read still sees
// every value in use. maxPages <= 0 means DefaultSurveyPages.
func SurveyStatuses(ctx context.Context, c *Client, maxPages int) (StatusSurvey, error) {
	if maxPages <= 0 {
		maxPages = DefaultSurveyPages
	}
	m := c.mapping
	sv := StatusSurvey{Fingerprint: m.StatusFingerprint()}
	byRaw := map[string]*StatusValue{}
	seen := map[int64]bool{}
	read := func(n int) (page, error) {
		q := url.Values{"page_size": {strconv.Itoa(surveyPageSize)}}
		if n > 1 {
			q.Set("page", strconv.Itoa(n))
		}
		resp, err := c.get(ctx, pathWorklist, q)
		if err != nil {
			return page{}, err
		}
		var p page
		if err := json.Unmarshal(resp.body, &p); err != nil {
			return page{}, decodeErr(http.MethodGet, pathWorklist, fmt.Errorf("page: %w", err))
		}
		sv.Pages++
		for _, raw := range p.Results {
			id, st, ok := m.rawStatus(raw)
			if !ok || seen[id] {
				continue
			}
			seen[id] = true
			sv.Read++
			v := byRaw[st]
			if v == nil {
				v = &StatusValue{Raw: st, Meaning: m.StatusOf(st)}
				byRaw[st] = v
			}
			v.Count++
			if len(v.Examples) < surveyExamples {
				v.Examples = append(v.Examples, id)
			}
		}
		return p, nil
	}
	first, err := read(1)
	if err != nil {
		return sv, err
	}
	sv.Total = first.Count
	last := first.NumPages
	if last <= 0 && first.Count > 0 {
		last = (first.Count + surveyPageSize - 1) / surveyPageSize
	}
	lo := max(2, last-maxPages+2)
	for n := last; n >= lo; n-- {
		if _, err := read(n); err != nil {
			var ae *APIError
			if errors.As(err, &ae) && errors.Is(ae.Kind, ErrNotFound) {
				continue // the list shrank while reading
			}
			return sv, err
		}
	}
	sv.Complete = last <= maxPages
	for _, v := range byRaw {
		sv.Values = append(sv.Values, *v)
	}
	slices.SortFunc(sv.Values, func(a, b StatusValue) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		if a.Raw < b.Raw {
			return -1
		}
		return 1
	})
	return sv, nil
}

// rawStatus reads an order's id and raw status without decoding the rest, so
// a survey works even when other mapped keys do not fit.
func (m *Mapping) rawStatus(raw json.RawMessage) (int64, string, bool) {
	o, err := parseObject(raw)
	if err != nil {
		return 0, "", false
	}
	d := decoder{o: o}
	id := d.id(m.Worklist.ID, m.Worklist.URL)
	if d.err != nil || id <= 0 {
		return 0, "", false
	}
	st := "(none)"
	if v := o.get(m.Worklist.Status); v != nil {
		s, err := scalarText(v)
		switch {
		case err != nil:
			s = kindOf(v)
		case s == "":
			s = "(empty)"
		}
		st = s
	}
	return id, st, true
}

// Confirmable says whether a person may confirm these values now: not while
// the worklist is empty or some value means nothing to the mapping (fix the
// mapping first, then survey again).
func (s StatusSurvey) Confirmable() error {
	if s.Read == 0 {
		return errors.New("no orders were read, so there is nothing to confirm: create an imaging referral in Provet and survey again")
	}
	if u := s.Unknown(); len(u) > 0 {
		return fmt.Errorf("status value %q (orders %s) means nothing to the mapping: add it to the right state in the mapping, then survey again", u[0].Raw, idList(u[0].Examples))
	}
	return nil
}
