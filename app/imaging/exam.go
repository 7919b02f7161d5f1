package imaging

import (
	"fmt"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/app/pacs"
	"github.com/vetbridge/vetbridge/dicom/mpps"
)

// Sources of an unmatched exam.
const (
	SourcePACS = "pacs" // a study in the PACS that no referral claims
	SourceMPPS = "mpps" // a performed step that named no open order
)

// Exam is one exam that belongs to no referral: a PACS study or an MPPS
// step. The JSON names are the stored format.
type Exam struct {
	ID          string    `json:"id"` // "pacs:<study uid>" or "mpps:<sop instance uid>"
	Source      string    `json:"source"`
	Accession   string    `json:"accession,omitempty"`
	PatientID   string    `json:"patient_id,omitempty"`
	PatientName string    `json:"patient_name,omitempty"` // DICOM PN form
	Date        string    `json:"date,omitempty"`         // YYYYMMDD
	Time        string    `json:"time,omitempty"`
	Modalities  []string  `json:"modalities,omitempty"`
	Device      string    `json:"device,omitempty"` // the modality that sent the step ("AE, address")
	StudyUID    string    `json:"study_uid,omitempty"`
	Series      int       `json:"series,omitempty"`
	Instances   int       `json:"instances,omitempty"`
	Seen        time.Time `json:"seen"` // first noticed
}

// ExamFromStudy is a PACS study as an unmatched exam.
func ExamFromStudy(s pacs.Study, seen time.Time) Exam {
	return Exam{
		ID: SourcePACS + ":" + s.UID, Source: SourcePACS, Accession: s.Accession, PatientID: s.PatientID,
		PatientName: s.PatientName, Date: s.Date, Time: s.Time, Modalities: s.Modalities, StudyUID: s.UID,
		Series: s.Series, Instances: s.Instances, Seen: seen,
	}
}

// ExamFromStep is an MPPS step no open order took, as an unmatched exam;
// by names the device that sent it.
func ExamFromStep(st mpps.Step, by string, seen time.Time) Exam {
	e := Exam{
		ID: SourceMPPS + ":" + st.SOPInstanceUID, Source: SourceMPPS, PatientID: st.PatientID,
		PatientName: st.PatientName, Date: st.StartDate, Time: st.StartTime, Device: by, Seen: seen,
	}
	if st.Modality != "" {
		e.Modalities = []string{st.Modality}
	}
	for _, ref := range st.ScheduledSteps {
		e.Accession = cmpOr(e.Accession, ref.AccessionNumber)
		e.StudyUID = cmpOr(e.StudyUID, ref.StudyInstanceUID)
	}
	return e
}

// Study is the exam as a PACS study, for counting a linked exam's images.
func (e Exam) Study() pacs.Study {
	return pacs.Study{
		UID: e.StudyUID, Accession: e.Accession, PatientID: e.PatientID, PatientName: e.PatientName,
		Date: e.Date, Time: e.Time, Modalities: e.Modalities, Series: e.Series, Instances: e.Instances,
	}
}

// Modality is the exam's modalities as one field ("CR", `CR\DX`).
func (e Exam) Modality() string { return strings.Join(e.Modalities, `\`) }

// Line is what `vetbridge unmatched` prints for the exam:
// "ACCESSION patient_id=P date=YYYYMMDD modality=M source=S ..." with the
// study UID for a PACS study and the device and step for an MPPS step.
func (e Exam) Line() string {
	if e.Source == SourcePACS {
		return e.Study().UnmatchedLine()
	}
	uid, _ := strings.CutPrefix(e.ID, SourceMPPS+":")
	return fmt.Sprintf("%s patient_id=%s date=%s modality=%s source=%s device=%s step=%s",
		field(e.Accession), field(e.PatientID), field(e.Date), field(e.Modality()), e.Source, field(e.Device), field(uid))
}

// field keeps a line's fields apart, as pacs' lines do: "-" for nothing,
// quotes around values with spaces or separators.
func field(s string) string {
	switch {
	case s == "":
		return "-"
	case strings.ContainsAny(s, " \t\"=") || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 }):
		return fmt.Sprintf("%q", s)
	}
	return s
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
