// Package walkin puts an exam done without an order (an emergency, a
// patient typed in at the console) on the worklist: the patient is taken
// from Provet, so Provet's patient id is the exam's Patient ID and
// Provet's own PACS link finds the images; where the clinic allows it, the
// imaging order is created in Provet too.
package walkin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/records"
	"github.com/vetbridge/vetbridge/app/settings"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// PatientHit is one patient found in Provet for a walk-in exam.
type PatientHit struct {
	ID        int64  `json:"id"` // Provet's patient id: the exam's Patient ID
	Name      string `json:"name"`
	Species   string `json:"species,omitempty"`
	Breed     string `json:"breed,omitempty"`
	Owner     string `json:"owner,omitempty"`
	Microchip string `json:"microchip,omitempty"`
	BirthDate string `json:"birth_date,omitempty"` // YYYY-MM-DD
	Deceased  bool   `json:"deceased,omitempty"`
}

// Exam is a walk-in exam to put on the worklist.
type Exam struct {
	PatientID int64 `json:"patient_id"`
	// Modality is a DICOM code ("DX") or Provet's modality name ("X-ray");
	// the modality table gives the station.
	Modality string `json:"modality"`
	Exam     string `json:"exam"` // e.g. "Thorax, 2 views"
}

// Result is a walk-in exam on the worklist.
type Result struct {
	Referral records.Referral `json:"referral"`
	// InProvet says an imaging order was created in Provet for it (with
	// provet.create_walk_ins); otherwise it stays in VetBridge, marked as a
	// walk-in, and Note says why when creating it in Provet was asked for.
	InProvet bool   `json:"in_provet,omitempty"`
	Note     string `json:"note,omitempty"`
}

// maxHits bounds a search: the technician picks from a short list.
const maxHits = 20

// Search finds Provet patients by the animal's name, its microchip or the
// owner's last name; c is nil while nobody is signed in.
func Search(ctx context.Context, c *provet.Client, text string) ([]PatientHit, error) {
	if c == nil {
		return nil, fmt.Errorf("not signed in to Provet: sign in to search its patients")
	}
	if len(strings.TrimSpace(text)) < 2 {
		return nil, fmt.Errorf("type at least two letters of the animal's or the owner's name, or the microchip")
	}
	pts, owners, err := c.SearchPatients(ctx, text, maxHits)
	if err != nil {
		return nil, fmt.Errorf("search Provet's patients: %w", err)
	}
	out := make([]PatientHit, 0, len(pts))
	for _, p := range pts {
		h := PatientHit{ID: p.ID, Name: p.Name, Species: p.Species, Breed: p.Breed, Microchip: p.Microchip, Deceased: p.Deceased}
		if !p.DateOfBirth.IsZero() {
			h.BirthDate = p.DateOfBirth.Format(time.DateOnly)
		}
		if o := owners[p.Client.ID]; o != nil {
			h.Owner = o.DisplayName()
		}
		out = append(out, h)
	}
	return out, nil
}

// Options are what Create works with.
type Options struct {
	Client *provet.Client // nil while nobody is signed in
	Repo   *records.Repo
	Config settings.Config
	Now    time.Time
	Log    *slog.Logger
}

// Create puts an exam for a Provet patient on the worklist at once. With
// provet.create_walk_ins (and the tenant's status values confirmed) an
// imaging order is created in Provet too, and the exam is that order;
// otherwise, or when Provet refuses, the exam stays in VetBridge, marked as
// a walk-in, and no status goes to Provet for it. The result's Referral is
// as stored.
func Create(ctx context.Context, o Options, w Exam) (Result, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	c := o.Client
	if c == nil {
		return Result{}, fmt.Errorf("not signed in to Provet: sign in to take the patient from Provet")
	}
	if strings.TrimSpace(w.Modality) == "" {
		return Result{}, fmt.Errorf("choose the modality of the exam")
	}
	p, err := c.Patient(ctx, w.PatientID)
	if err != nil {
		return Result{}, fmt.Errorf("read patient %d from Provet: %w", w.PatientID, err)
	}
	var owner *provet.Owner
	if p.Client.ID != 0 {
		if owner, err = c.Owner(ctx, p.Client.ID); err != nil {
			return Result{}, fmt.Errorf("read the owner of patient %d from Provet: %w", w.PatientID, err)
		}
	}
	rec, err := record(o.Config, o.Now, p, owner, w)
	if err != nil {
		return Result{}, err
	}
	var res Result
	if o.Config.Provet.CreateWalkIns {
		switch ordered, err := orderInProvet(ctx, c, o.Config, rec, w, p.Client.ID); {
		case errors.Is(err, provet.ErrMaybeCreated):
			return Result{}, err
		case err != nil:
			o.Log.Warn("walk-in not created in Provet; it stays in VetBridge", "err", err)
			res.Note = "Provet did not create the imaging order (" + err.Error() + "); the exam stays in VetBridge as a walk-in."
		default:
			rec, res.InProvet = ordered, true
		}
	}
	if err := o.Repo.Apply([]records.Record{rec}, nil); err != nil {
		return Result{}, err
	}
	o.Log.Info("walk-in exam on the worklist", "key", rec.Item.Key, "modality", rec.Item.Modality, "in_provet", res.InProvet)
	if stored, ok := o.Repo.Get(rec.Item.Key); ok {
		rec = stored
	}
	res.Referral = rec.Referral(true)
	return res, nil
}

