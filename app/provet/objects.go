package provet

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Provet's published objects. Their keys are documented or widely seen, so
// they are not part of the configurable mapping; they are still decoded
// leniently, since numbers arrive as strings on some fields.

// Patient is an animal.
type Patient struct {
	ID          int64
	URL         string
	Client      Ref // the owner
	Name        string
	Species     string // display text, e.g. "Dog (Canine - Domestic)"
	Breed       string
	Gender      string // display text: "Male", "Female", "Castrated male", "Sterilised female", "Unknown"
	SpeciesCode int64
	BreedCode   int64
	DateOfBirth time.Time // midnight UTC of the date; zero when unknown
	Weight      *float64  // kg; nil when unknown
	Microchip   string
	Deceased    bool
	Archived    bool
	Created     time.Time
	Modified    time.Time
	Raw         json.RawMessage
}

// Phone is one of a client's phone numbers.
type Phone struct {
	ID          int64
	Number      string
	Description string
}

// Owner is Provet's "client": the person or organisation owning a patient.
type Owner struct {
	ID               int64
	URL              string
	Title            string
	FirstName        string
	LastName         string
	OrganizationName string
	CustomerType     int64 // 0 person, 1 company, 2 EU company, 3 charity, 4 UK charity
	Email            string
	Phones           []Phone
	StreetAddress    string
	ZipCode          string
	City             string
	Patients         []Ref
	Created          time.Time
	Modified         time.Time
	Raw              json.RawMessage
}

// DisplayName is the organisation's name for organisations and
// "First Last" for people.
func (o *Owner) DisplayName() string {
	if o.CustomerType != 0 && o.OrganizationName != "" {
		return o.OrganizationName
	}
	n := strings.TrimSpace(o.FirstName + " " + o.LastName)
	if n == "" {
		return o.OrganizationName
	}
	return n
}

// User is a Provet user, such as the requesting veterinarian.
type User struct {
	ID        int64
	URL       string
	Email     string
	FirstName string
	LastName  string
	Raw       json.RawMessage
}

// FullName is "First Last".
func (u *User) FullName() string { return strings.TrimSpace(u.FirstName + " " + u.LastName) }

// Appointment is a booked time, such as the imaging slot of a referral.
type Appointment struct {
	ID    int64
	URL   string
	Start time.Time
	End   time.Time
	Raw   json.RawMessage
}

// Consultation is a visit; Patients holds the inlined patients when they were
// exposed and only relations otherwise.
type Consultation struct {
	ID          int64
	URL         string
	Client      Ref
	Status      int64 // 0 admitted, 8 in progress, 5 ready for discharge, 6 discharged, ...
	PatientRefs []Ref
	Patients    []*Patient
	Raw         json.RawMessage
}

// Named is an entry of a reference list such as modalities or target areas.
type Named struct {
	ID   int64
	URL  string
	Name string
}

