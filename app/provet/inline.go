package provet

import (
	"context"
	"errors"
	"fmt"
)

// Kind names the kind of object a relation points to, for the inline check.
type Kind string

const (
	KindPatient     Kind = "patient"
	KindOwner       Kind = "client"
	KindReferral    Kind = "referral"
	KindAppointment Kind = "appointment"
	KindUser        Kind = "user"
	KindModality    Kind = "modality"
	KindTargetArea  Kind = "targetarea"
)

// inlineNeeds are the keys an inlined object must carry for the worklist
// entry a modality receives; the object's identity ("id" or "url") is always
// needed as well. A key present with null is fine: the value is known.
var inlineNeeds = map[Kind][]string{
	KindPatient:     {"name", "species", "breed", "gender", "date_of_birth", "client"},
	KindOwner:       {"firstname", "lastname", "organization_name", "customer_type"},
	KindAppointment: {"start"},
	KindUser:        {"first_name", "last_name"},
	KindModality:    {"name"},
	KindTargetArea:  {"name"},
}

// MissingInline lists the keys the inlined object of r lacks for kind, so
// that sync fetches it whole instead. A relation that was not inlined lacks
// everything: the answer is nil only for a usable inlined object. Provet
// says ?expose_ "will show some of the inner fields", and its example has
// no id.
func (m *Mapping) MissingInline(kind Kind, r Ref) []string {
	if r.Inline == nil {
		return []string{"(not inlined)"}
	}
	o, err := parseObject(r.Inline)
	if err != nil {
		return []string{"(not an object)"}
	}
	var missing []string
	_, hasID := o["id"]
	_, hasURL := o["url"]
	if !hasID && !hasURL {
		missing = append(missing, "id")
	}
	needs := inlineNeeds[kind]
	if kind == KindReferral {
		k := m.Referral
		needs = nonEmpty(k.Remarks, k.Urgent, k.Appointment)
	}
	for _, key := range needs {
		if _, ok := o[key]; !ok {
			missing = append(missing, key)
		}
	}
	return missing
}

// InlineUsable reports whether r's inlined object can be used as it is.
func (m *Mapping) InlineUsable(kind Kind, r Ref) bool { return len(m.MissingInline(kind, r)) == 0 }

func nonEmpty(keys ...string) []string {
	var out []string
	for _, k := range keys {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}

// ErrNoPatient: an order names no patient and its consultation does not say
// which one it is.
var ErrNoPatient = errors.New("the order names no patient")

// PatientOf returns the patient of a worklist order: the inlined patient when
// it carries what the modality needs, else the patient detail, else, for an
// order without a patient link, the patient of its consultation read through
// consultation/<id>/?expose_patients as Provet's RIS guide does. A
// consultation with several patients cannot say which is meant:
// ErrNoPatient.
func (c *Client) PatientOf(ctx context.Context, it *WorklistItem) (*Patient, error) {
	if c.mapping.InlineUsable(KindPatient, it.Patient) {
		if p, err := DecodePatient(it.Patient.Inline); err == nil && p.ID > 0 {
			return p, nil
		}
	}
	if it.Patient.ID > 0 {
		return c.Patient(ctx, it.Patient.ID)
	}
	if it.Consultation.ID <= 0 {
		return nil, fmt.Errorf("order %d: %w and no consultation: check mapping worklist.patient and worklist.consultation", it.ID, ErrNoPatient)
	}
	return c.ConsultationPatient(ctx, it.Consultation.ID)
}

// ConsultationPatient reads the one patient of a consultation through
// ?expose_patients, fetching it whole when the inlined copy lacks keys.
func (c *Client) ConsultationPatient(ctx context.Context, consultationID int64) (*Patient, error) {
	cons, err := c.Consultation(ctx, consultationID)
	if err != nil {
		return nil, err
	}
	if n := len(cons.PatientRefs); n != 1 {
		return nil, fmt.Errorf("consultation %d has %d patients, so the order's patient is unknown: %w; ask Provet support how orders name their patient", consultationID, n, ErrNoPatient)
	}
	ref := cons.PatientRefs[0]
	if len(cons.Patients) == 1 {
		ref.Inline = cons.Patients[0].Raw
		if c.mapping.InlineUsable(KindPatient, ref) && cons.Patients[0].ID > 0 {
			return cons.Patients[0], nil
		}
	}
	if ref.ID <= 0 {
		return nil, fmt.Errorf("consultation %d: its patient has neither id nor URL: %w", consultationID, ErrNoPatient)
	}
	return c.Patient(ctx, ref.ID)
}
