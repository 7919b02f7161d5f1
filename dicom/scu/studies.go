package scu

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// StudyRootFind is the Study Root Query/Retrieve Information Model - FIND
// SOP class, which every PACS answers.
const StudyRootFind = "1.2.840.10008.5.1.4.1.2.2.1"

// QueryContexts proposes Verification and Study Root FIND, each with
// Explicit and Implicit VR Little Endian: what a PACS client needs.
func QueryContexts() []Context {
	ts := []string{dimse.ExplicitVRLittleEndian, dimse.ImplicitVRLittleEndian}
	return []Context{{dimse.VerificationSOPClass, ts}, {StudyRootFind, ts}}
}

// StudyQuery selects studies. Empty fields match everything; the PACS
// matches the others exactly (no wildcards are added).
type StudyQuery struct {
	StudyInstanceUID string
	AccessionNumber  string
	PatientID        string
	// StudyDate is one date (YYYYMMDD) or a range ("YYYYMMDD-YYYYMMDD").
	StudyDate string
}

// Count sources for Study.CountedAt.
const (
	CountedByStudy  = "study"  // the PACS returned (0020,1206) and (0020,1208)
	CountedBySeries = "series" // SERIES-level queries, summing (0020,1209)
	CountedByImage  = "image"  // IMAGE-level queries for series without (0020,1209)
)

// Study is one STUDY-level answer. Text is UTF-8 whatever character set
// the PACS used.
type Study struct {
	StudyInstanceUID string
	AccessionNumber  string
	PatientID        string
	PatientName      string // PN form: "Owner^Animal" for veterinary patients
	StudyDate        string // YYYYMMDD
	StudyTime        string // HHMMSS[.ffffff], as sent
	Modalities       []string
	Series           int
	Instances        int
	CountedAt        string // CountedByStudy, CountedBySeries or CountedByImage
}

// MaxStudies bounds the answers one FindStudies collects; a query matching
// more is cancelled and fails, so a broad query cannot exhaust memory.
const MaxStudies = 5000

// maxPerStudy bounds the series of one study and the instances of one
// series counted at the lower levels.
const maxPerStudy = 100000

