package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/store"
)

const (
	metaCursor = "sync.cursor" // newest Provet `modified` applied, RFC 3339
	// deltaOverlap re-reads a little before the cursor: Provet's filter has
	// minute precision and clocks are not exact. Duplicates are recognised
	// by their unchanged `modified` and cost nothing but bytes.
	deltaOverlap = 2 * time.Minute
	// syncBatch is how many changed orders are resolved and saved at a time,
	// so a long first sync fills the modalities' worklist progressively.
	syncBatch = 50
	// resolveWorkers fetch related objects in parallel; the client's limiter
	// keeps them within Provet's budgets.
	resolveWorkers = 4
	// summaryAfter: more new referrals than this in one round, or any after
	// a long offline spell, get one summary notification instead of a flood.
	summaryAfter   = 3
	longOfflineGap = time.Hour
	// namesMaxAge bounds how long user, modality and target-area names are
	// trusted before they are read again.
	namesMaxAge = time.Hour
	listTimeout = 30 * time.Second
)

// syncState lives as long as the sync loop.
type syncState struct {
	lastFull time.Time
	lastOK   time.Time
	names    nameCache
}

// runSync polls Provet until ctx ends: a delta every poll interval, a full
// reconcile of the open set every Reconcile period (Provet's delta lists
// never show deletions), and at once on SyncNow or a webhook.
func (a *App) runSync(ctx context.Context) error {
	st := &syncState{names: newNameCache()}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-a.syncNow:
		}
		if c := a.provetClient(); c != nil {
			if err := a.syncOnce(ctx, c, st); err != nil && ctx.Err() == nil {
				a.reportSyncError(err, st)
			}
		}
		timer.Reset(time.Duration(max(a.Config().PollInterval, Duration(5*time.Second))))
	}
}

func (a *App) reportSyncError(err error, st *syncState) {
	last := "never"
	if !st.lastOK.IsZero() {
		last = st.lastOK.Format("15:04")
	}
	switch {
	case errors.Is(err, provet.ErrUnauthorized), errors.Is(err, provet.ErrForbidden):
		a.log.Warn("Provet refused the sync", "err", err)
		a.setStatus(func(s *Status) {
			if s.State != StateSignedOut {
				s.State = StateError
			}
			s.Message = "Provet refused access: " + err.Error()
		})
	default:
		a.log.Warn("sync failed; serving the cached worklist", "err", err)
		a.setStatus(func(s *Status) {
			if s.State != StateSignedOut {
				s.State = StateOffline
			}
			s.Message = fmt.Sprintf("Provet Cloud cannot be reached; the modalities get the worklist from the last sync (%s). %v", last, err)
		})
	}
}

// syncOnce brings the local worklist up to date with Provet.
func (a *App) syncOnce(ctx context.Context, c *provet.Client, st *syncState) error {
	cfg := a.Config()
	now := a.now()
	cursor, hasCursor := a.cursor()
	remap := a.remap.Swap(false)
	full := !hasCursor || remap || now.Sub(st.lastFull) >= time.Duration(cfg.Reconcile)
	firstEver := !hasCursor
	a.setStatus(func(s *Status) {
		if s.State != StateSignedOut {
			s.State = StateSyncing
		}
	})

	q := provet.WorklistQuery{PageSize: provet.DefaultPageSize, Expose: exposeRelations}
	if full {
		// The open set in as few requests as the API allows.
		q.Statuses = []provet.Status{provet.StatusRequested, provet.StatusInProgress}
		q.PageSize = provet.MaxPageSize
	} else {
		q.ModifiedSince = cursor.Add(-deltaOverlap)
	}
	var changed []*provet.WorklistItem
	listed := map[int64]bool{}
	newest := cursor
	// A poll that cannot finish soon is better abandoned: the next one comes
	// shortly, and meanwhile the technician should see "offline" rather than
	// a sync that waits out a maintenance window's Retry-After.
	listCtx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	_, err := c.ListWorklist(listCtx, q, func(w *provet.WorklistItem) error {
		listed[w.ID] = true
		if w.Modified.After(newest) {
			newest = w.Modified
		}
		if rec, ok := a.getRecord(a.itemMapping(cfg).key(w.ID)); ok && !remap &&
			rec.ProvetModified.Equal(w.Modified) && rec.ProvetStatus == w.StatusRaw {
			return nil // seen before: the overlap window, or an unchanged open item
		}
		changed = append(changed, w)
		return nil
	})
	if err != nil {
		if remap {
			a.remap.Store(true) // not done: try again next time
		}
		return fmt.Errorf("list Provet's imaging worklist: %w", err)
	}
	if full {
		vanished, err := a.vanished(ctx, c, cfg, listed)
		if err != nil {
			return err
		}
		changed = append(changed, vanished...)
	}
	// Soonest and newest first, so today's patients reach the modalities first.
	slices.SortFunc(changed, func(x, y *provet.WorklistItem) int { return y.Created.Compare(x.Created) })

	var fresh []Referral
	applied := 0
	for start := 0; start < len(changed); start += syncBatch {
		batch := changed[start:min(start+syncBatch, len(changed))]
		recs, deletes, added, err := a.resolveBatch(ctx, c, cfg, st, batch)
		if err != nil {
			return err
		}
		if err := a.putRecords(recs, deletes); err != nil {
			return err
		}
		fresh = append(fresh, added...)
		applied += len(recs) + len(deletes)
	}
	if newest.After(cursor) {
		if err := a.store.PutMeta(metaCursor, []byte(newest.UTC().Format(time.RFC3339Nano))); err != nil {
			return fmt.Errorf("save the sync position: %w", err)
		}
	}
	if full {
		st.lastFull = now
	}
	if firstEver {
		// The first load is the clinic's existing worklist, not news: it gets
		// one summary notification and no "new" highlight.
		a.mu.Lock()
		for _, r := range fresh {
			a.seen[r.Key] = true
		}
		a.mu.Unlock()
	}
	offlineLong := !st.lastOK.IsZero() && now.Sub(st.lastOK) > longOfflineGap
	st.lastOK = now
	a.notifyNew(fresh, firstEver || offlineLong, cfg.Notifications)
	a.setStatus(func(s *Status) {
		if s.State != StateSignedOut {
			s.State = StateOK
		}
		s.LastSync = now
		s.Message = ""
	})
	if applied > 0 {
		a.log.Info("synced with Provet", "changed", applied, "new", len(fresh), "full", full)
	}
	return nil
}

