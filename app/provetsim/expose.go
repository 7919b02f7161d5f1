package provetsim

import (
	"encoding/json"
	"net/url"
	"slices"
)

// exposeKeys are the worklist relations the simulator inlines on request
// (?expose_<key>), as Provet documents for its API in general. Whether the
// real worklist endpoint honours each one is unpublished, so clients must
// treat inlining as an optimisation; "appointment" inlines the appointment
// inside an inlined referral.
var exposeKeys = []string{"patient", "client", "referral", "appointment", "requesting_user",
	"supervising_veterinarian", "modality", "target_areas"}

func (r renderer) exposeSet(q url.Values) map[string]bool {
	if r.q.IgnoreExpose {
		return nil
	}
	var set map[string]bool
	for _, k := range exposeKeys {
		if _, ok := q["expose_"+k]; ok && !slices.Contains(r.q.IgnoreExposeOf, k) {
			if set == nil {
				set = map[string]bool{}
			}
			set[k] = true
		}
	}
	return set
}

// exposedWorklist renders one worklist item with the requested relations
// inlined. It runs with s.mu held.
func (r renderer) exposedWorklist(d *dataset, w *worklistItem, ex map[string]bool) any {
	base := r.worklist(w)
	if len(ex) == 0 {
		return base
	}
	b, err := json.Marshal(base)
	if err != nil {
		return base
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return base
	}
	if p := d.patients[w.PatientID]; ex["patient"] && p != nil && !r.q.OmitPatientLink {
		m["patient"] = r.inline(r.patient(p), "url", "name", "client")
	}
	if c := d.clients[w.ClientID]; ex["client"] && c != nil {
		m["client"] = r.inline(r.client(c, d.patientIDsOf(c.ID)), "url", "firstname", "lastname")
	}
	if ref := d.referrals[w.ReferralID]; ex["referral"] && ref != nil {
		rj := r.referral(ref)
		if a := d.appointments[ref.AppointmentID]; ex["appointment"] && a != nil {
			var rm map[string]any
			if b, err := json.Marshal(rj); err == nil && json.Unmarshal(b, &rm) == nil {
				rm["appointment"] = r.inline(r.appointment(a), "url", "start")
				m["referral"] = r.inline(rm, "url", "remarks", "appointment")
			}
		} else {
			m["referral"] = r.inline(rj, "url", "remarks", "appointment")
		}
	}
	if u := d.users[w.RequestingUserID]; ex["requesting_user"] && u != nil {
		m["requesting_user"] = r.inline(r.user(u), "url", "first_name", "last_name")
	}
	if u := d.users[w.SupervisingVetID]; ex["supervising_veterinarian"] && u != nil {
		m["supervising_veterinarian"] = r.inline(r.user(u), "url", "first_name", "last_name")
	}
	if ex["modality"] {
		for _, n := range d.modalities {
			if n.ID == w.ModalityID {
				m["modality"] = r.inline(namedJSON{ID: n.ID, URL: r.url("modality", n.ID), Name: n.Name}, "url", "name")
			}
		}
	}
	if ex["target_areas"] {
		var areas []any
		for _, id := range w.TargetAreaIDs {
			for _, n := range d.targetAreas {
				if n.ID == id {
					areas = append(areas, r.inline(namedJSON{ID: n.ID, URL: r.url("targetarea", n.ID), Name: n.Name}, "url", "name"))
				}
			}
		}
		m["target_areas"] = areas
	}
	return m
}

// patientIDsOf lists a client's patients in id order.
func (d *dataset) patientIDsOf(clientID int) []int {
	var pids []int
	for _, p := range d.patients {
		if p.ClientID == clientID {
			pids = append(pids, p.ID)
		}
	}
	slices.Sort(pids)
	return pids
}

// inline is an exposed object: whole, or with Quirks.PartialExpose only the
// named inner fields (never "id"), as Provet's documented example shows.
func (r renderer) inline(v any, keep ...string) any {
	if !r.q.PartialExpose {
		return v
	}
	m, ok := v.(map[string]any)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil || json.Unmarshal(b, &m) != nil {
			return v
		}
	}
	out := make(map[string]any, len(keep))
	for _, k := range keep {
		if x, ok := m[k]; ok {
			out[k] = x
		}
	}
	return out
}
