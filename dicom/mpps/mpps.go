// Package mpps is the Modality Performed Procedure Step model (PS3.4 Annex F):
// it validates N-CREATE and N-SET data sets from a modality, keeps the
// performed step's state machine (IN PROGRESS → COMPLETED or DISCONTINUED), and
// says which worklist order a step belongs to. Where the status goes (store,
// outbox, Provet) is the caller's business.
//
// Create and Set return a *Failure instead of an error: it carries the DIMSE
// status, error ID and offending tags the server puts in its response.
package mpps

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// SOPClassUID is the Modality Performed Procedure Step SOP Class.
const SOPClassUID = "1.2.840.10008.3.1.2.3.3"

// DIMSE statuses used by the MPPS SCP (PS3.7 Annex C, PS3.4 F.7.2).
const (
	StatusSuccess               uint16 = 0x0000
	StatusNoSuchAttribute       uint16 = 0x0105
	StatusInvalidAttributeValue uint16 = 0x0106
	StatusProcessingFailure     uint16 = 0x0110
	StatusDuplicateInstance     uint16 = 0x0111
	StatusNoSuchInstance        uint16 = 0x0112
	StatusInvalidObjectInstance uint16 = 0x0117
	StatusMissingAttribute      uint16 = 0x0120
	StatusMissingAttributeValue uint16 = 0x0121
)

// ErrorIDNotUpdatable goes with StatusProcessingFailure when an N-SET targets a
// step that is already COMPLETED or DISCONTINUED (PS3.4 F.7.2.2.2: "Performed
// Procedure Step Object may no longer be updated").
const ErrorIDNotUpdatable uint16 = 0xA710

// Performed Procedure Step Status values.
const (
	InProgress   = "IN PROGRESS"
	Completed    = "COMPLETED"
	Discontinued = "DISCONTINUED"
)

// ScheduledStepRef is one item of the Scheduled Step Attributes Sequence: the
// worklist entry the modality performed, as it echoed it back.
type ScheduledStepRef struct {
	StudyInstanceUID     string `json:"study_instance_uid"`
	AccessionNumber      string `json:"accession_number,omitempty"`
	RequestedProcedureID string `json:"requested_procedure_id,omitempty"`
	SPSID                string `json:"sps_id,omitempty"`
}

// Step is a performed procedure step instance.
type Step struct {
	SOPInstanceUID        string             `json:"sop_instance_uid"`
	Status                string             `json:"status"`
	PPSID                 string             `json:"pps_id"`
	PerformedStationAE    string             `json:"performed_station_ae"`
	PerformedStationName  string             `json:"performed_station_name,omitempty"`
	Modality              string             `json:"modality,omitempty"`
	StartDate             string             `json:"start_date"`
	StartTime             string             `json:"start_time"`
	EndDate               string             `json:"end_date,omitempty"`
	EndTime               string             `json:"end_time,omitempty"`
	PatientID             string             `json:"patient_id,omitempty"`
	PatientName           string             `json:"patient_name,omitempty"`
	Description           string             `json:"description,omitempty"`
	DiscontinuationReason string             `json:"discontinuation_reason,omitempty"`
	ScheduledSteps        []ScheduledStepRef `json:"scheduled_steps"`
	Created               time.Time          `json:"created"`
	Updated               time.Time          `json:"updated"`
}

// Final reports whether the step can no longer change.
func (s Step) Final() bool { return s.Status == Completed || s.Status == Discontinued }

// Failure is a refused N-CREATE or N-SET. It implements error for logging;
// test the returned *Failure against nil before storing it in an error
// variable, or a nil *Failure becomes a non-nil error. Its text never contains
// attribute values, only tags.
type Failure struct {
	Status uint16
	// ErrorID is the Error ID (0000,0903), zero when there is none.
	ErrorID uint16
	// Comment is for the Error Comment (0000,0902): ASCII, at most 64 characters.
	Comment string
	// Tags lists the offending attributes, (group<<16 | element), for the
	// Attribute Identifier List (0000,1005).
	Tags []uint32
}

func (f *Failure) Error() string {
	s := fmt.Sprintf("MPPS status 0x%04X: %s", f.Status, f.Comment)
	if f.ErrorID != 0 {
		s += fmt.Sprintf(" (error ID 0x%04X)", f.ErrorID)
	}
	for _, t := range f.Tags {
		s += fmt.Sprintf(" (%04X,%04X)", t>>16, t&0xFFFF)
	}
	return s
}

func fail(status uint16, comment string, tags ...tag.Tag) *Failure {
	if len(comment) > 64 {
		comment = comment[:64]
	}
	f := &Failure{Status: status, Comment: comment}
	for _, t := range tags {
		f.Tags = append(f.Tags, tagID(t))
	}
	return f
}

