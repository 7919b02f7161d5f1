package provetsync

import (
	"crypto/sha1"
	"encoding/hex"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/records"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// This file is the one place where a Provet imaging order becomes a DICOM
// worklist item. Provet's own JSON keys live in app/provet/mapping.go; here
// live the clinical choices: how names, species, sex and identifiers are
// expressed for a modality.

// order is one worklist entry with its related objects resolved. Any
// relation may be missing (nil) when Provet has none or could not be read.
type order struct {
	Worklist    *provet.WorklistItem
	Referral    *provet.ImagingReferral
	Appointment *provet.Appointment
	Patient     *provet.Patient
	Owner       *provet.Owner
	Modality    string   // Provet's modality name, e.g. "X-ray"
	TargetAreas []string // e.g. "Thorax"
	Requesting  *provet.User
	Supervising *provet.User
}

// Mapping holds the configurable parts of how an order becomes a worklist item.
type Mapping struct {
	Tenant      string // identifies the Provet installation: "<host>/<provet_id>"
	ProvetID    string
	Modalities  []ModalityMapping
	PatientName string // "owner^pet" or "pet"
	Location    *time.Location
}

// Coding scheme designator for Provet's own species and breed codes: "99"
// marks a private scheme in DICOM (PS3.16 8.2).
const provetCodingScheme = "99PROVET"

func (m Mapping) record(o order, now time.Time) records.Record {
	w := o.Worklist
	loc := m.Location
	if loc == nil {
		loc = time.Local
	}
	it := worklist.Item{Key: m.Key(w.ID), Updated: now}
	rec := records.Record{Source: records.SourceProvet, ProvetID: int(w.ID), ProvetStatus: w.StatusRaw, ProvetState: w.Status.String(), ProvetModified: w.Modified, Arrived: now}

	// The animal and its owner (PS3.5 6.2.1.1: Owner^Animal).
	pet, owner, ownerOrg := "", "", ""
	if p := o.Patient; p != nil {
		pet = strings.TrimSpace(p.Name)
		it.PatientID = strconv.FormatInt(p.ID, 10)
		if mc := strings.TrimSpace(p.Microchip); mc != "" {
			it.OtherPatientIDs = []string{mc}
		}
		if !p.DateOfBirth.IsZero() {
			it.PatientBirthDate = p.DateOfBirth.Format("20060102")
		}
		it.PatientSex, it.PatientSexNeutered = sexFromGender(p.Gender)
		if p.Weight != nil && *p.Weight > 0 {
			it.PatientWeightKg = *p.Weight
		}
		it.SpeciesDescription = shortDisplay(p.Species)
		if p.SpeciesCode != 0 {
			it.SpeciesCode = &worklist.Code{Value: strconv.FormatInt(p.SpeciesCode, 10), Scheme: provetCodingScheme, Meaning: p.Species}
		}
		it.BreedDescription = strings.TrimSpace(p.Breed)
		if p.BreedCode != 0 {
			it.BreedCode = &worklist.Code{Value: strconv.FormatInt(p.BreedCode, 10), Scheme: provetCodingScheme, Meaning: p.Breed}
		}
	} else if !w.Patient.IsZero() {
		it.PatientID = strconv.FormatInt(w.Patient.ID, 10)
	}
	if c := o.Owner; c != nil {
		if c.CustomerType != 0 && strings.TrimSpace(c.OrganizationName) != "" {
			// A company, shelter or charity owns the animal: PS3.3 asks for
			// Responsible Organization instead of a person.
			ownerOrg = strings.TrimSpace(c.OrganizationName)
			it.ResponsibleOrganization = ownerOrg
			owner = ownerOrg
		} else {
			owner = strings.TrimSpace(c.LastName)
			it.ResponsiblePerson = personName(c.LastName, c.FirstName)
			it.ResponsiblePersonRole = "OWNER"
			if owner == "" {
				owner = strings.TrimSpace(c.OrganizationName)
			}
		}
		rec.OwnerName = c.DisplayName()
	}
	switch {
	case m.PatientName == "pet":
		it.PatientName = pnComponent(pet)
	default:
		it.PatientName = pnComponent(owner) + "^" + pnComponent(pet)
	}
	rec.PetName = pet

	// The order's identifiers: stable across restarts and machines because
	// they derive from the installation and Provet's id alone.
	it.AccessionNumber = m.Accession(w.ID)
	it.RequestedProcedureID = "RP" + strconv.FormatInt(w.ID, 10)
	it.SPSID = "SPS" + strconv.FormatInt(w.ID, 10)
	it.StudyInstanceUID = m.StudyUID(w.ID)
	if !w.Consultation.IsZero() {
		it.AdmissionID = strconv.FormatInt(w.Consultation.ID, 10)
	}

	// Modality, station and what is to be imaged.
	mm := m.modality(o.Modality)
	it.Modality, it.StationAETitle = mm.Modality, mm.StationAE
	exam := nonEmpty(o.Modality, mm.Modality)
	if len(o.TargetAreas) > 0 {
		exam += " " + strings.Join(o.TargetAreas, ", ")
	}
	rec.Exam = exam
	it.RequestedProcedureDescription = truncateRunes(exam, 64)
	it.SPSDescription = truncateRunes(exam, 64)

	// When: the appointment if there is one, else when the vet asked.
	when := w.Created
	if o.Appointment != nil && !o.Appointment.Start.IsZero() {
		when = o.Appointment.Start
	} else if o.Referral != nil && !o.Referral.Created.IsZero() {
		when = o.Referral.Created
	}
	if !when.IsZero() {
		lt := when.In(loc)
		it.StartDate, it.StartTime = lt.Format("20060102"), lt.Format("150405")
	}

	// People.
	if u := o.Requesting; u != nil {
		it.RequestingPhysician = personName(u.LastName, u.FirstName)
		it.ReferringPhysician = it.RequestingPhysician
		rec.RequestingVet = u.FullName()
	}
	if u := o.Supervising; u != nil {
		it.PerformingPhysician = personName(u.LastName, u.FirstName)
	}

	urgent := w.Urgent
	remarks := w.Remarks
	if r := o.Referral; r != nil {
		urgent = urgent || r.Urgent
		// Internal notes stay in Provet: they are not meant for the modality.
		remarks = joinNonEmpty("\n", remarks, r.Remarks)
	}
	if urgent {
		it.RequestedProcedurePriority = "HIGH"
	} else {
		it.RequestedProcedurePriority = "ROUTINE"
	}
	rec.Remarks = remarks
	it.RequestedProcedureComments = truncateRunes(strings.ReplaceAll(remarks, "\n", " "), 10240)

	switch w.Status {
	case provet.StatusInProgress:
		it.SPSStatus = "STARTED"
	case provet.StatusCompleted:
		it.SPSStatus = "COMPLETED"
	case provet.StatusCancelled:
		it.SPSStatus = "DISCONTINUED"
	default:
		it.SPSStatus = "SCHEDULED"
	}
	rec.Item = it
	return rec
}

func (m Mapping) Key(id int64) string {
	return m.KeyPrefix() + strconv.FormatInt(id, 10)
}

// keyPrefix starts the key of every item from this installation.
func (m Mapping) KeyPrefix() string { return "provet:" + m.ProvetID + ":" }

// Accession fits DICOM's 16-character SH: the Provet ID when it is short
// enough, else a short hash of the installation, then the worklist id.
func (m Mapping) Accession(id int64) string {
	prefix := m.ProvetID
	if len(prefix) > 6 || strings.ContainsAny(prefix, `\^`) || prefix == "" {
		sum := sha1.Sum([]byte(m.Tenant))
		prefix = strings.ToUpper(hex.EncodeToString(sum[:3]))
	}
	return truncateRunes(prefix+"-"+strconv.FormatInt(id, 10), 16)
}

// StudyUID is a name-based UUID (RFC 9562 version 5 layout) of the
// installation and worklist id, written under the 2.25 root as PS3.5 B.2
// allows, so every machine derives the same UID for the same order.
func (m Mapping) StudyUID(id int64) string {
	sum := sha1.Sum([]byte("vetbridge/study/" + m.Tenant + "/" + strconv.FormatInt(id, 10)))
	u := sum[:16]
	u[6] = (u[6] & 0x0f) | 0x50
	u[8] = (u[8] & 0x3f) | 0x80
	return "2.25." + new(big.Int).SetBytes(u).String()
}

func (m Mapping) modality(provetName string) ModalityMapping {
	name := strings.TrimSpace(provetName)
	for _, mm := range m.Modalities {
		if strings.EqualFold(strings.TrimSpace(mm.Provet), name) {
			mm.Modality = strings.ToUpper(strings.TrimSpace(mm.Modality))
			return mm
		}
	}
	// An unmapped modality still reaches the devices, as "other", so the
	// technician sees it and can add a row to the table.
	return ModalityMapping{Provet: name, Modality: "OT"}
}

// sexFromGender reads Provet's gender display text, which folds neutering
// into sex. Matching on word stems keeps it working across Provet's English
// variants ("Castrated male", "Neutered male", "Spayed female").
func sexFromGender(g string) (sex, neutered string) {
	l := strings.ToLower(g)
	altered := strings.Contains(l, "castr") || strings.Contains(l, "neuter") ||
		strings.Contains(l, "steril") || strings.Contains(l, "spay")
	switch {
	case strings.Contains(l, "female"):
		sex = "F"
	case strings.Contains(l, "male"):
		sex = "M"
	case l == "" || strings.Contains(l, "unknown"):
		return "", ""
	default:
		sex = "O"
	}
	if altered {
		return sex, "ALTERED"
	}
	return sex, "UNALTERED"
}

// shortDisplay keeps Provet's species name without its qualifier:
// "Dog (Canine - Domestic)" becomes "Dog"; the full text goes in the code
// sequence's meaning.
func shortDisplay(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, " ("); i > 0 {
		return s[:i]
	}
	return s
}

// personName builds a DICOM PN "Family^Given" with separators removed from
// the parts, so a stray ^ or = in Provet cannot shift components.
func personName(family, given string) string {
	f, g := pnComponent(family), pnComponent(given)
	if g == "" {
		return f
	}
	return f + "^" + g
}

func pnComponent(s string) string {
	s = strings.NewReplacer("^", " ", "=", " ", `\`, " ").Replace(strings.TrimSpace(s))
	return truncateRunes(s, 64)
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// ModalityMapping turns Provet's modality into what the device expects.
type ModalityMapping struct {
	Provet    string `json:"provet"`     // Provet's modality name, e.g. "X-ray"
	Modality  string `json:"modality"`   // DICOM code, e.g. DX
	StationAE string `json:"station_ae"` // Scheduled Station AE Title, e.g. DX1
}

func nonEmpty(s, fallback string) string {
	if strings.TrimSpace(s) == "" {
		return fallback
	}
	return s
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
