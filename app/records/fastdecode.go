package records

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// decodeStart decodes what Open needs of a stored record. The strings it
// returns may share b's bytes. encoding/json
// spends most of a start with a large worklist finding fields by
// reflection, so records written the way Encode writes them are read here
// by hand; anything else (a key spelt in another case, a duplicate, a
// value of another type, an escaped key) goes to encoding/json, and
// FuzzDecodeStart holds the two to the same result.
func decodeStart(b []byte, v *startView) error {
	var fast startView
	if decodeStartFast(b, &fast) {
		*v = fast
		return nil
	}
	return json.Unmarshal(b, v)
}

// decodeStartFast reports false whenever it is not sure to agree with
// encoding/json; v is then to be discarded.
func decodeStartFast(b []byte, v *startView) bool {
	s := scanner{b: b}
	var haveItem, haveState bool
	ok := s.object(func(key string) bool {
		switch key {
		case "item":
			if haveItem {
				return false
			}
			haveItem = true
			return s.item(&v.Item)
		case "provet_state":
			if haveState {
				return false
			}
			haveState = true
			return s.stringOrNull(&v.ProvetState)
		}
		if strings.EqualFold(key, "item") || strings.EqualFold(key, "provet_state") {
			return false
		}
		return s.skip(0)
	})
	s.ws()
	return ok && s.i == len(s.b)
}

// itemString finds the Item fields that are plain strings, by their JSON
// name (encoding/json uses the Go field name: Item has no tags).
func itemString(it *worklist.Item, key string) (*string, int) {
	switch key {
	case "Key":
		return &it.Key, 1
	case "PatientName":
		return &it.PatientName, 2
	case "PatientID":
		return &it.PatientID, 3
	case "PatientBirthDate":
		return &it.PatientBirthDate, 4
	case "PatientSex":
		return &it.PatientSex, 5
	case "PatientSexNeutered":
		return &it.PatientSexNeutered, 6
	case "SpeciesDescription":
		return &it.SpeciesDescription, 7
	case "BreedDescription":
		return &it.BreedDescription, 8
	case "ResponsiblePerson":
		return &it.ResponsiblePerson, 9
	case "ResponsiblePersonRole":
		return &it.ResponsiblePersonRole, 10
	case "ResponsibleOrganization":
		return &it.ResponsibleOrganization, 11
	case "PatientComments":
		return &it.PatientComments, 12
	case "AccessionNumber":
		return &it.AccessionNumber, 13
	case "RequestedProcedureID":
		return &it.RequestedProcedureID, 14
	case "RequestedProcedureDescription":
		return &it.RequestedProcedureDescription, 15
	case "RequestedProcedurePriority":
		return &it.RequestedProcedurePriority, 16
	case "RequestedProcedureComments":
		return &it.RequestedProcedureComments, 17
	case "StudyInstanceUID":
		return &it.StudyInstanceUID, 18
	case "ReferringPhysician":
		return &it.ReferringPhysician, 19
	case "RequestingPhysician":
		return &it.RequestingPhysician, 20
	case "AdmissionID":
		return &it.AdmissionID, 21
	case "StationAETitle":
		return &it.StationAETitle, 22
	case "StationName":
		return &it.StationName, 23
	case "Modality":
		return &it.Modality, 24
	case "StartDate":
		return &it.StartDate, 25
	case "StartTime":
		return &it.StartTime, 26
	case "PerformingPhysician":
		return &it.PerformingPhysician, 27
	case "SPSID":
		return &it.SPSID, 28
	case "SPSDescription":
		return &it.SPSDescription, 29
	case "SPSStatus":
		return &it.SPSStatus, 30
	case "SPSLocation":
		return &it.SPSLocation, 31
	}
	return nil, 0
}

// itemOther are the Item fields that are not plain strings; their bits
// follow itemString's.
var itemOther = map[string]int{
	"OtherPatientIDs": 32, "PatientWeightKg": 33, "SpeciesCode": 34, "BreedCode": 35,
	"RequestedProcedureCode": 36, "Updated": 37,
}

func (s *scanner) item(it *worklist.Item) bool {
	var seen uint64
	return s.object(func(key string) bool {
		p, bit := itemString(it, key)
		if bit == 0 {
			bit = itemOther[key]
		}
		if bit == 0 {
			// encoding/json matches keys regardless of case; leave such
			// a key to it.
			if foldsToItemField(key) {
				return false
			}
			return s.skip(0)
		}
		if seen&(1<<bit) != 0 {
			return false
		}
		seen |= 1 << bit
		if p != nil {
			return s.stringOrNull(p)
		}
		switch key {
		case "OtherPatientIDs":
			return s.strings(&it.OtherPatientIDs)
		case "PatientWeightKg":
			return s.float(&it.PatientWeightKg)
		case "SpeciesCode":
			return s.code(&it.SpeciesCode)
		case "BreedCode":
			return s.code(&it.BreedCode)
		case "RequestedProcedureCode":
			return s.code(&it.RequestedProcedureCode)
		default: // Updated
			start := s.i
			if s.null() {
				return true
			}
			if _, ok := s.str(); !ok {
				return false
			}
			return it.Updated.UnmarshalJSON(s.b[start:s.i]) == nil
		}
	})
}

// foldsToItemField says whether encoding/json would take key for an Item
// field although it is not spelt exactly (it matches as bytes.EqualFold).
func foldsToItemField(key string) bool {
	for _, name := range itemFieldNames {
		if strings.EqualFold(key, name) {
			return true
		}
	}
	return false
}