func (a *App) cursor() (time.Time, bool) {
	b, ok, err := a.store.GetMeta(metaCursor)
	if err != nil || !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	return t, err == nil
}

// vanished finds open orders we hold that the open list no longer shows:
// completed or cancelled in Provet, or deleted. One detail read each tells
// which; deleted ones come back with Status unknown and are removed.
func (a *App) vanished(ctx context.Context, c *provet.Client, cfg Config, listed map[int64]bool) ([]*provet.WorklistItem, error) {
	prefix := a.itemMapping(cfg).keyPrefix()
	var gone []record
	_ = a.store.AllItems(func(si store.Item) error {
		if !strings.HasPrefix(si.Key, prefix) {
			return nil
		}
		rec, err := decodeRecord(si.Data)
		if err == nil && rec.onWorklist() && !listed[int64(rec.ProvetID)] {
			gone = append(gone, rec)
		}
		return nil
	})
	var out []*provet.WorklistItem
	for _, rec := range gone {
		w, err := c.WorklistItem(ctx, int64(rec.ProvetID))
		switch {
		case errors.Is(err, provet.ErrNotFound):
			out = append(out, &provet.WorklistItem{ID: int64(rec.ProvetID), Status: provet.StatusUnknown, StatusRaw: "deleted"})
		case err != nil:
			return nil, fmt.Errorf("check order %d in Provet: %w", rec.ProvetID, err)
		default:
			out = append(out, w)
		}
	}
	return out, nil
}

// resolveBatch fetches what each changed order refers to and maps it.
func (a *App) resolveBatch(ctx context.Context, c *provet.Client, cfg Config, st *syncState, batch []*provet.WorklistItem) (recs []record, deletes []string, added []Referral, err error) {
	m := a.itemMapping(cfg)
	type result struct {
		rec     record
		del     bool
		isNew   bool
		skipped bool
		err     error
	}
	results := make([]result, len(batch))
	var wg sync.WaitGroup
	sem := make(chan struct{}, resolveWorkers)
	for i, w := range batch {
		key := m.key(w.ID)
		prev, existed := a.getRecord(key)
		switch {
		case w.StatusRaw == "deleted" && w.Status == provet.StatusUnknown:
			results[i] = result{del: true, rec: record{Item: prev.Item}}
			continue
		case w.Status == provet.StatusCompleted || w.Status == provet.StatusCancelled:
			if !existed {
				results[i] = result{skipped: true} // finished before we ever saw it
				continue
			}
			// It leaves the worklist; the window keeps it until retention.
			prev.ProvetStatus, prev.ProvetState, prev.ProvetModified = w.StatusRaw, w.Status.String(), w.Modified
			if w.Status == provet.StatusCompleted {
				prev.Item.SPSStatus = "COMPLETED"
			} else {
				prev.Item.SPSStatus = "DISCONTINUED"
			}
			results[i] = result{rec: prev}
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o, err := a.resolve(ctx, c, st, w)
			if err != nil {
				results[i] = result{err: err}
				return
			}
			rec := m.record(o, a.now())
			if existed {
				rec.Arrived = prev.Arrived
				// What the modality reported stays until Provet reports
				// further progress itself.
				if localAhead(prev.Item.SPSStatus, rec.Item.SPSStatus) {
					rec.Item.SPSStatus = prev.Item.SPSStatus
				}
			}
			results[i] = result{rec: rec, isNew: !existed}
		}()
	}
	wg.Wait()
	for i, r := range results {
		switch {
		case r.err != nil:
			if errors.Is(r.err, provet.ErrNotFound) {
				a.log.Warn("order refers to something deleted in Provet; skipped until it changes", "worklist_id", batch[i].ID, "err", r.err)
				continue
			}
			return nil, nil, nil, r.err
		case r.skipped:
		case r.del:
			deletes = append(deletes, m.key(batch[i].ID))
		default:
			recs = append(recs, r.rec)
			if r.isNew {
				added = append(added, r.rec.referral(true))
			}
		}
	}
	return recs, deletes, added, nil
}

