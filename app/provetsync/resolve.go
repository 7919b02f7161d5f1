package provetsync

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/records"
)

// Provet permissions a technician may lack, named as Provet's user
// settings name them, so the clinic's administrator knows what to grant.
const (
	permImaging     = provet.PermImaging
	permSettings    = provet.PermIntegration
	permCalendar    = provet.PermCalendar
	permUserProfile = provet.PermUserProfile
	permPatients    = provet.PermPatients
)

// permissions collects the permissions a round's lookups were refused.
type permissions struct {
	mu  sync.Mutex
	set map[string]bool
}

// degrade turns a refused lookup into an empty field: only the worklist
// itself is worth failing a sync for. Other errors pass through.
func (p *permissions) degrade(err error, perm string) error {
	if !errors.Is(err, provet.ErrForbidden) {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.set == nil {
		p.set = map[string]bool{}
	}
	p.set[perm] = true
	return nil
}

func (p *permissions) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for k := range p.set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// resolveBatch fetches what each changed order refers to and maps it.
func (e *Engine) resolveBatch(ctx context.Context, c *provet.Client, m Mapping, perms *permissions, batch []*provet.WorklistItem) (recs []records.Record, deletes []string, added []records.Record, err error) {
	type result struct {
		rec     records.Record
		del     bool
		isNew   bool
		skipped bool
		err     error
	}
	results := make([]result, len(batch))
	var wg sync.WaitGroup
	sem := make(chan struct{}, resolveWorkers)
	for i, w := range batch {
		prev, existed := e.o.Repo.Get(m.Key(w.ID))
		switch {
		case w.StatusRaw == "deleted" && w.Status == provet.StatusUnknown:
			results[i] = result{del: true}
			continue
		case w.Status == provet.StatusCompleted || w.Status == provet.StatusCancelled:
			if !existed {
				results[i] = result{skipped: true} // finished before we ever saw it
				continue
			}
			results[i] = result{rec: closed(prev, w)}
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o, err := e.resolve(ctx, c, perms, w)
			if err != nil {
				results[i] = result{err: err}
				return
			}
			rec := m.record(o, e.o.Now())
			if existed {
				rec.Arrived, rec.Audit = prev.Arrived, prev.Audit
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
				e.o.Log.Warn("order refers to something deleted in Provet; skipped until it changes", "worklist_id", batch[i].ID, "err", r.err)
				continue
			}
			return nil, nil, nil, r.err
		case r.skipped:
		case r.del:
			deletes = append(deletes, m.Key(batch[i].ID))
		default:
			recs = append(recs, r.rec)
			if r.isNew {
				added = append(added, r.rec)
			}
		}
	}
	return recs, deletes, added, nil
}

// closed is a stored order Provet has completed or cancelled: it leaves the
// worklist, and the window keeps it until retention.
func closed(prev records.Record, w *provet.WorklistItem) records.Record {
	prev.ProvetStatus, prev.ProvetState, prev.ProvetModified = w.StatusRaw, w.Status.String(), w.Modified
	if w.Status == provet.StatusCompleted {
		prev.Item.SPSStatus = "COMPLETED"
	} else {
		prev.Item.SPSStatus = "DISCONTINUED"
	}
	return prev
}

var spsRank = map[string]int{"": 0, "SCHEDULED": 0, "STARTED": 1, "COMPLETED": 2, "DISCONTINUED": 2}

func localAhead(local, remote string) bool { return spsRank[local] > spsRank[remote] }

// resolve gathers the objects one order refers to: inlined by Provet when
// it honoured ?expose_, else fetched. Users and reference lists are cached;
// patient, owner, referral and appointment are read again whenever the
// order changed, because Provet offers no cheaper way to learn that they
// changed. A lookup Provet refuses (403) leaves its fields empty.
func (e *Engine) resolve(ctx context.Context, c *provet.Client, perms *permissions, w *provet.WorklistItem) (order, error) {
	o := order{Worklist: w}
	var err error
	if !w.Referral.IsZero() {
		o.Referral, err = inlineOr(c, provet.KindReferral, w.Referral, c.Mapping().DecodeReferral, func() (*provet.ImagingReferral, error) {
			return c.Referral(ctx, w.Referral.ID)
		})
		if err = perms.degrade(err, permImaging); err != nil && !errors.Is(err, provet.ErrNotFound) {
			return o, err
		}
	}
	if err := e.resolveAppointment(ctx, c, perms, &o); err != nil {
		return o, err
	}
	if err := e.resolvePatient(ctx, c, perms, &o); err != nil {
		return o, err
	}
	return o, e.resolveNames(ctx, c, perms, &o)
}

func (e *Engine) resolveAppointment(ctx context.Context, c *provet.Client, perms *permissions, o *order) error {
	appt := o.Worklist.Appointment
	if appt.IsZero() && o.Referral != nil {
		appt = o.Referral.Appointment
	}
	if appt.IsZero() {
		return nil
	}
	var err error
	o.Appointment, err = inlineOr(c, provet.KindAppointment, appt, provet.DecodeAppointment, func() (*provet.Appointment, error) {
		return c.Appointment(ctx, appt.ID)
	})
	if err = perms.degrade(err, permCalendar); err != nil && !errors.Is(err, provet.ErrNotFound) {
		return err
	}
	return nil
}

func (e *Engine) resolvePatient(ctx context.Context, c *provet.Client, perms *permissions, o *order) error {
	w := o.Worklist
	var err error
	// Through the consultation when the order has no patient link of its
	// own, as Provet's RIS guide reads it.
	o.Patient, err = c.PatientOf(ctx, w)
	switch {
	case errors.Is(err, provet.ErrNoPatient):
		e.o.Log.Warn("order names no patient; it is served without one", "worklist_id", w.ID)
	case err != nil:
		if err = perms.degrade(err, permPatients); err != nil {
			return err
		}
	}
	owner := w.Client
	if owner.IsZero() && o.Patient != nil {
		owner = o.Patient.Client
	}
	if owner.IsZero() {
		return nil
	}
	o.Owner, err = inlineOr(c, provet.KindOwner, owner, provet.DecodeOwner, func() (*provet.Owner, error) {
		return c.Owner(ctx, owner.ID)
	})
	if err = perms.degrade(err, permPatients); err != nil && !errors.Is(err, provet.ErrNotFound) {
		return err
	}
	return nil
}

func (e *Engine) resolveNames(ctx context.Context, c *provet.Client, perms *permissions, o *order) error {
	w := o.Worklist
	now := e.o.Now()
	var err error
	if o.Requesting, err = e.names.user(ctx, c, w.RequestingUser, now); err != nil {
		return perms.degrade(err, permUserProfile)
	}
	if o.Supervising, err = e.names.user(ctx, c, w.SupervisingVet, now); err != nil {
		return perms.degrade(err, permUserProfile)
	}
	if o.Modality, err = e.names.modality(ctx, c, w.Modality, now); err != nil {
		if err = perms.degrade(err, permSettings); err != nil {
			return err
		}
	}
	for _, ta := range w.TargetAreas {
		name, err := e.names.targetArea(ctx, c, ta, now)
		if err = perms.degrade(err, permSettings); err != nil {
			return err
		}
		if name != "" {
			o.TargetAreas = append(o.TargetAreas, name)
		}
	}
	return nil
}

// inlineOr decodes a relation Provet inlined (?expose_...), or fetches it
// when Provet sent only its URL, or an inlined copy that lacks keys the
// modality needs (Provet's expose_ may show only "some of the inner
// fields"), or one that cannot be read.
func inlineOr[T any](c *provet.Client, kind provet.Kind, ref provet.Ref, decode func([]byte) (*T, error), fetch func() (*T, error)) (*T, error) {
	if len(ref.Inline) > 0 && c.Mapping().InlineUsable(kind, ref) {
		if v, err := decode(ref.Inline); err == nil {
			return v, nil
		}
	}
	return fetch()
}

// nameCache holds the small, slowly changing objects every order refers to.
// The resolve workers share it.
type nameCache struct {
	mu          sync.Mutex
	users       map[int64]*provet.User
	usersAt     time.Time
	modalities  map[int64]string
	targetAreas map[int64]string
	listsAt     time.Time
	// fetchMu lets one worker read the reference lists while the others
	// wait for its result instead of reading them too.
	fetchMu sync.Mutex
}

func newNameCache() *nameCache { return &nameCache{users: map[int64]*provet.User{}} }

func (n *nameCache) user(ctx context.Context, c *provet.Client, ref provet.Ref, now time.Time) (*provet.User, error) {
	if ref.IsZero() {
		return nil, nil
	}
	n.mu.Lock()
	if now.Sub(n.usersAt) > namesMaxAge {
		n.users, n.usersAt = map[int64]*provet.User{}, now
	}
	u, ok := n.users[ref.ID]
	n.mu.Unlock()
	if ok {
		return u, nil
	}
	u, err := inlineOr(c, provet.KindUser, ref, provet.DecodeUser, func() (*provet.User, error) { return c.User(ctx, ref.ID) })
	if errors.Is(err, provet.ErrNotFound) {
		u, err = nil, nil // a deleted user must not block the order
	}
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.users[ref.ID] = u
	n.mu.Unlock()
	return u, nil
}

// needLists says whether the modality and target-area lists must be read:
// missing, old, or lacking an id an order uses (but not re-read within a
// minute, so an id Provet does not list costs one read, not one per order).
func (n *nameCache) needLists(now time.Time, needModality, needArea int64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.modalities == nil {
		return true
	}
	_, haveM := n.modalities[needModality]
	_, haveA := n.targetAreas[needArea]
	missing := (needModality != 0 && !haveM) || (needArea != 0 && !haveA)
	age := now.Sub(n.listsAt)
	return age > namesMaxAge || (missing && age >= time.Minute)
}

func (n *nameCache) lists(ctx context.Context, c *provet.Client, now time.Time, needModality, needArea int64) error {
	if !n.needLists(now, needModality, needArea) {
		return nil
	}
	n.fetchMu.Lock()
	defer n.fetchMu.Unlock()
	if !n.needLists(now, needModality, needArea) {
		return nil // another worker has just read them
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
	return n.name(ctx, c, ref, now, true)
}

func (n *nameCache) targetArea(ctx context.Context, c *provet.Client, ref provet.Ref, now time.Time) (string, error) {
	return n.name(ctx, c, ref, now, false)
}

func (n *nameCache) name(ctx context.Context, c *provet.Client, ref provet.Ref, now time.Time, modality bool) (string, error) {
	if ref.IsZero() {
		return "", nil
	}
	if ref.Name != "" {
		return ref.Name, nil
	}
	needM, needA := int64(0), ref.ID
	if modality {
		needM, needA = ref.ID, 0
	}
	if err := n.lists(ctx, c, now, needM, needA); err != nil {
		return "", err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if modality {
		return n.modalities[ref.ID], nil
	}
	return n.targetAreas[ref.ID], nil
}