var itemFieldNames = []string{"Key", "PatientName", "PatientID", "OtherPatientIDs", "PatientBirthDate",
	"PatientSex", "PatientSexNeutered", "PatientWeightKg", "SpeciesDescription", "SpeciesCode",
	"BreedDescription", "BreedCode", "ResponsiblePerson", "ResponsiblePersonRole",
	"ResponsibleOrganization", "PatientComments", "AccessionNumber", "RequestedProcedureID",
	"RequestedProcedureDescription", "RequestedProcedureCode", "RequestedProcedurePriority",
	"RequestedProcedureComments", "StudyInstanceUID", "ReferringPhysician", "RequestingPhysician",
	"AdmissionID", "StationAETitle", "StationName", "Modality", "StartDate", "StartTime",
	"PerformingPhysician", "SPSID", "SPSDescription", "SPSStatus", "SPSLocation", "Updated"}

func (s *scanner) code(p **worklist.Code) bool {
	if s.null() {
		*p = nil
		return true
	}
	c := &worklist.Code{}
	var seen [3]bool
	ok := s.object(func(key string) bool {
		var dst *string
		var i int
		switch key {
		case "Value":
			dst, i = &c.Value, 0
		case "Scheme":
			dst, i = &c.Scheme, 1
		case "Meaning":
			dst, i = &c.Meaning, 2
		default:
			if strings.EqualFold(key, "Value") || strings.EqualFold(key, "Scheme") || strings.EqualFold(key, "Meaning") {
				return false
			}
			return s.skip(0)
		}
		if seen[i] {
			return false
		}
		seen[i] = true
		return s.stringOrNull(dst)
	})
	*p = c
	return ok
}

func (s *scanner) strings(p *[]string) bool {
	if s.null() {
		*p = nil
		return true
	}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '[' {
		return false
	}
	s.i++
	out := []string{}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		*p = out
		return true
	}
	for {
		v, ok := s.str()
		if !ok {
			return false
		}
		out = append(out, v)
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			*p = out
			return true
		default:
			return false
		}
	}
}

func (s *scanner) float(p *float64) bool {
	if s.null() {
		return true
	}
	s.ws()
	start := s.i
	if !s.number() {
		return false
	}
	f, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
	if err != nil {
		return false
	}
	*p = f
	return true
}

func (s *scanner) stringOrNull(p *string) bool {
	if s.null() {
		return true
	}
	v, ok := s.str()
	if ok {
		*p = v
	}
	return ok
}

// scanner reads the JSON grammar strictly: whatever encoding/json would
// reject, it rejects.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) null() bool {
	s.ws()
	if bytes.HasPrefix(s.b[s.i:], litNull) {
		s.i += 4
		return true
	}
	return false
}

// object calls member for each key with the scanner at its value; member
// consumes the value.
func (s *scanner) object(member func(key string) bool) bool {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		s.ws()
		start := s.i
		escaped, _, ok := s.strEnd()
		if !ok || escaped {
			return false // an escaped key may spell a field: leave it to encoding/json
		}
		key := s.alias(start+1, s.i-1)
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		if !member(key) {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// str reads a string. Without escapes it is the bytes themselves, which
// must be valid UTF-8 (encoding/json replaces invalid bytes); with escapes
// encoding/json decodes the one string.
func (s *scanner) str() (string, bool) {
	start := s.i
	escaped, ascii, ok := s.strEnd()
	if !ok {
		return "", false
	}
	if escaped {
		var v string
		if json.Unmarshal(s.b[start:s.i], &v) != nil {
			return "", false
		}
		return v, true
	}
	if !ascii && !utf8.Valid(s.b[start+1:s.i-1]) {
		return "", false
	}
	return s.alias(start+1, s.i-1), true
}

// alias is b[from:to] as a string without a copy: decodeStart's strings
// share the record's bytes, which nobody changes, and Open copies what it
// keeps (interner).
func (s *scanner) alias(from, to int) string {
	if from == to {
		return ""
	}
	return unsafe.String(&s.b[from], to-from)
}

// strEnd moves past a string, checking its escapes and that it holds no
// control characters.
func (s *scanner) strEnd() (escaped, ascii, ok bool) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false, false, false
	}
	s.i++
	ascii = true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return escaped, ascii, true
		case c == '\\':
			escaped = true
			s.i++
			if s.i >= len(s.b) {
				return false, false, false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+5 > len(s.b) {
					return false, false, false
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !isHex(h) {
						return false, false, false
					}
				}
				s.i += 5
			default:
				return false, false, false
			}
		case c < 0x20:
			return false, false, false
		default:
			if c >= utf8.RuneSelf {
				ascii = false
			}
			s.i++
		}
	}
	return false, false, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	digits := func() int {
		n := 0
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// maxDepth is far below encoding/json's own nesting limit, so whatever
// nests deeper is left to it.
const maxDepth = 100

// skip reads any one value without keeping it.
func (s *scanner) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, _, ok := s.strEnd()
		return ok
	case c == '{':
		return s.object(func(string) bool { return s.skip(depth + 1) })
	case c == '[':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			if s.i >= len(s.b) {
				return false
			}
			switch s.b[s.i] {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	for _, lit := range [][]byte{litTrue, litFalse, litNull} {
		if bytes.HasPrefix(s.b[s.i:], lit) {
			s.i += len(lit)
			return true
		}
	}
	return false
}

var litTrue, litFalse, litNull = []byte("true"), []byte("false"), []byte("null")