var spsRank = map[string]int{"": 0, "SCHEDULED": 0, "STARTED": 1, "COMPLETED": 2, "DISCONTINUED": 2}

func localAhead(local, remote string) bool { return spsRank[local] > spsRank[remote] }

// resolve gathers the objects one order refers to: inlined by Provet when
// it honoured ?expose_, else fetched. Users and reference lists are cached;
// patient, owner, referral and appointment are read again whenever the
// order changed, because Provet offers no cheaper way to learn that they
// changed.
func (a *App) resolve(ctx context.Context, c *provet.Client, st *syncState, w *provet.WorklistItem) (provetOrder, error) {
	o := provetOrder{Worklist: w}
	var err error
	if !w.Referral.IsZero() {
		o.Referral, err = inlineOr(w.Referral, c.Mapping().DecodeReferral, func() (*provet.ImagingReferral, error) {
			return c.Referral(ctx, w.Referral.ID)
		})
		if err != nil && !errors.Is(err, provet.ErrNotFound) {
			return o, err
		}
	}
	appt := w.Appointment
	if appt.IsZero() && o.Referral != nil {
		appt = o.Referral.Appointment
	}
	if !appt.IsZero() {
		o.Appointment, err = inlineOr(appt, provet.DecodeAppointment, func() (*provet.Appointment, error) {
			return c.Appointment(ctx, appt.ID)
		})
		if err != nil && !errors.Is(err, provet.ErrNotFound) {
			return o, err
		}
	}
	if !w.Patient.IsZero() {
		o.Patient, err = inlineOr(w.Patient, provet.DecodePatient, func() (*provet.Patient, error) {
			return c.Patient(ctx, w.Patient.ID)
		})
		if err != nil {
			return o, err
		}
	}
	owner := w.Client
	if owner.IsZero() && o.Patient != nil {
		owner = o.Patient.Client
	}
	if !owner.IsZero() {
		o.Owner, err = inlineOr(owner, provet.DecodeOwner, func() (*provet.Owner, error) {
			return c.Owner(ctx, owner.ID)
		})
		if err != nil && !errors.Is(err, provet.ErrNotFound) {
			return o, err
		}
	}
	if o.Requesting, err = st.names.user(ctx, c, w.RequestingUser); err != nil {
		return o, err
	}
	if o.Supervising, err = st.names.user(ctx, c, w.SupervisingVet); err != nil {
		return o, err
	}
	if o.Modality, err = st.names.modality(ctx, c, w.Modality, a.now()); err != nil {
		return o, err
	}
	for _, ta := range w.TargetAreas {
		name, err := st.names.targetArea(ctx, c, ta, a.now())
		if err != nil {
			return o, err
		}
		if name != "" {
			o.TargetAreas = append(o.TargetAreas, name)
		}
	}
	return o, nil
}

// inlineOr decodes a relation Provet inlined (?expose_...), or fetches it
// when Provet sent only its URL or the inlined form cannot be read.
func inlineOr[T any](ref provet.Ref, decode func([]byte) (*T, error), fetch func() (*T, error)) (*T, error) {
	if len(ref.Inline) > 0 {
		if v, err := decode(ref.Inline); err == nil {
			return v, nil
		}
	}
	return fetch()
}

// exposeRelations asks Provet to inline what every order needs, so a sync
// costs a list request per page instead of several detail requests per
// order. Provet documents ?expose_ for its API; for relations it does not
// inline on this endpoint, the URLs come back and are fetched as before.
var exposeRelations = []string{"patient", "client", "referral", "appointment",
	"requesting_user", "supervising_veterinarian", "modality", "target_areas"}

// nameCache holds the small, slowly changing objects every order refers to.
type nameCache struct {
	mu          sync.Mutex
	users       map[int64]*provet.User
	usersAt     time.Time
	modalities  map[int64]string
	targetAreas map[int64]string
	listsAt     time.Time
}

