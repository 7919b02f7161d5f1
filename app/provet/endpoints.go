package provet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Resource paths relative to the API base.
const (
	pathWorklist     = "diagnosticimaging_worklist/"
	pathReferral     = "diagnosticimaging_referral/"
	pathAppointment  = "appointment/"
	pathPatient      = "patient/"
	pathClient       = "client/"
	pathConsultation = "consultation/"
	pathModality     = "modality/"
	pathTargetArea   = "targetarea/"
	pathUser         = "user/"
)

// Page sizes: Provet's default and maximum.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
	// maxPages stops a list whose next links never end (a server bug) from
	// looping forever: 1000 pages of 1000 is far beyond any clinic.
	maxPages = 1000
)

func detailPath(resource string, id int64) string {
	return resource + strconv.FormatInt(id, 10) + "/"
}

// WorklistQuery selects worklist items. Zero fields do not filter. Provet may
// silently ignore a filter it does not support on this endpoint, so every
// filter is also applied to what comes back.
type WorklistQuery struct {
	ModifiedSince time.Time // modified__gte, at minute precision (rounded down)
	IDAfter       int64     // id__gt
	Statuses      []Status  // status__in, with the mapping's values
	// StatusForm spells status__in as this tenant understands it (see
	// Report.StatusFilter); StatusFilterNone sends no status filter.
	StatusForm StatusFilterForm
	PageSize   int // 0 means DefaultPageSize; at most MaxPageSize
	// Expose asks Provet to inline these relations (?expose_<key>), e.g.
	// "patient", "referral". Provet may ignore it: relations that come back
	// as URLs have an empty Ref.Inline and must be fetched.
	Expose []string
}

// ListStats says what a listing cost and whether Provet honoured the filters.
type ListStats struct {
	Pages     int // requests made
	Received  int // objects in the pages
	Delivered int // items passed to the callback
	// Filtered counts items Provet returned that the filters exclude: a
	// non-zero value means Provet ignored a filter (or the mapping's status
	// values or keys are wrong).
	Filtered   int
	Duplicates int // items seen twice because the list shifted while paging
	// UnknownStatuses counts, by raw value, the items whose status the
	// mapping does not know. With a status filter they are among Filtered:
	// sync should say so rather than show a shorter worklist in silence.
	UnknownStatuses map[string]int
}

func (q WorklistQuery) values(m *Mapping) (url.Values, error) {
	v := url.Values{}
	if !q.ModifiedSince.IsZero() {
		v.Set("modified__gte", FilterTime(q.ModifiedSince))
	}
	if q.IDAfter > 0 {
		v.Set("id__gt", strconv.FormatInt(q.IDAfter, 10))
	}
	if len(q.Statuses) > 0 && q.StatusForm != StatusFilterNone {
		var vals []string
		for _, s := range q.Statuses {
			sv := m.StatusValues[s]
			if len(sv) == 0 {
				return nil, fmt.Errorf("no Provet value is configured for status %s", s)
			}
			vals = append(vals, sv...)
		}
		v.Set("status__in", q.StatusForm.spell(vals))
	}
	for _, e := range q.Expose {
		v.Set("expose_"+e, "")
	}
	v.Set("page_size", strconv.Itoa(q.pageSize()))
	return v, nil
}

func (q WorklistQuery) pageSize() int {
	switch {
	case q.PageSize <= 0:
		return DefaultPageSize
	case q.PageSize > MaxPageSize:
		return MaxPageSize
	}
	return q.PageSize
}

// Matches re-checks the filters on one item. An item without a modified
// timestamp passes the time filter: dropping it would lose an order.
func (q WorklistQuery) Matches(it *WorklistItem) bool {
	if !q.ModifiedSince.IsZero() && !it.Modified.IsZero() &&
		it.Modified.Before(q.ModifiedSince.Truncate(time.Minute)) {
		return false
	}
	if q.IDAfter > 0 && it.ID <= q.IDAfter {
		return false
	}
	if len(q.Statuses) > 0 && !slices.Contains(q.Statuses, it.Status) {
		return false
	}
	return true
}