func decodeWith[T any](raw []byte, what string, f func(d *decoder, v *T)) (*T, error) {
	o, err := parseObject(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	d := decoder{o: o}
	v := new(T)
	f(&d, v)
	if d.err != nil {
		return nil, fmt.Errorf("%s: %w", what, d.err)
	}
	return v, nil
}

// DecodePatient decodes a patient object.
func DecodePatient(raw []byte) (*Patient, error) {
	return decodeWith(raw, "patient", func(d *decoder, p *Patient) {
		p.ID = d.id("id", "url")
		p.URL = d.str("url")
		p.Client = d.ref("client")
		p.Name = d.str("name")
		p.Species = d.str("species")
		p.Breed = d.str("breed")
		p.Gender = d.str("gender")
		p.SpeciesCode = d.int("species_code")
		p.BreedCode = d.int("breed_code")
		p.DateOfBirth = d.time("date_of_birth")
		p.Weight = d.float("weight")
		p.Microchip = d.str("microchip")
		p.Deceased = deceased(d.o.get("deceased"))
		p.Archived = d.boolean("archived")
		p.Created = d.time("created")
		p.Modified = d.time("modified")
		p.Raw = slices.Clone(raw)
	})
}

// deceased accepts a boolean or a date of death: any non-empty, non-false
// value means the animal has died.
func deceased(v json.RawMessage) bool {
	if v == nil {
		return false
	}
	s, err := scalarText(v)
	if err != nil {
		return true
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "false", "0", "no":
		return false
	}
	return true
}

// DecodeOwner decodes a client object.
func DecodeOwner(raw []byte) (*Owner, error) {
	return decodeWith(raw, "client", func(d *decoder, c *Owner) {
		c.ID = d.id("id", "url")
		c.URL = d.str("url")
		c.Title = d.str("title")
		c.FirstName = d.str("firstname")
		c.LastName = d.str("lastname")
		c.OrganizationName = d.str("organization_name")
		c.CustomerType = d.int("customer_type")
		c.Email = d.str("email")
		if v := d.o.get("phone_numbers"); v != nil {
			var list []json.RawMessage
			if err := json.Unmarshal(v, &list); err != nil {
				d.fail(keyErr("phone_numbers", fmt.Errorf("expected a list, got %s", kindOf(v))))
			}
			for _, item := range list {
				po, err := parseObject(item)
				if err != nil {
					d.fail(keyErr("phone_numbers", err))
					break
				}
				pd := decoder{o: po}
				ph := Phone{ID: pd.int("id"), Number: pd.str("number"), Description: pd.str("description")}
				d.fail(pd.err)
				if ph.Number != "" {
					c.Phones = append(c.Phones, ph)
				}
			}
		}
		c.StreetAddress = d.str("street_address")
		c.ZipCode = d.str("zip_code")
		c.City = d.str("city")
		c.Patients = d.refs("patients")
		c.Created = d.time("created")
		c.Modified = d.time("modified")
		c.Raw = slices.Clone(raw)
	})
}

// DecodeUser decodes a user object.
func DecodeUser(raw []byte) (*User, error) {
	return decodeWith(raw, "user", func(d *decoder, u *User) {
		u.ID = d.id("id", "url")
		u.URL = d.str("url")
		u.Email = d.str("email")
		u.FirstName = d.str("first_name")
		u.LastName = d.str("last_name")
		u.Raw = slices.Clone(raw)
	})
}

// DecodeAppointment decodes an appointment object.
func DecodeAppointment(raw []byte) (*Appointment, error) {
	return decodeWith(raw, "appointment", func(d *decoder, a *Appointment) {
		a.ID = d.id("id", "url")
		a.URL = d.str("url")
		a.Start = d.time("start")
		a.End = d.time("end")
		a.Raw = slices.Clone(raw)
	})
}

// DecodeConsultation decodes a consultation, with or without exposed patients.
func DecodeConsultation(raw []byte) (*Consultation, error) {
	return decodeWith(raw, "consultation", func(d *decoder, c *Consultation) {
		c.ID = d.id("id", "url")
		c.URL = d.str("url")
		c.Client = d.ref("client")
		c.Status = d.int("status")
		c.Raw = slices.Clone(raw)
		v := d.o.get("patients")
		if v == nil {
			return
		}
		var list []json.RawMessage
		if err := json.Unmarshal(v, &list); err != nil {
			d.fail(keyErr("patients", fmt.Errorf("expected a list, got %s", kindOf(v))))
			return
		}
		for _, item := range list {
			if kindOf(item) == "object" {
				p, err := DecodePatient(item)
				if err != nil {
					d.fail(keyErr("patients", err))
					return
				}
				c.Patients = append(c.Patients, p)
				c.PatientRefs = append(c.PatientRefs, Ref{ID: p.ID, URL: p.URL, Name: p.Name})
				continue
			}
			r, err := decodeRef(item)
			if err != nil {
				d.fail(keyErr("patients", err))
				return
			}
			c.PatientRefs = append(c.PatientRefs, r)
		}
	})
}

func decodeNamed(raw []byte) (Named, error) {
	n, err := decodeWith(raw, "list entry", func(d *decoder, n *Named) {
		n.ID = d.id("id", "url")
		n.URL = d.str("url")
		n.Name = d.str("name")
	})
	if err != nil {
		return Named{}, err
	}
	return *n, nil
}