func newNameCache() nameCache { return nameCache{users: map[int64]*provet.User{}} }

func (n *nameCache) user(ctx context.Context, c *provet.Client, ref provet.Ref) (*provet.User, error) {
	if ref.IsZero() {
		return nil, nil
	}
	n.mu.Lock()
	if time.Since(n.usersAt) > namesMaxAge {
		n.users, n.usersAt = map[int64]*provet.User{}, time.Now()
	}
	u, ok := n.users[ref.ID]
	n.mu.Unlock()
	if ok {
		return u, nil
	}
	u, err := inlineOr(ref, provet.DecodeUser, func() (*provet.User, error) { return c.User(ctx, ref.ID) })
	if errors.Is(err, provet.ErrNotFound) || errors.Is(err, provet.ErrForbidden) {
		u, err = nil, nil // a deleted or hidden user must not block the order
	}
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.users[ref.ID] = u
	n.mu.Unlock()
	return u, nil
}

// lists loads the modality and target-area lists when they are missing, old,
// or lack an id an order uses.
func (n *nameCache) lists(ctx context.Context, c *provet.Client, now time.Time, needModality, needArea int64) error {
	n.mu.Lock()
	_, haveM := n.modalities[needModality]
	_, haveA := n.targetAreas[needArea]
	stale := n.modalities == nil || now.Sub(n.listsAt) > namesMaxAge ||
		(needModality != 0 && !haveM) || (needArea != 0 && !haveA)
	recent := now.Sub(n.listsAt) < time.Minute
	n.mu.Unlock()
	if !stale || (recent && n.modalities != nil) {
		return nil
	}
	ms, err := c.Modalities(ctx)
	if err != nil {
		return err
	}
	tas, err := c.TargetAreas(ctx)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.modalities, n.targetAreas, n.listsAt = map[int64]string{}, map[int64]string{}, now
	for _, m := range ms {
		n.modalities[m.ID] = m.Name
	}
	for _, t := range tas {
		n.targetAreas[t.ID] = t.Name
	}
	return nil
}

func (n *nameCache) modality(ctx context.Context, c *provet.Client, ref provet.Ref, now time.Time) (string, error) {
	if ref.IsZero() {
		return "", nil
	}
	if ref.Name != "" {
		return ref.Name, nil
	}
	if err := n.lists(ctx, c, now, ref.ID, 0); err != nil {
		return "", err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.modalities[ref.ID], nil
}

func (n *nameCache) targetArea(ctx context.Context, c *provet.Client, ref provet.Ref, now time.Time) (string, error) {
	if ref.IsZero() {
		return "", nil
	}
	if ref.Name != "" {
		return ref.Name, nil
	}
	if err := n.lists(ctx, c, now, 0, ref.ID); err != nil {
		return "", err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.targetAreas[ref.ID], nil
}

// itemMapping is the mapping for the configured installation.
func (a *App) itemMapping(cfg Config) itemMapping {
	tenant, err := provet.ResolveTenant(cfg.Provet.Region, cfg.Provet.BaseURL, cfg.Provet.ProvetID)
	id := cfg.Provet.ProvetID
	t := cfg.Provet.Region + "/" + id
	if err == nil {
		t, id = tenant.APIBase, tenant.ProvetID
	}
	return itemMapping{Tenant: t, ProvetID: id, Modalities: cfg.ModalityMap, PatientName: cfg.PatientName, Location: time.Local}
}

// notifyNew tells the technician about new referrals, each once ever: the
// store remembers what was notified, so a restart never repeats one.
func (a *App) notifyNew(fresh []Referral, summarise bool, nc NotifyConfig) {
	var first []Referral
	for _, r := range fresh {
		ok, err := a.store.MarkNotified(r.Key)
		if err != nil {
			a.log.Warn("remember notification", "err", err)
			continue
		}
		if ok {
			first = append(first, r)
		}
	}
	if len(first) == 0 {
		return
	}
	for _, r := range first {
		r := r
		a.hub.publish(Event{Kind: EventNewReferral, Referral: &r})
	}
	if nc.Muted {
		return
	}
	slices.SortFunc(first, func(x, y Referral) int { return cmp.Compare(x.Key, y.Key) })
	if summarise || len(first) > summaryAfter {
		title, msg := summaryNotice(len(first))
		a.notify(title, msg)
		return
	}
	for _, r := range first {
		title, msg := referralNotice(r, nc.ShowOwner)
		a.notify(title, msg)
	}
}

func (a *App) notify(title, msg string) {
	if err := a.notifier.Notify(title, msg); err != nil {
		// No notification service (a server, a locked-down desktop): the
		// referral is on the worklist all the same.
		a.log.Info("notification not shown", "err", err)
	}
}
