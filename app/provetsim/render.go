package provetsim

import (
	"strconv"
	"time"
)

// Provet serves timestamps in several shapes; a client must read them all.
const (
	tsMicroOffset = "2006-01-02T15:04:05.000000-07:00"
	tsOffset      = "2006-01-02T15:04:05-07:00"
	tsMicroZ      = "2006-01-02T15:04:05.000000Z"
)

// renderer turns records into Provet's JSON with absolute URLs for one request's host.
type renderer struct {
	api string // http://host/<provet_id>/api/0.1/
	loc *time.Location
	q   Quirks // the tenant's quirks when the request arrived
}

func (r renderer) url(kind string, id int) string {
	return r.api + kind + "/" + strconv.Itoa(id) + "/"
}

func (r renderer) optURL(kind string, id int) *string {
	if id == 0 {
		return nil
	}
	u := r.url(kind, id)
	return &u
}

func (r renderer) ts(t time.Time, layout string) string {
	if layout == tsMicroZ {
		return t.UTC().Format(layout)
	}
	return t.In(r.loc).Format(layout)
}

type worklistJSON struct {
	ID                      int      `json:"id"`
	URL                     string   `json:"url"`
	Referral                string   `json:"referral"`
	Consultation            string   `json:"consultation"`
	Patient                 *string  `json:"patient,omitempty"` // nil with Quirks.OmitPatientLink
	Client                  string   `json:"client"`
	Modality                string   `json:"modality"`
	TargetAreas             []string `json:"target_areas"`
	RequestingUser          string   `json:"requesting_user"`
	SupervisingVeterinarian *string  `json:"supervising_veterinarian"`
	Department              string   `json:"department"`
	Status                  int      `json:"status"`
	Created                 string   `json:"created"`
	Modified                *string  `json:"modified,omitempty"` // nil with Quirks.OmitModified
}

func (r renderer) worklist(w *worklistItem) worklistJSON {
	// Every third item without microseconds: the real service is not uniform.
	layout := tsMicroOffset
	if w.ID%3 == 0 {
		layout = tsOffset
	}
	areas := make([]string, len(w.TargetAreaIDs))
	for i, a := range w.TargetAreaIDs {
		areas[i] = r.url("targetarea", a)
	}
	out := worklistJSON{
		ID: w.ID, URL: r.url("diagnosticimaging_worklist", w.ID),
		Referral: r.url("diagnosticimaging_referral", w.ReferralID), Consultation: r.url("consultation", w.ConsultationID),
		Client:   r.url("client", w.ClientID),
		Modality: r.url("modality", w.ModalityID), TargetAreas: areas,
		RequestingUser: r.url("user", w.RequestingUserID), SupervisingVeterinarian: r.optURL("user", w.SupervisingVetID),
		Department: r.url("department", w.DepartmentID), Status: r.q.StatusCodes.Wire(w.Status),
		Created: r.ts(w.Created, layout),
	}
	if !r.q.OmitPatientLink {
		out.Patient = r.optURL("patient", w.PatientID)
	}
	if !r.q.OmitModified {
		m := r.ts(w.Modified, layout)
		out.Modified = &m
	}
	return out
}

type referralJSON struct {
	ID            int     `json:"id"`
	URL           string  `json:"url"`
	Worklist      string  `json:"worklist"`
	Consultation  string  `json:"consultation"`
	Appointment   *string `json:"appointment"`
	Remarks       string  `json:"remarks"`
	InternalNotes string  `json:"internal_notes"`
	Urgent        bool    `json:"urgent"`
	Created       string  `json:"created"`
	Modified      string  `json:"modified"`
}

func (r renderer) referral(x *referral) referralJSON {
	return referralJSON{ID: x.ID, URL: r.url("diagnosticimaging_referral", x.ID),
		Worklist: r.url("diagnosticimaging_worklist", x.WorklistID), Consultation: r.url("consultation", x.ConsultationID),
		Appointment: r.optURL("appointment", x.AppointmentID), Remarks: x.Remarks, InternalNotes: x.InternalNotes,
		Urgent: x.Urgent, Created: r.ts(x.Created, tsOffset), Modified: r.ts(x.Modified, tsOffset)}
}

type appointmentJSON struct {
	ID           int    `json:"id"`
	URL          string `json:"url"`
	Consultation string `json:"consultation"`
	Start        string `json:"start"`
	End          string `json:"end"`
	Created      string `json:"created"`
	Modified     string `json:"modified"`
}