// orderInProvet creates the walk-in's imaging order in Provet and returns
// rec as that order, with the identifiers sync gives Provet's orders, so
// the next sync finds it as its own.
func orderInProvet(ctx context.Context, c *provet.Client, cfg settings.Config, rec records.Record, w Exam, owner int64) (records.Record, error) {
	name := ""
	for _, m := range cfg.ModalityMap {
		if strings.EqualFold(m.Modality, rec.Item.Modality) || strings.EqualFold(m.Provet, w.Modality) {
			name = m.Provet
			break
		}
	}
	mods, err := c.Modalities(ctx)
	if err != nil {
		return rec, err
	}
	var modID int64
	for _, m := range mods {
		if strings.EqualFold(m.Name, name) {
			modID = m.ID
		}
	}
	if modID == 0 {
		return rec, fmt.Errorf("Provet has no modality %q: check the modality table in Settings", name)
	}
	pid, _ := strconv.ParseInt(rec.Item.PatientID, 10, 64)
	it, err := c.CreateWorklistItem(ctx, provet.NewOrder{PatientID: pid, ClientID: owner, ModalityID: modID})
	if err != nil {
		return rec, err
	}
	m := cfg.ItemMapping()
	id := strconv.FormatInt(it.ID, 10)
	rec.Source, rec.ProvetID, rec.ProvetStatus, rec.ProvetState, rec.ProvetModified = records.SourceProvet, int(it.ID), it.StatusRaw, it.Status.String(), it.Modified
	rec.Item.Key, rec.Item.AccessionNumber, rec.Item.StudyInstanceUID = m.Key(it.ID), m.Accession(it.ID), m.StudyUID(it.ID)
	rec.Item.RequestedProcedureID, rec.Item.SPSID = "RP"+id, "SPS"+id
	return rec, nil
}

// record is the worklist record of a walk-in exam.
func record(cfg settings.Config, now time.Time, p *provet.Patient, owner *provet.Owner, w Exam) (records.Record, error) {
	acc, uid, err := ids(now)
	if err != nil {
		return records.Record{}, err
	}
	mod, station := strings.ToUpper(strings.TrimSpace(w.Modality)), ""
	for _, m := range cfg.ModalityMap {
		if strings.EqualFold(m.Modality, w.Modality) || strings.EqualFold(m.Provet, w.Modality) {
			mod, station = m.Modality, m.StationAE
			break
		}
	}
	exam := strings.TrimSpace(w.Exam)
	if exam == "" {
		exam = "Walk-in " + mod
	}
	it := worklist.Item{
		Key: "walkin:" + acc, PatientID: strconv.FormatInt(p.ID, 10), AccessionNumber: acc,
		RequestedProcedureID: acc, SPSID: acc, StudyInstanceUID: uid, Modality: mod, StationAETitle: station,
		RequestedProcedureDescription: truncate(exam, 64), SPSDescription: truncate(exam, 64),
		RequestedProcedurePriority: "HIGH", StartDate: now.Format("20060102"), StartTime: now.Format("150405"),
		SPSStatus: "SCHEDULED", SpeciesDescription: p.Species, BreedDescription: p.Breed, Updated: now,
	}
	if mc := strings.TrimSpace(p.Microchip); mc != "" {
		it.OtherPatientIDs = []string{mc}
	}
	if !p.DateOfBirth.IsZero() {
		it.PatientBirthDate = p.DateOfBirth.Format("20060102")
	}
	it.PatientSex = sex(p.Gender)
	if p.Weight != nil && *p.Weight > 0 {
		it.PatientWeightKg = *p.Weight
	}
	family, ownerName := "", ""
	if owner != nil {
		ownerName = owner.DisplayName()
		if owner.CustomerType != 0 && owner.OrganizationName != "" {
			family = owner.OrganizationName
			it.ResponsibleOrganization = family
		} else {
			family = owner.LastName
			it.ResponsiblePerson = pnPart(owner.LastName) + "^" + pnPart(owner.FirstName)
			it.ResponsiblePersonRole = "OWNER"
		}
	}
	it.PatientName = pnPart(family) + "^" + pnPart(p.Name)
	if cfg.PatientName == "pet" {
		it.PatientName = pnPart(p.Name)
	}
	return records.Record{Item: it, Source: records.SourceWalkIn, PetName: p.Name, OwnerName: ownerName,
		Exam: exam, Arrived: now}, nil
}

// ids makes an accession number (16 characters at most, as DICOM's SH
// allows) and a Study Instance UID (2.25 and a random 128-bit number, PS3.5
// B.2) that no other exam has.
func ids(now time.Time) (accession, studyUID string, err error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("make the walk-in's identifiers: %w", err)
	}
	accession = fmt.Sprintf("W%s%02X", now.Format("060102150405"), b[0])
	return accession, "2.25." + new(big.Int).SetBytes(b[:]).String(), nil
}

func sex(gender string) string {
	g := strings.ToLower(gender)
	switch {
	case strings.Contains(g, "female"):
		return "F"
	case strings.Contains(g, "male"):
		return "M"
	}
	return "O"
}

// pnPart keeps a name from breaking the DICOM person-name form.
func pnPart(s string) string {
	return strings.NewReplacer("^", " ", "=", " ", "\\", " ").Replace(strings.TrimSpace(s))
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}
