package provetsim

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxFilterValue bounds what the parsers look at; Provet's own values are short.
const maxFilterValue = 64

// filterLayouts are the datetime forms a filter value may take: Provet's
// documented "YYYY-MM-DD hh:mm+HH:MM" and the ISO-8601 variants clients send.
var filterLayouts = []string{
	"2006-01-02 15:04Z07:00",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
}

// localLayouts carry no offset: Provet reads them in the clinic's time zone.
var localLayouts = []string{
	"2006-01-02 15:04",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

// errPlusAsSpace explains the commonest client bug with these filters.
var errPlusAsSpace = errors.New("the offset's '+' arrived as a space: send it as %2B")

// ParseFilterTime reads a datetime filter value such as modified__gte. A value
// without an offset is in loc, the clinic's zone.
func ParseFilterTime(s string, loc *time.Location) (time.Time, error) {
	if len(s) > maxFilterValue {
		return time.Time{}, fmt.Errorf("datetime filter of %d characters is too long", len(s))
	}
	s = strings.TrimSpace(s)
	for _, l := range filterLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	for _, l := range localLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	// "2026-11-22 10:00 02:00": a raw '+' decoded as a space by the query parser.
	if i := strings.LastIndexByte(s, ' '); i > 10 {
		if _, err := ParseFilterTime(s[:i]+"+"+s[i+1:], loc); err == nil {
			return time.Time{}, fmt.Errorf("datetime %q: %w", s, errPlusAsSpace)
		}
	}
	return time.Time{}, fmt.Errorf("datetime %q: use YYYY-MM-DD hh:mm+HH:MM", s)
}

// worklistFilter is what the worklist list honours. Like Provet, unknown
// filters are ignored rather than rejected.
type worklistFilter struct {
	modifiedGTE time.Time
	idGT        int
	statusIn    []int
}

const maxStatusIn = 16

// parseWorklistFilter reads the filters the tenant honours; status values
// are the tenant's wire numbers, translated to simulator states (a number
// the tenant does not use matches nothing).
func parseWorklistFilter(q url.Values, loc *time.Location, qk Quirks) (worklistFilter, error) {
	var f worklistFilter
	for _, name := range qk.IgnoreFilters {
		q.Del(name)
	}
	if v := q.Get("status__in"); v != "" && !statusInFormOK(v, qk.StatusInForm) {
		q.Del("status__in")
	}
	if v := q.Get("modified__gte"); v != "" {
		t, err := ParseFilterTime(v, loc)
		if err != nil {
			return f, fmt.Errorf("modified__gte: %w", err)
		}
		f.modifiedGTE = t
	}
	if v := q.Get("id__gt"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || len(v) > maxFilterValue {
			return f, fmt.Errorf("id__gt: %q is not a whole number", v)
		}
		f.idGT = n
	}
	if v := q.Get("status__in"); v != "" {
		list, err := parseIntList(v)
		if err != nil {
			return f, fmt.Errorf("status__in: %w", err)
		}
		for _, n := range list {
			f.statusIn = append(f.statusIn, wireState(qk, n))
		}
	}
	if v := q.Get("status"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || len(v) > maxFilterValue {
			return f, fmt.Errorf("status: %q is not a whole number", v)
		}
		f.statusIn = append(f.statusIn, wireState(qk, n))
	}
	return f, nil
}

// wireState maps a wire number to a state; -1 for one the tenant lacks.
func wireState(qk Quirks, n int) int {
	if st := qk.StatusCodes.State(n); st != 0 {
		return st
	}
	return -1
}

// statusInFormOK says whether a status__in value is spelt as the tenant
// understands it: "1,2", "[1,2]", or either.
func statusInFormOK(v, form string) bool {
	bracketed := strings.HasPrefix(strings.TrimSpace(v), "[")
	switch form {
	case "comma":
		return !bracketed
	case "brackets":
		return bracketed
	}
	return true
}

func parseIntList(v string) ([]int, error) {
	if len(v) > 4*maxFilterValue {
		return nil, fmt.Errorf("list of %d characters is too long", len(v))
	}
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") {
		v = v[1 : len(v)-1] // Provet documents field__in=[value1,value2]
	}
	parts := strings.Split(v, ",")
	if len(parts) > maxStatusIn {
		return nil, fmt.Errorf("at most %d values", maxStatusIn)
	}
	out := make([]int, 0, len(parts))
	for _, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", p)
		}
		out = append(out, n)
	}
	return out, nil
}

func (f worklistFilter) match(w *worklistItem) bool {
	if !f.modifiedGTE.IsZero() && w.Modified.Before(f.modifiedGTE) {
		return false
	}
	if w.ID <= f.idGT {
		return false
	}
	if f.statusIn != nil {
		for _, s := range f.statusIn {
			if s == w.Status {
				return true
			}
		}
		return false
	}
	return true
}
