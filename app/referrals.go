package app

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/vetbridge/vetbridge/app/imaging"
	"github.com/vetbridge/vetbridge/app/records"
)

// Referrals lists referrals for the worklist window, soonest first: one day
// through the store's date index, or every stored day.
func (a *App) Referrals(f ReferralFilter) []Referral {
	day := f.Day
	if day.IsZero() {
		day = a.now()
	}
	search := records.FoldForSearch(f.Search)
	a.mu.Lock()
	seen := a.seen
	a.mu.Unlock()
	var out []Referral
	keep := func(rec records.Record) bool {
		a.mu.Lock()
		isNew := !seen[rec.Item.Key]
		a.mu.Unlock()
		r := rec.Referral(isNew)
		a.addImages(&r)
		if f.Modality != "" && !strings.EqualFold(r.Modality, f.Modality) {
			return true
		}
		if f.Status != "" && !strings.EqualFold(r.Status, f.Status) {
			return true
		}
		if search != "" && !strings.Contains(records.FoldForSearch(strings.Join([]string{r.PetName, r.OwnerName,
			r.PatientID, r.AccessionNumber, rec.Item.PatientName}, " ")), search) {
			return true
		}
		out = append(out, r)
		return true
	}
	if f.AllDays {
		_ = a.repo.Each(keep)
	} else {
		_ = a.repo.Day(day.Format("20060102"), keep)
	}
	slices.SortFunc(out, func(x, y Referral) int {
		return cmp.Or(x.Scheduled.Compare(y.Scheduled), strings.Compare(x.Key, y.Key))
	})
	return out
}

// Referral returns one referral by key.
func (a *App) Referral(key string) (Referral, bool) {
	rec, ok := a.repo.Get(key)
	if !ok {
		return Referral{}, false
	}
	a.mu.Lock()
	isNew := !a.seen[key]
	a.mu.Unlock()
	r := rec.Referral(isNew)
	a.addImages(&r)
	return r, true
}

// MarkSeen clears the "new" highlight of every referral.
func (a *App) MarkSeen() {
	var keys []string
	_ = a.repo.Each(func(rec records.Record) bool {
		keys = append(keys, rec.Item.Key)
		return true
	})
	a.mu.Lock()
	for _, k := range keys {
		a.seen[k] = true
	}
	a.mu.Unlock()
	a.hub.publish(Event{Kind: EventReferrals})
}

// ViewerURL is the PACS viewer address for a referral's patient, opening
// its matched study; ErrNoImagesYet when the PACS was asked and holds none.
func (a *App) ViewerURL(key string) (string, error) {
	rec, ok := a.repo.Get(key)
	if !ok {
		return "", fmt.Errorf("this referral is no longer on the worklist")
	}
	c := a.Effective()
	uid, err := a.viewerStudy(key, rec.Item.StudyInstanceUID)
	if err != nil {
		return "", err
	}
	return imaging.ViewerLink(c.ViewerURL, rec.Item.PatientID, rec.Item.AccessionNumber, uid, c.Provet.ProvetID)
}

// PreviewViewerURL shows what a template would open, for the Settings "Test"
// button: with a referral on the worklist, or an example patient.
func (a *App) PreviewViewerURL(template string) (string, error) {
	pid, acc, uid := "1234", "4242-1", "2.25.1"
	if all := a.repo.Index().All(); len(all) > 0 {
		pid, acc, uid = all[0].PatientID, all[0].AccessionNumber, all[0].StudyInstanceUID
	}
	return imaging.ViewerLink(template, pid, acc, uid, a.Effective().Provet.ProvetID)
}

// ParkedUpdates lists the status updates Provet refused.
func (a *App) ParkedUpdates() []ParkedUpdate {
	var out []ParkedUpdate
	for _, p := range a.out.State().Parked {
		u := ParkedUpdate{ID: p.ID, Key: p.Key, Status: strings.ReplaceAll(p.Status, "_", " "), Provet: p.Error}
		if r, ok := a.Referral(p.Key); ok {
			u.Referral = r.Label()
		}
		out = append(out, u)
	}
	return out
}

// RetryUpdate sends a parked update again.
func (a *App) RetryUpdate(id uint64) error { return a.out.Retry(id) }

// DropUpdate gives a parked update up: Provet stays as it is.
func (a *App) DropUpdate(id uint64) error { return a.out.Drop(id) }
