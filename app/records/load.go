package records

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"

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
				if err := decodeStart(raw[i].Data, &out[i].view); err != nil {
					out[i].err = fmt.Errorf("decode worklist record: %w", err)
				} else if onWorklist(out[i].view.ProvetState) {
					// Only items the index keeps are worth a copy that
					// lasts; a finished one's strings go with the load.
					in.item(&out[i].view.Item)
				}
				raw[i].Data = nil
			}
		})
	}
	wg.Wait()
	return out, nil
}

// interner makes equal strings share one copy, and copies every string
// the index keeps into large shared blocks. Across a clinic's worklist most
// fields repeat (modality, station, status, species, breed, vets, the same
// animal on each of its orders), and the index keeps every item for as long
// as VetBridge runs. The decoder allocates each string on its own, between
// its garbage; left there, the kept strings would pin most of the memory
// the load used, spread thinly over many runtime pages, long after it was
// freed.
type interner struct {
	seen  map[string]string
	block []byte // the unused tail of the current block
}

// internBlock is large enough that a worklist's strings take a few blocks,
// small enough that a block pinned by one surviving item wastes little.
const internBlock = 64 << 10

func newInterner() *interner { return &interner{seen: map[string]string{}} }

// copyOut returns s backed by the interner's current block. Blocks are
// written once, below their tail, and never again, so the strings that
// point into them never change.
func (in *interner) copyOut(s string) string {
	if len(s) > internBlock/4 {
		return strings.Clone(s)
	}
	if len(s) > len(in.block) {
		in.block = make([]byte, internBlock)
	}
	n := copy(in.block, s)
	out := unsafe.String(&in.block[0], n)
	in.block = in.block[n:]
	return out
}

// s makes *p the shared copy of its value.
func (in *interner) s(p *string) {
	if *p == "" {
		return
	}
	if v, ok := in.seen[*p]; ok {
		*p = v
		return
	}
	v := in.copyOut(*p)
	in.seen[v] = v
	*p = v
}

// own copies *p into a block without remembering it: for values unique to
// one order, which would only grow the map.
func (in *interner) own(p *string) {
	if *p != "" {
		*p = in.copyOut(*p)
	}
}

// item moves every string of it into the interner's blocks, sharing the
// values that repeat between items.
func (in *interner) item(it *worklist.Item) {
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
	for _, p := range []*string{
		&it.Key, &it.AccessionNumber, &it.RequestedProcedureID, &it.StudyInstanceUID, &it.AdmissionID, &it.SPSID,
	} {
		in.own(p)
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