func tagID(t tag.Tag) uint32 { return uint32(t.Group)<<16 | uint32(t.Element) }

// NoSuchInstance is the answer to an N-SET for an instance the caller does not
// know.
func NoSuchInstance() *Failure {
	return fail(StatusNoSuchInstance, "no such MPPS instance")
}

// NewUID returns a fresh UID under the 2.25 root (PS3.5 B.2): the decimal form
// of a random (version 4) UUID, at most 44 characters.
func NewUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails since Go 1.24; it aborts the program instead
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return "2.25." + new(big.Int).SetBytes(b[:]).String()
}

// validUID checks PS3.5 9.1 loosely: digits and single dots, 64 characters at
// most. Leading zeros are tolerated; real modalities emit them.
func validUID(u string) bool {
	if u == "" || len(u) > 64 || u[0] == '.' || u[len(u)-1] == '.' || strings.Contains(u, "..") {
		return false
	}
	for i := 0; i < len(u); i++ {
		if (u[i] < '0' || u[i] > '9') && u[i] != '.' {
			return false
		}
	}
	return true
}

func validDate(d string) bool {
	if len(d) != 8 {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}

// validTime accepts HH[MM[SS[.F{1,6}]]] and, leniently, the old HH:MM:SS form.
func validTime(t string) bool {
	if len(t) < 2 || len(t) > 16 || t[0] < '0' || t[0] > '2' || t[1] < '0' || t[1] > '9' {
		return false
	}
	for i := 2; i < len(t); i++ {
		c := t[i]
		if (c < '0' || c > '9') && c != '.' && c != ':' {
			return false
		}
	}
	return true
}

// normStatus upper-cases and trims a status; modalities have been seen to
// send "completed".
func normStatus(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// Attributes read from MPPS data sets.
var (
	tagSSAS        = tag.ScheduledStepAttributesSequence
	tagPPSID       = tag.PerformedProcedureStepID
	tagStationAE   = tag.PerformedStationAETitle
	tagStationName = tag.PerformedStationName
	tagStartDate   = tag.PerformedProcedureStepStartDate
	tagStartTime   = tag.PerformedProcedureStepStartTime
	tagEndDate     = tag.PerformedProcedureStepEndDate
	tagEndTime     = tag.PerformedProcedureStepEndTime
	tagStatus      = tag.PerformedProcedureStepStatus
	tagDescription = tag.PerformedProcedureStepDescription
	tagDiscReason  = tag.PerformedProcedureStepDiscontinuationReasonCodeSequence
	tagModality    = tag.Modality
	tagPatientName = tag.PatientName
	tagPatientID   = tag.PatientID
	tagStudyUID    = tag.StudyInstanceUID
	tagAccession   = tag.AccessionNumber
	tagReqProcID   = tag.RequestedProcedureID
	tagSPSID       = tag.ScheduledProcedureStepID
	tagCodeMeaning = tag.CodeMeaning
	createRequired = []tag.Tag{tagPPSID, tagStationAE, tagStartDate, tagStartTime, tagStatus, tagSSAS}
	nsetNotAllowed = []tag.Tag{tagSSAS, tagPatientName, tagPatientID, tagPPSID, tagStationAE, tagStationName, tagStartDate, tagStartTime, tagModality}
)

// decodeFailureMsg deliberately carries no detail: parser messages can quote
// element values, which may be patient data, and the comment is often logged.
const decodeFailureMsg = "cannot decode the data set"

func refs(e *dicom.Element) []ScheduledStepRef {
	var out []ScheduledStepRef
	for _, it := range items(e) {
		out = append(out, ScheduledStepRef{
			StudyInstanceUID:     str(it[tagStudyUID]),
			AccessionNumber:      str(it[tagAccession]),
			RequestedProcedureID: str(it[tagReqProcID]),
			SPSID:                str(it[tagSPSID]),
		})
	}
	return out
}

// Create validates an N-CREATE (PS3.4 F.7.2.1) and returns the new step. uid is
// the Affected SOP Instance UID; empty means the SCP assigns one, found in the
// returned step's SOPInstanceUID. existing tells whether the caller already
// holds an instance with that UID.
//
// Checks, in order: duplicate (0x0111), UID syntax (0x0117), decoding (0x0110),
// absent Type 1 attributes (0x0120), present but empty ones (0x0121), and
// values: the status must be IN PROGRESS, dates and times well formed
// (0x0106). Each refusal lists every offending tag of its kind. Modality,
// patient and the other attributes are taken as sent, not required: refusing
// an exam over them would only lose its status update.
func Create(uid string, data []byte, bigEndian, implicit bool, existing bool) (Step, *Failure) {
	if existing {
		return Step{}, fail(StatusDuplicateInstance, "MPPS instance already exists")
	}
	if uid == "" {
		uid = NewUID()
	} else if !validUID(uid) {
		return Step{}, fail(StatusInvalidObjectInstance, "invalid SOP instance UID")
	}
	els, err := decode(data, bigEndian, implicit)
	if err != nil {
		return Step{}, fail(StatusProcessingFailure, decodeFailureMsg)
	}

	var missing, empty []tag.Tag
	for _, t := range createRequired {
		e, ok := els[t]
		switch {
		case !ok:
			missing = append(missing, t)
		case t == tagSSAS:
			if len(items(e)) == 0 {
				empty = append(empty, t)
			}
		case str(e) == "":
			empty = append(empty, t)
		}
	}
	steps := refs(els[tagSSAS])
	// Study Instance UID is Type 1 inside every item (F.7.2.1, Table F.7.2-1),
	// even for an unscheduled exam.
	for _, it := range items(els[tagSSAS]) {
		e, ok := it[tagStudyUID]
		if !ok && !slices.Contains(missing, tagStudyUID) {
			missing = append(missing, tagStudyUID)
		} else if ok && str(e) == "" && !slices.Contains(empty, tagStudyUID) {
			empty = append(empty, tagStudyUID)
		}
	}
	if len(missing) > 0 {
		return Step{}, fail(StatusMissingAttribute, "missing required attribute", missing...)
	}
	if len(empty) > 0 {
		return Step{}, fail(StatusMissingAttributeValue, "required attribute has no value", empty...)
	}

	s := Step{
		SOPInstanceUID:       uid,
		Status:               normStatus(str(els[tagStatus])),
		PPSID:                str(els[tagPPSID]),
		PerformedStationAE:   str(els[tagStationAE]),
		PerformedStationName: str(els[tagStationName]),
		Modality:             strings.ToUpper(str(els[tagModality])),
		StartDate:            str(els[tagStartDate]),
		StartTime:            str(els[tagStartTime]),
		EndDate:              str(els[tagEndDate]),
		EndTime:              str(els[tagEndTime]),
		PatientID:            str(els[tagPatientID]),
		PatientName:          str(els[tagPatientName]),
		Description:          str(els[tagDescription]),
		ScheduledSteps:       steps,
	}
	var bad []tag.Tag
	if s.Status != InProgress {
		bad = append(bad, tagStatus)
	}
	bad = append(bad, badTimes(s)...)
	if len(bad) > 0 {
		if bad[0] == tagStatus {
			return Step{}, fail(StatusInvalidAttributeValue, "N-CREATE status must be IN PROGRESS", bad...)
		}
		return Step{}, fail(StatusInvalidAttributeValue, "malformed date or time", bad...)
	}
	s.Created = time.Now().UTC()
	s.Updated = s.Created
	return s, nil
}

func badTimes(s Step) []tag.Tag {
	var bad []tag.Tag
	if !validDate(s.StartDate) {
		bad = append(bad, tagStartDate)
	}
	if !validTime(s.StartTime) {
		bad = append(bad, tagStartTime)
	}
	if s.EndDate != "" && !validDate(s.EndDate) {
		bad = append(bad, tagEndDate)
	}
	if s.EndTime != "" && !validTime(s.EndTime) {
		bad = append(bad, tagEndTime)
	}
	return bad
}

// identity reports whether an N-SET's value for a Not Allowed attribute
// differs from the step's.
func identityChanged(t tag.Tag, e *dicom.Element, cur Step) bool {
	switch t {
	case tagSSAS:
		return !slices.Equal(refs(e), cur.ScheduledSteps)
	case tagPatientName:
		return str(e) != cur.PatientName
	case tagPatientID:
		return str(e) != cur.PatientID
	case tagPPSID:
		return str(e) != cur.PPSID
	case tagStationAE:
		return str(e) != cur.PerformedStationAE
	case tagStationName:
		return str(e) != cur.PerformedStationName
	case tagStartDate:
		return str(e) != cur.StartDate
	case tagStartTime:
		return str(e) != cur.StartTime
	case tagModality:
		return !strings.EqualFold(str(e), cur.Modality)
	}
	return false
}

// Set applies an N-SET (PS3.4 F.7.2.2) to cur and returns the updated step.
// The caller answers StatusNoSuchInstance itself (see NoSuchInstance) when it
// has no step for the Requested SOP Instance UID.
//
// A step that is already COMPLETED or DISCONTINUED refuses any change with
// 0x0110 and error ID 0xA710. The attributes Table F.7.2-1 marks "Not allowed"
// in N-SET (the Scheduled Step Attributes Sequence, patient name and ID, PPS
// ID, performed station, start date and time, modality) are the step's
// identity: a value that differs from the stored one is refused with 0x0105 No
// such attribute, listing the tags, because the attribute is not one N-SET
// may carry (PS3.7 gives 0x0105 for an attribute the SCP does not accept in
// the request, 0x0106 for an accepted attribute with an unacceptable value).
// An identical value is accepted, since some modalities resend the whole data
// set. A status other than the three defined terms (case-insensitive) or a
// malformed end date or time is 0x0106; an empty status 0x0121.
//
// On the final N-SET, PS3.4 expects End Date and End Time; when a modality
// leaves them out they are filled from the SCP's clock rather than refusing
// the step, which would leave the order open forever.
func Set(cur Step, data []byte, bigEndian, implicit bool) (Step, *Failure) {
	if cur.Final() {
		f := fail(StatusProcessingFailure, "MPPS instance is "+cur.Status+" and may no longer be updated")
		f.ErrorID = ErrorIDNotUpdatable
		return cur, f
	}
	els, err := decode(data, bigEndian, implicit)
	if err != nil {
		return cur, fail(StatusProcessingFailure, decodeFailureMsg)
	}
	var changed []tag.Tag
	for _, t := range nsetNotAllowed {
		if e, ok := els[t]; ok && identityChanged(t, e, cur) {
			changed = append(changed, t)
		}
	}
	if len(changed) > 0 {
		return cur, fail(StatusNoSuchAttribute, "N-SET may not change the step's identity", changed...)
	}

	next := cur
	next.ScheduledSteps = slices.Clone(cur.ScheduledSteps)
	if e, ok := els[tagStatus]; ok {
		st := normStatus(str(e))
		switch st {
		case "":
			return cur, fail(StatusMissingAttributeValue, "status has no value", tagStatus)
		case InProgress, Completed, Discontinued:
			next.Status = st
		default:
			return cur, fail(StatusInvalidAttributeValue, "status must be IN PROGRESS, COMPLETED or DISCONTINUED", tagStatus)
		}
	}
	if e, ok := els[tagDescription]; ok {
		next.Description = str(e)
	}
	if e, ok := els[tagEndDate]; ok {
		next.EndDate = str(e)
	}
	if e, ok := els[tagEndTime]; ok {
		next.EndTime = str(e)
	}
	if e, ok := els[tagDiscReason]; ok {
		next.DiscontinuationReason = ""
		if its := items(e); len(its) > 0 {
			next.DiscontinuationReason = str(its[0][tagCodeMeaning])
		}
	}
	var bad []tag.Tag
	if next.EndDate != "" && !validDate(next.EndDate) {
		bad = append(bad, tagEndDate)
	}
	if next.EndTime != "" && !validTime(next.EndTime) {
		bad = append(bad, tagEndTime)
	}
	if len(bad) > 0 {
		return cur, fail(StatusInvalidAttributeValue, "malformed end date or time", bad...)
	}
	now := time.Now()
	if next.Final() {
		if next.EndDate == "" {
			next.EndDate = now.Format("20060102")
		}
		if next.EndTime == "" {
			next.EndTime = now.Format("150405")
		}
	}
	next.Updated = now.UTC()
	return next, nil
}

// LinkField names the order attribute a Ref matches.
type LinkField string

// The fields Link uses, strongest first.
const (
	LinkSPSID     LinkField = "sps_id"
	LinkAccession LinkField = "accession_number"
	LinkStudyUID  LinkField = "study_instance_uid"
)

// Ref is one way to find the order a step belongs to.
type Ref struct {
	Field LinkField
	Value string
}

// Link returns the references to try, in order, to find the worklist orders a
// step performed: every Scheduled Procedure Step ID first (it names the
// exact step we served), then Accession Numbers (stable per order even if the
// modality rewrote the step ID), then Study Instance UIDs (we put them on the
// worklist, but a modality may mint its own). Duplicates are dropped; a step
// that performed several orders yields references for each.
//
// An unscheduled exam (PS3.4 F.7.2.1.1: no SPS ID, accession number or
// requested procedure ID in any item) yields nil even though it carries a
// Study Instance UID: that UID was minted by the modality and can match no
// order.
func Link(s Step) []Ref {
	if s.Unscheduled() {
		return nil
	}
	var out []Ref
	add := func(f LinkField, v string) {
		if v == "" || slices.Contains(out, Ref{f, v}) {
			return
		}
		out = append(out, Ref{f, v})
	}
	for _, r := range s.ScheduledSteps {
		add(LinkSPSID, r.SPSID)
	}
	for _, r := range s.ScheduledSteps {
		add(LinkAccession, r.AccessionNumber)
	}
	for _, r := range s.ScheduledSteps {
		add(LinkStudyUID, r.StudyInstanceUID)
	}
	return out
}

// Unscheduled reports whether the step was performed without a worklist entry.
func (s Step) Unscheduled() bool {
	for _, r := range s.ScheduledSteps {
		if r.SPSID != "" || r.AccessionNumber != "" || r.RequestedProcedureID != "" {
			return false
		}
	}
	return true
}