// ListWorklist pages through the worklist, following Provet's absolute next
// links, and calls each for every item that passes the filters, once per id.
// An item that does not decode fails the listing: a mapping that does not fit
// must be noticed, not skipped silently.
func (c *Client) ListWorklist(ctx context.Context, q WorklistQuery, each func(*WorklistItem) error) (ListStats, error) {
	var st ListStats
	vals, err := q.values(c.mapping)
	if err != nil {
		return st, err
	}
	seen := map[int64]struct{}{}
	err = c.pages(ctx, pathWorklist, vals, q.pageSize(), func(results []json.RawMessage) error {
		st.Pages++
		st.Received += len(results)
		for _, raw := range results {
			it, err := c.mapping.DecodeWorklist(raw)
			if err != nil {
				return decodeErr(http.MethodGet, pathWorklist, err)
			}
			if it.Status == StatusUnknown {
				if st.UnknownStatuses == nil {
					st.UnknownStatuses = map[string]int{}
				}
				st.UnknownStatuses[it.StatusRaw]++
			}
			if !q.Matches(it) {
				st.Filtered++
				continue
			}
			if _, dup := seen[it.ID]; dup {
				st.Duplicates++
				continue
			}
			seen[it.ID] = struct{}{}
			st.Delivered++
			if err := each(it); err != nil {
				return err
			}
		}
		return nil
	})
	if st.Filtered > 0 {
		c.log.Debug("provet: the worklist list returned items its filters exclude", "filtered", st.Filtered, "received", st.Received)
	}
	return st, err
}

// Worklist collects ListWorklist's items.
func (c *Client) Worklist(ctx context.Context, q WorklistQuery) ([]*WorklistItem, ListStats, error) {
	var items []*WorklistItem
	st, err := c.ListWorklist(ctx, q, func(it *WorklistItem) error {
		items = append(items, it)
		return nil
	})
	return items, st, err
}

// pages fetches a list and every following page. Each page is charged at
// page_size/50 against the endpoint's budget, as Provet counts it.
func (c *Client) pages(ctx context.Context, rel string, q url.Values, pageSize int, fn func([]json.RawMessage) error) error {
	r := &request{method: http.MethodGet, rel: rel, query: q, cost: pageCost(pageSize)}
	visited := map[string]bool{}
	for n := 0; ; n++ {
		if n >= maxPages {
			return &APIError{Kind: ErrServer, Method: http.MethodGet, Path: rel, Detail: fmt.Sprintf("the list did not end after %d pages", maxPages)}
		}
		resp, err := c.do(ctx, r)
		if err != nil {
			return err
		}
		var p page
		if err := json.Unmarshal(resp.body, &p); err != nil {
			return decodeErr(http.MethodGet, rel, fmt.Errorf("page: %w", err))
		}
		if err := fn(p.Results); err != nil {
			return err
		}
		if p.Next == nil || *p.Next == "" {
			return nil
		}
		next, err := c.base.Parse(*p.Next) // absolute as documented, relative tolerated
		if err != nil {
			return decodeErr(http.MethodGet, rel, fmt.Errorf("next link: %w", err))
		}
		if visited[next.String()] {
			return decodeErr(http.MethodGet, rel, errors.New("the next link points back to a page already read"))
		}
		visited[next.String()] = true
		cost := pageCost(pageSize)
		if ps, err := strconv.Atoi(next.Query().Get("page_size")); err == nil {
			cost = pageCost(ps)
		}
		r = &request{method: http.MethodGet, abs: next, cost: cost}
	}
}

// listAll collects every entry of a small reference list.
func (c *Client) listAll(ctx context.Context, rel string) ([]Named, error) {
	const size = 100 // reference lists are short; 100 costs 2 of a 100 budget
	var out []Named
	err := c.pages(ctx, rel, url.Values{"page_size": {strconv.Itoa(size)}}, size, func(results []json.RawMessage) error {
		for _, raw := range results {
			n, err := decodeNamed(raw)
			if err != nil {
				return decodeErr(http.MethodGet, rel, err)
			}
			out = append(out, n)
		}
		return nil
	})
	return out, err
}

func getDecoded[T any](ctx context.Context, c *Client, rel string, q url.Values, dec func([]byte) (T, error)) (T, error) {
	var zero T
	resp, err := c.get(ctx, rel, q)
	if err != nil {
		return zero, err
	}
	v, err := dec(resp.body)
	if err != nil {
		return zero, decodeErr(http.MethodGet, rel, err)
	}
	return v, nil
}

// WorklistItem fetches one worklist order.
func (c *Client) WorklistItem(ctx context.Context, id int64) (*WorklistItem, error) {
	return getDecoded(ctx, c, detailPath(pathWorklist, id), nil, c.mapping.DecodeWorklist)
}

