// Package records is the local worklist repository: what the store keeps for
// each referral, the in-memory index the DICOM server answers from, and every
// question the rest of VetBridge asks of them (one order, one day, the open
// Provet orders, the order an MPPS step performed, what retention removes).
// It is the one place that pairs the store's bytes with their decoding.
package records

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// Sources of a record.
const (
	SourceProvet = "provet" // synced from Provet Cloud
	SourceImport = "import" // read from a .wl file
)

// Record is what the store keeps for one referral: the worklist item the
// modalities receive, plus what the technician sees and what sync needs to
// recognise the referral in Provet again. The JSON names are the stored
// format: renaming one loses data on upgrade.
type Record struct {
	Item           worklist.Item `json:"item"`
	Source         string        `json:"source"` // SourceProvet or SourceImport
	ProvetID       int           `json:"provet_id,omitempty"`
	ProvetStatus   string        `json:"provet_status,omitempty"` // raw value, as configured
	ProvetState    string        `json:"provet_state,omitempty"`  // what the mapping made of it: requested, in_progress, ...
	ProvetModified time.Time     `json:"provet_modified,omitzero"`
	PetName        string        `json:"pet_name,omitempty"`
	OwnerName      string        `json:"owner_name,omitempty"`
	RequestingVet  string        `json:"requesting_vet,omitempty"`
	Exam           string        `json:"exam,omitempty"`
	Remarks        string        `json:"remarks,omitempty"`
	Arrived        time.Time     `json:"arrived"`
	Audit          []AuditEntry  `json:"audit,omitempty"`
}

// Encode is the stored form of r.
func (r Record) Encode() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode worklist record %s: %w", r.Item.Key, err)
	}
	return b, nil
}

// Decode reads a stored record.
func Decode(b []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("decode worklist record: %w", err)
	}
	return r, nil
}

// OnWorklist says whether modalities should be offered the item: orders
// Provet completed or cancelled have left the worklist, although the
// technician still sees them in the window until retention removes them.
func (r Record) OnWorklist() bool { return onWorklist(r.ProvetState) }

// Waiting says whether the referral is scheduled and not yet started: what
// the status line counts.
func (r Record) Waiting() bool { return waiting(r.ProvetState, r.Item.SPSStatus) }

func onWorklist(provetState string) bool {
	switch provetState {
	case provet.StatusCompleted.String(), provet.StatusCancelled.String():
		return false
	}
	return true
}

func waiting(provetState, spsStatus string) bool {
	return onWorklist(provetState) && (spsStatus == "" || spsStatus == "SCHEDULED")
}

// Scheduled is the step's start in local time; zero when undated.
func (r Record) Scheduled() time.Time {
	d, t := r.Item.StartDate, r.Item.StartTime
	if len(d) != 8 {
		return time.Time{}
	}
	for len(t) < 6 {
		t += "0"
	}
	v, err := time.ParseInLocation("20060102150405", d+t[:6], time.Local)
	if err != nil {
		return time.Time{}
	}
	return v
}

// AuditEntry records one status change made from this side: which device
// (calling AE, address) or which technician, when, from what to what.
type AuditEntry struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	From string    `json:"from"`
	To   string    `json:"to"`
}
