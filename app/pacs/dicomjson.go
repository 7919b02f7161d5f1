package pacs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The DICOM JSON model (PS3.18 F.2): an array of objects keyed by 8-digit
// hex tags, each attribute {"vr": ..., "Value": [...]}. Values are strings,
// numbers, person-name objects or nested data sets; we read the first three.

// maxJSONBytes bounds one QIDO-RS response body; a day of a clinic's
// studies is a few hundred kilobytes.
const maxJSONBytes = 32 << 20

// maxDatasets bounds the entries read from one response.
const maxDatasets = 10000

type jsonAttr struct {
	VR    string            `json:"vr"`
	Value []json.RawMessage `json:"Value"`
}

// dataset is one decoded entry, tags upper-case.
type dataset map[string]jsonAttr

// decodeDatasets reads a QIDO-RS response body. An empty body (HTTP 204
// has none) is no entries.
func decodeDatasets(r io.Reader) ([]dataset, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxJSONBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the PACS's answer: %w", err)
	}
	if len(b) > maxJSONBytes {
		return nil, fmt.Errorf("the PACS's answer is larger than %d MiB; narrow the query", maxJSONBytes>>20)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	var raw []map[string]jsonAttr
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("the PACS's answer is not DICOM JSON (PS3.18 F.2): %w; check that qido_url is the DICOMweb root", err)
	}
	if len(raw) > maxDatasets {
		return nil, fmt.Errorf("the PACS returned more than %d entries; narrow the query", maxDatasets)
	}
	out := make([]dataset, len(raw))
	for i, m := range raw {
		d := make(dataset, len(m))
		for k, v := range m {
			if len(k) != 8 {
				continue
			}
			if _, err := strconv.ParseUint(k, 16, 32); err != nil {
				continue
			}
			d[strings.ToUpper(k)] = v
		}
		out[i] = d
	}
	return out, nil
}

// values returns an attribute's values as text: strings as they are,
// numbers in their JSON spelling, person names by their alphabetic group.
// Nested data sets and binary values are left out.
func (d dataset) values(tag string) []string {
	a, ok := d[tag]
	if !ok {
		return nil
	}
	var out []string
	for _, raw := range a.Value {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		switch raw[0] {
		case '"':
			var s string
			if json.Unmarshal(raw, &s) == nil {
				out = append(out, strings.TrimSpace(s))
			}
		case '{':
			var pn struct{ Alphabetic string }
			if a.VR == "PN" && json.Unmarshal(raw, &pn) == nil {
				out = append(out, strings.TrimSpace(pn.Alphabetic))
			}
		case 'n': // null: an empty value among several
			out = append(out, "")
		default:
			var n json.Number
			if json.Unmarshal(raw, &n) == nil {
				out = append(out, n.String())
			}
		}
	}
	return out
}

// str is the first value, or "".
func (d dataset) str(tag string) string {
	if v := d.values(tag); len(v) > 0 {
		return v[0]
	}
	return ""
}

var errNoCount = errors.New("no count")

// count reads an IS count; absent, empty, fractional or negative values are
// not counts.
func (d dataset) count(tag string) (int, error) {
	s := d.str(tag)
	if s == "" {
		return 0, errNoCount
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "+"))
	if err != nil || n < 0 {
		return 0, errNoCount
	}
	return n, nil
}

const (
	jStudyDate         = "00080020"
	jStudyTime         = "00080030"
	jAccession         = "00080050"
	jModality          = "00080060"
	jModalitiesInStudy = "00080061"
	jPatientName       = "00100010"
	jPatientID         = "00100020"
	jStudyUID          = "0020000D"
	jSeriesUID         = "0020000E"
	jStudySeries       = "00201206"
	jStudyInstances    = "00201208"
	jSeriesInstances   = "00201209"
)

// study reads a study-level entry; counted is false when the PACS left out
// either count.
func (d dataset) study() (s Study, counted bool) {
	s = Study{
		UID: d.str(jStudyUID), Accession: d.str(jAccession), PatientID: d.str(jPatientID),
		PatientName: d.str(jPatientName), Date: d.str(jStudyDate), Time: d.str(jStudyTime),
	}
	for _, m := range d.values(jModalitiesInStudy) {
		if m != "" {
			s.Modalities = append(s.Modalities, m)
		}
	}
	series, errS := d.count(jStudySeries)
	instances, errI := d.count(jStudyInstances)
	if errS == nil && errI == nil {
		s.Series, s.Instances = series, instances
		return s, true
	}
	return s, false
}