// SetWorklistStatus sets an order's status and returns the order as Provet
// now has it. Setting an absolute value is idempotent, so it is retried like
// a GET.
//
// It does not read the order first; AdvanceStatus does, and is what an
// outbox should use. Both refuse while the status mapping is unconfirmed.
func (c *Client) SetWorklistStatus(ctx context.Context, id int64, s Status) (*WorklistItem, error) {
	if err := c.checkConfirmed(); err != nil {
		return nil, err
	}
	body, err := c.mapping.statusPatch(s)
	if err != nil {
		return nil, err
	}
	rel := detailPath(pathWorklist, id)
	resp, err := c.do(ctx, &request{method: http.MethodPatch, rel: rel, body: body})
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(resp.body)) == 0 {
		return nil, nil // accepted without echoing the order (HTTP 204)
	}
	it, err := c.mapping.DecodeWorklist(resp.body)
	if err != nil {
		return nil, decodeErr(http.MethodPatch, rel, err)
	}
	if it.Status != s {
		return it, decodeErr(http.MethodPatch, rel, fmt.Errorf("Provet accepted the update but the order's status reads %q, not %s: check the status mapping", it.StatusRaw, s))
	}
	return it, nil
}

// Referral fetches a diagnostic imaging referral.
func (c *Client) Referral(ctx context.Context, id int64) (*ImagingReferral, error) {
	return getDecoded(ctx, c, detailPath(pathReferral, id), nil, c.mapping.DecodeReferral)
}

// Appointment fetches an appointment.
func (c *Client) Appointment(ctx context.Context, id int64) (*Appointment, error) {
	return getDecoded(ctx, c, detailPath(pathAppointment, id), nil, DecodeAppointment)
}

// Patient fetches a patient.
func (c *Client) Patient(ctx context.Context, id int64) (*Patient, error) {
	return getDecoded(ctx, c, detailPath(pathPatient, id), nil, DecodePatient)
}

// Owner fetches a Provet client (the owner), with phone numbers.
func (c *Client) Owner(ctx context.Context, id int64) (*Owner, error) {
	return getDecoded(ctx, c, detailPath(pathClient, id), nil, DecodeOwner)
}

// Consultation fetches a consultation with its patients inlined.
func (c *Client) Consultation(ctx context.Context, id int64) (*Consultation, error) {
	return getDecoded(ctx, c, detailPath(pathConsultation, id), url.Values{"expose_patients": {"1"}}, DecodeConsultation)
}

// User fetches a Provet user.
func (c *Client) User(ctx context.Context, id int64) (*User, error) {
	return getDecoded(ctx, c, detailPath(pathUser, id), nil, DecodeUser)
}

// Modalities lists the imaging modalities ("X-ray", "Ultrasound"...).
func (c *Client) Modalities(ctx context.Context) ([]Named, error) {
	return c.listAll(ctx, pathModality)
}

// TargetAreas lists the body regions an order can target.
func (c *Client) TargetAreas(ctx context.Context) ([]Named, error) {
	return c.listAll(ctx, pathTargetArea)
}

// SyncExpose are the relations sync asks Provet to inline, so a sync costs a
// list request per page instead of several detail requests per order. For
// relations Provet does not inline (or inlines partially, see
// Mapping.MissingInline) sync fetches each object.
var SyncExpose = []string{"patient", "client", "referral", "appointment",
	"requesting_user", "supervising_veterinarian", "modality", "target_areas"}

// DeltaOverlap is how far before the cursor a delta query starts, so that
// an order saved in the same minute as the cursor is not missed.
const DeltaOverlap = 2 * time.Minute

// FullQuery is sync's reconcile query: the open orders, with relations
// inlined, in pages of pageSize (0: DefaultPageSize; small pages cost the
// same per order and keep each answer short).
func FullQuery(form StatusFilterForm, pageSize int) WorklistQuery {
	return WorklistQuery{Statuses: []Status{StatusRequested, StatusInProgress}, StatusForm: form,
		PageSize: pageSize, Expose: SyncExpose}
}

// DeltaQuery is sync's poll: what changed since the cursor, less
// DeltaOverlap. Doctor checks that Provet honours modified__gte, or every
// poll would page through the whole history.
func DeltaQuery(cursor time.Time, form StatusFilterForm) WorklistQuery {
	return WorklistQuery{ModifiedSince: cursor.Add(-DeltaOverlap), StatusForm: form, Expose: SyncExpose}
}