// FindStudies runs a STUDY-level Study Root C-FIND. When the PACS leaves
// out the number of related series or instances, it counts them with
// SERIES-level queries per study, and IMAGE-level ones for series that do
// not carry their own count. The association must have accepted
// StudyRootFind (see QueryContexts).
func (a *Assoc) FindStudies(ctx context.Context, q StudyQuery) ([]Study, error) {
	keys := []string{
		"QueryRetrieveLevel=STUDY",
		"StudyInstanceUID=" + q.StudyInstanceUID,
		"AccessionNumber=" + q.AccessionNumber,
		"PatientID=" + q.PatientID,
		"StudyDate=" + q.StudyDate,
		"StudyTime", "PatientName", "ModalitiesInStudy",
		"NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances",
	}
	var studies []Study
	tooMany := fmt.Errorf("more than %d studies match; narrow the query", MaxStudies)
	err := a.findAt(ctx, keys, func(v values) error {
		if len(studies) == MaxStudies {
			return tooMany
		}
		studies = append(studies, v.study())
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range studies {
		if studies[i].CountedAt != "" {
			continue
		}
		if err := a.countSeries(ctx, &studies[i]); err != nil {
			return nil, err
		}
	}
	return studies, nil
}

// countSeries fills a study's counts from SERIES-level answers.
func (a *Assoc) countSeries(ctx context.Context, s *Study) error {
	if s.StudyInstanceUID == "" {
		return fmt.Errorf("the PACS returned a study without Study Instance UID and without counts; cannot count its images")
	}
	type series struct {
		uid       string
		instances int
		counted   bool
	}
	var list []series
	modalities := map[string]bool{}
	keys := []string{"QueryRetrieveLevel=SERIES", "StudyInstanceUID=" + s.StudyInstanceUID,
		"SeriesInstanceUID", "Modality", "NumberOfSeriesRelatedInstances"}
	err := a.findAt(ctx, keys, func(v values) error {
		if len(list) == maxPerStudy {
			return fmt.Errorf("study %s has more than %d series", s.StudyInstanceUID, maxPerStudy)
		}
		n, ok := v.count(tagNumberOfSeriesRelatedInstances)
		list = append(list, series{uid: v.str(tagSeriesInstanceUID), instances: n, counted: ok})
		if m := v.str(tagModality); m != "" {
			modalities[m] = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("counting the series of study %s: %w", s.StudyInstanceUID, err)
	}
	s.Series, s.Instances, s.CountedAt = len(list), 0, CountedBySeries
	for _, se := range list {
		if !se.counted {
			n, err := a.countImages(ctx, s.StudyInstanceUID, se.uid)
			if err != nil {
				return err
			}
			se.instances = n
			s.CountedAt = CountedByImage
		}
		s.Instances += se.instances
	}
	if len(s.Modalities) == 0 {
		for m := range modalities {
			s.Modalities = append(s.Modalities, m)
		}
		slices.Sort(s.Modalities)
	}
	return nil
}

func (a *Assoc) countImages(ctx context.Context, studyUID, seriesUID string) (int, error) {
	if seriesUID == "" {
		return 0, fmt.Errorf("the PACS returned a series of study %s without Series Instance UID and without a count", studyUID)
	}
	n := 0
	keys := []string{"QueryRetrieveLevel=IMAGE", "StudyInstanceUID=" + studyUID, "SeriesInstanceUID=" + seriesUID, "SOPInstanceUID"}
	err := a.findAt(ctx, keys, func(values) error {
		n++
		if n > maxPerStudy {
			return fmt.Errorf("series %s has more than %d instances", seriesUID, maxPerStudy)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("counting the instances of series %s: %w", seriesUID, err)
	}
	return n, nil
}

// findAt runs one Study Root C-FIND and hands each decoded answer to each.
func (a *Assoc) findAt(ctx context.Context, keys []string, each func(values) error) error {
	ts, ok := a.Syntax(StudyRootFind)
	if !ok {
		return errors.New("the PACS did not accept Study Root Query/Retrieve FIND on this association; check that it allows queries from our AE title")
	}
	ident, err := EncodeIdentifier(ts, keys...)
	if err != nil {
		return err
	}
	st, err := a.Find(ctx, StudyRootFind, ident, func(b []byte) error {
		v, err := decodeValues(b, ts)
		if err != nil {
			return err
		}
		return each(v)
	})
	if err != nil {
		return err
	}
	if st != dimse.StatusSuccess {
		return &FindStatusError{Status: st}
	}
	return nil
}

// FindStatusError is a C-FIND that ended with a failure status.
type FindStatusError struct{ Status uint16 }

func (e *FindStatusError) Error() string {
	what := ""
	switch e.Status {
	case dimse.StatusOutOfResources:
		what = " (out of resources; try a narrower query or later)"
	case dimse.StatusIdentifierDoesNotMatch:
		what = " (the PACS did not understand the query)"
	case dimse.StatusCancel:
		what = " (cancelled)"
	case dimse.StatusSOPClassNotSupported:
		what = " (the PACS does not support study queries)"
	default:
		if e.Status&0xF000 == 0xC000 {
			what = " (the PACS could not process the query)"
		}
	}
	return fmt.Sprintf("the PACS answered the query with status 0x%04X%s", e.Status, what)
}

const (
	tagModality                       worklist.Tag = 0x00080060
	tagAccessionNumber                worklist.Tag = 0x00080050
	tagStudyDate                      worklist.Tag = 0x00080020
	tagStudyTime                      worklist.Tag = 0x00080030
	tagModalitiesInStudy              worklist.Tag = 0x00080061
	tagPatientName                    worklist.Tag = 0x00100010
	tagPatientID                      worklist.Tag = 0x00100020
	tagStudyInstanceUID               worklist.Tag = 0x0020000D
	tagSeriesInstanceUID              worklist.Tag = 0x0020000E
	tagNumberOfStudyRelatedSeries     worklist.Tag = 0x00201206
	tagNumberOfStudyRelatedInstances  worklist.Tag = 0x00201208
	tagNumberOfSeriesRelatedInstances worklist.Tag = 0x00201209
)

// values are the top-level text values of one answer, in UTF-8.
type values map[worklist.Tag]string

// decodeValues reads an answer through the worklist decoder, which bounds
// every length and decodes text by the answer's (0008,0005).
func decodeValues(b []byte, ts TransferSyntax) (values, error) {
	q, err := worklist.DecodeQuery(b, ts.BigEndian, ts.Implicit)
	if err != nil && !errors.Is(err, worklist.ErrNotWorklistQuery) {
		return nil, fmt.Errorf("reading the PACS's answer: %w", err)
	}
	v := make(values, len(q.Keys))
	for _, k := range q.Keys {
		if !k.InSPS {
			v[k.Tag] = k.Value
		}
	}
	return v, nil
}

func (v values) str(t worklist.Tag) string { return strings.TrimSpace(v[t]) }

// count parses an IS count; absent, empty or negative counts are not counts.
func (v values) count(t worklist.Tag) (int, bool) {
	s := v.str(t)
	if s == "" {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "+"))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

func (v values) study() Study {
	s := Study{
		StudyInstanceUID: v.str(tagStudyInstanceUID),
		AccessionNumber:  v.str(tagAccessionNumber),
		PatientID:        v.str(tagPatientID),
		PatientName:      v.str(tagPatientName),
		StudyDate:        v.str(tagStudyDate),
		StudyTime:        v.str(tagStudyTime),
	}
	for _, m := range strings.Split(v.str(tagModalitiesInStudy), `\`) {
		if m = strings.TrimSpace(m); m != "" {
			s.Modalities = append(s.Modalities, m)
		}
	}
	series, okS := v.count(tagNumberOfStudyRelatedSeries)
	instances, okI := v.count(tagNumberOfStudyRelatedInstances)
	if okS && okI {
		s.Series, s.Instances, s.CountedAt = series, instances, CountedByStudy
	}
	return s
}
