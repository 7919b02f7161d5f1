package records

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"

	"github.com/vetbridge/vetbridge/dicom/worklist"
	"github.com/vetbridge/vetbridge/store"
)

// startView is the part of a stored record that Open needs: the item the
// index serves and what decides whether it is on the worklist and waiting.
// Decoding only this leaves the technician's fields (names, remarks, the
// audit trail) unallocated; they are read from the store when asked for.
type startView struct {
	Item        worklist.Item `json:"item"`
	ProvetState string        `json:"provet_state"`
}

// loaded is one stored record as Open found it.
type loaded struct {
	key  string
	view startView
	err  error
}

// loadAll decodes every stored record, on as many cores as the process
// may use: decoding is most of the time between start and the first
// answer to a modality, and the store hands the records over all at once.
// Each record's bytes are dropped as soon as it is decoded, so the peak
// stays near one copy of the database's items rather than two.
func loadAll(st *store.Store) ([]loaded, error) {
	var raw []store.Item
	if err := st.AllItems(func(si store.Item) error {
		raw = append(raw, si)
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]loaded, len(raw))
	workers := min(runtime.GOMAXPROCS(0), max(len(raw)/256, 1))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			in := newInterner()
			for i := w; i < len(raw); i += workers {
				out[i].key = raw[i].Key
				if err := json.Unmarshal(raw[i].Data, &out[i].view); err != nil {
					out[i].err = fmt.Errorf("decode worklist record: %w", err)
				} else {
					in.item(&out[i].view.Item)
				}
				raw[i].Data = nil
			}
		})
	}
	wg.Wait()
	return out, nil
}

// interner makes equal strings share one copy. Across a clinic's worklist
// most fields repeat (modality, station, status, species, breed, vets, the
// same animal's name and birth date on each of its orders), and the index
// keeps every item for as long as VetBridge runs.
type interner map[string]string

func newInterner() interner { return interner{} }

func (in interner) s(p *string) {
	if *p == "" {
		return
	}
	if v, ok := in[*p]; ok {
		*p = v
		return
	}
	in[*p] = *p
}

// item interns the fields that repeat between items; identifiers unique to
// one order (key, accession, procedure and step IDs, study UID) would only
// grow the map.
func (in interner) item(it *worklist.Item) {
	for _, p := range []*string{
		&it.PatientName, &it.PatientID, &it.PatientBirthDate, &it.PatientSex, &it.PatientSexNeutered,
		&it.SpeciesDescription, &it.BreedDescription, &it.ResponsiblePerson, &it.ResponsiblePersonRole,
		&it.ResponsibleOrganization, &it.PatientComments, &it.RequestedProcedureDescription,
		&it.RequestedProcedurePriority, &it.RequestedProcedureComments, &it.ReferringPhysician,
		&it.RequestingPhysician, &it.StationAETitle, &it.StationName, &it.Modality, &it.StartDate,
		&it.StartTime, &it.PerformingPhysician, &it.SPSDescription, &it.SPSStatus, &it.SPSLocation,
	} {
		in.s(p)
	}
	for i := range it.OtherPatientIDs {
		in.s(&it.OtherPatientIDs[i])
	}
	for _, c := range []*worklist.Code{it.SpeciesCode, it.BreedCode, it.RequestedProcedureCode} {
		if c != nil {
			in.s(&c.Value)
			in.s(&c.Scheme)
			in.s(&c.Meaning)
		}
	}
}