func (r renderer) appointment(a *appointment) appointmentJSON {
	return appointmentJSON{ID: a.ID, URL: r.url("appointment", a.ID), Consultation: r.url("consultation", a.ConsultationID),
		Start: r.ts(a.Start, tsOffset), End: r.ts(a.End, tsOffset),
		Created: r.ts(a.Created, tsMicroOffset), Modified: r.ts(a.Modified, tsMicroOffset)}
}

type patientJSON struct {
	ID          int      `json:"id"`
	URL         string   `json:"url"`
	Client      string   `json:"client"`
	Name        string   `json:"name"`
	Species     string   `json:"species"`
	Breed       string   `json:"breed"`
	Gender      string   `json:"gender"`
	SpeciesCode int      `json:"species_code"`
	BreedCode   int      `json:"breed_code"`
	DateOfBirth *string  `json:"date_of_birth"`
	Weight      *float64 `json:"weight"`
	Microchip   string   `json:"microchip"`
	Deceased    *string  `json:"deceased"`
	Archived    bool     `json:"archived"`
	Created     string   `json:"created"`
	Modified    string   `json:"modified"`
}

func (r renderer) patient(p *patient) patientJSON {
	var dob *string
	if !p.DateOfBirth.IsZero() {
		s := p.DateOfBirth.Format("2006-01-02")
		dob = &s
	}
	return patientJSON{ID: p.ID, URL: r.url("patient", p.ID), Client: r.url("client", p.ClientID), Name: p.Name,
		Species: p.Species, Breed: p.Breed, Gender: p.Gender, SpeciesCode: p.SpeciesCode, BreedCode: p.BreedCode,
		DateOfBirth: dob, Weight: p.Weight, Microchip: p.Microchip,
		Created: r.ts(p.Created, tsMicroZ), Modified: r.ts(p.Modified, tsMicroZ)}
}

type phoneJSON struct {
	ID          int    `json:"id"`
	Number      string `json:"number"`
	Description string `json:"description"`
}

type clientJSON struct {
	ID               int         `json:"id"`
	URL              string      `json:"url"`
	Title            string      `json:"title"`
	FirstName        string      `json:"firstname"`
	LastName         string      `json:"lastname"`
	OrganizationName string      `json:"organization_name"`
	CustomerType     int         `json:"customer_type"`
	Email            string      `json:"email"`
	PhoneNumbers     []phoneJSON `json:"phone_numbers"`
	StreetAddress    string      `json:"street_address"`
	ZipCode          string      `json:"zip_code"`
	City             string      `json:"city"`
	Patients         []string    `json:"patients"`
	Created          string      `json:"created"`
	Modified         string      `json:"modified"`
}

func (r renderer) client(c *client, patientIDs []int) clientJSON {
	out := clientJSON{ID: c.ID, URL: r.url("client", c.ID), Title: c.Title, FirstName: c.FirstName,
		LastName: c.LastName, OrganizationName: c.Organization, CustomerType: c.CustomerType, Email: c.Email,
		PhoneNumbers: []phoneJSON{}, StreetAddress: c.Street, ZipCode: c.Zip, City: c.City, Patients: []string{},
		Created: r.ts(c.Created, tsMicroZ), Modified: r.ts(c.Modified, tsMicroZ)}
	for _, p := range c.Phones {
		out.PhoneNumbers = append(out.PhoneNumbers, phoneJSON(p))
	}
	for _, id := range patientIDs {
		out.Patients = append(out.Patients, r.url("patient", id))
	}
	return out
}

type consultationJSON struct {
	ID       int    `json:"id"`
	URL      string `json:"url"`
	Client   string `json:"client"`
	Patients []any  `json:"patients"` // URLs, or patient objects with ?expose_patients
	Status   int    `json:"status"`
	Created  string `json:"created"`
	Modified string `json:"modified"`
}

type namedJSON struct {
	ID   int    `json:"id"`
	URL  string `json:"url"`
	Name string `json:"name"`
}

type userJSON struct {
	ID        int    `json:"id"`
	URL       string `json:"url"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

func (r renderer) user(u *user) userJSON {
	return userJSON{ID: u.ID, URL: r.url("user", u.ID), Email: u.Email, FirstName: u.FirstName, LastName: u.LastName}
}

type pageJSON struct {
	Count    int     `json:"count"`
	NumPages int     `json:"num_pages"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  any     `json:"results"`
}
