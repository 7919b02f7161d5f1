package app

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vetbridge/vetbridge/app/records"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// Referrals lists referrals for the worklist window, soonest first: one day
// through the store's date index, or every stored day.
func (a *App) Referrals(f ReferralFilter) []Referral {
	day := f.Day
	if day.IsZero() {
		day = a.now()
	}
	search := foldForSearch(f.Search)
	a.mu.Lock()
	seen := a.seen
	a.mu.Unlock()
	var out []Referral
	keep := func(rec records.Record) bool {
		a.mu.Lock()
		isNew := !seen[rec.Item.Key]
		a.mu.Unlock()
		r := referralOf(rec, isNew)
		if f.Modality != "" && !strings.EqualFold(r.Modality, f.Modality) {
			return true
		}
		if f.Status != "" && !strings.EqualFold(r.Status, f.Status) {
			return true
		}
		if search != "" && !strings.Contains(foldForSearch(strings.Join([]string{r.PetName, r.OwnerName,
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
	return referralOf(rec, isNew), true
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

// ViewerURL is the PACS viewer address for a referral's patient.
func (a *App) ViewerURL(key string) (string, error) {
	rec, ok := a.repo.Get(key)
	if !ok {
		return "", fmt.Errorf("this referral is no longer on the worklist")
	}
	c := a.Effective()
	return ViewerLink(c.ViewerURL, rec.Item.PatientID, rec.Item.AccessionNumber, rec.Item.StudyInstanceUID, c.Provet.ProvetID)
}

// PreviewViewerURL shows what a template would open, for the Settings "Test"
// button: with a referral on the worklist, or an example patient.
func (a *App) PreviewViewerURL(template string) (string, error) {
	pid, acc, uid := "1234", "4242-1", "2.25.1"
	if all := a.repo.Index().All(); len(all) > 0 {
		pid, acc, uid = all[0].PatientID, all[0].AccessionNumber, all[0].StudyInstanceUID
	}
	return ViewerLink(template, pid, acc, uid, a.Effective().Provet.ProvetID)
}

// referralOf is the technician's view of a record.
func referralOf(r records.Record, isNew bool) Referral {
	it := r.Item
	return Referral{
		Key:                  it.Key,
		ProvetID:             r.ProvetID,
		Scheduled:            r.Scheduled(),
		PetName:              nonEmpty(r.PetName, petFromPN(it.PatientName)),
		Species:              it.SpeciesDescription,
		Breed:                it.BreedDescription,
		OwnerName:            nonEmpty(r.OwnerName, ownerFromRecord(it)),
		PatientID:            it.PatientID,
		AccessionNumber:      it.AccessionNumber,
		StudyInstanceUID:     it.StudyInstanceUID,
		RequestedProcedureID: it.RequestedProcedureID,
		SPSID:                it.SPSID,
		Exam:                 nonEmpty(r.Exam, it.RequestedProcedureDescription),
		Modality:             it.Modality,
		StationAE:            it.StationAETitle,
		RequestingVet:        nonEmpty(r.RequestingVet, readablePN(it.RequestingPhysician)),
		Status:               nonEmpty(it.SPSStatus, "SCHEDULED"),
		Remarks:              r.Remarks,
		New:                  isNew,
		History:              history(r.Audit),
		Fields:               itemFields(it),
	}
}

func petFromPN(pn string) string {
	parts := strings.Split(strings.SplitN(pn, "=", 2)[0], "^")
	if len(parts) > 1 && parts[1] != "" {
		return parts[1]
	}
	return parts[0]
}

func ownerFromRecord(it worklist.Item) string {
	if it.ResponsibleOrganization != "" {
		return it.ResponsibleOrganization
	}
	return readablePN(it.ResponsiblePerson)
}

// readablePN turns "Family^Given^Middle^Prefix^Suffix" into "Prefix Given Middle Family Suffix".
func readablePN(pn string) string {
	c := strings.Split(strings.SplitN(pn, "=", 2)[0], "^")
	for len(c) < 5 {
		c = append(c, "")
	}
	return joinNonEmpty(" ", c[3], c[1], c[2], c[0], c[4])
}

// itemFields lists every attribute the modality receives, labelled for the
// technician, so "what will the device show?" needs no DICOM knowledge.
func itemFields(it worklist.Item) []Field {
	var f []Field
	add := func(label, v string) {
		if strings.TrimSpace(v) != "" {
			f = append(f, Field{label, v})
		}
	}
	code := func(c *worklist.Code) string {
		if c == nil {
			return ""
		}
		return joinNonEmpty(" ", c.Meaning, "("+c.Scheme+" "+c.Value+")")
	}
	add("Patient's Name (0010,0010)", it.PatientName)
	add("Patient ID (0010,0020)", it.PatientID)
	add("Other Patient IDs / microchip (0010,1002)", strings.Join(it.OtherPatientIDs, ", "))
	add("Birth Date (0010,0030)", it.PatientBirthDate)
	add("Sex (0010,0040)", it.PatientSex)
	add("Sex Neutered (0010,2203)", it.PatientSexNeutered)
	if it.PatientWeightKg > 0 {
		add("Weight kg (0010,1030)", strconv.FormatFloat(it.PatientWeightKg, 'f', -1, 64))
	}
	add("Species (0010,2201)", it.SpeciesDescription)
	add("Species Code (0010,2202)", code(it.SpeciesCode))
	add("Breed (0010,2292)", it.BreedDescription)
	add("Breed Code (0010,2293)", code(it.BreedCode))
	add("Responsible Person (0010,2297)", it.ResponsiblePerson)
	add("Responsible Person Role (0010,2298)", it.ResponsiblePersonRole)
	add("Responsible Organization (0010,2299)", it.ResponsibleOrganization)
	add("Accession Number (0008,0050)", it.AccessionNumber)
	add("Requested Procedure ID (0040,1001)", it.RequestedProcedureID)
	add("Requested Procedure (0032,1060)", it.RequestedProcedureDescription)
	add("Priority (0040,1003)", it.RequestedProcedurePriority)
	add("Study Instance UID (0020,000D)", it.StudyInstanceUID)
	add("Referring Physician (0008,0090)", it.ReferringPhysician)
	add("Requesting Physician (0032,1032)", it.RequestingPhysician)
	add("Scheduled Station AE (0040,0001)", it.StationAETitle)
	add("Modality (0008,0060)", it.Modality)
	add("Start Date (0040,0002)", it.StartDate)
	add("Start Time (0040,0003)", it.StartTime)
	add("Performing Physician (0040,0006)", it.PerformingPhysician)
	add("SPS ID (0040,0009)", it.SPSID)
	add("SPS Description (0040,0007)", it.SPSDescription)
	add("SPS Status (0040,0020)", it.SPSStatus)
	add("Procedure Comments (0040,1400)", it.RequestedProcedureComments)
	return f
}

// history words the audit trail for the detail pane.
func history(audit []records.AuditEntry) []string {
	var out []string
	for _, e := range audit {
		out = append(out, fmt.Sprintf("%s by %s, %s", stateWords(e.To), e.By, e.At.Local().Format("Mon 2 Jan 15:04")))
	}
	return out
}

func stateWords(sps string) string {
	switch sps {
	case "STARTED":
		return "Started"
	case "COMPLETED":
		return "Completed"
	case "DISCONTINUED":
		return "Discontinued"
	case "SCHEDULED", "":
		return "Back to scheduled"
	}
	return sps
}

// ParkedUpdates lists the status updates Provet refused.
func (a *App) ParkedUpdates() []ParkedUpdate {
	var out []ParkedUpdate
	for _, p := range a.out.State().Parked {
		u := ParkedUpdate{ID: p.ID, Key: p.Key, Status: strings.ReplaceAll(p.Status, "_", " "), Provet: p.Error}
		if r, ok := a.Referral(p.Key); ok {
			u.Referral = joinNonEmpty(", ", r.PetName, r.OwnerName, r.Exam)
		}
		out = append(out, u)
	}
	return out
}

// RetryUpdate sends a parked update again.
func (a *App) RetryUpdate(id uint64) error { return a.out.Retry(id) }

// DropUpdate gives a parked update up: Provet stays as it is.
func (a *App) DropUpdate(id uint64) error { return a.out.Drop(id) }
