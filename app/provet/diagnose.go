package provet

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxClockSkew is how far the computer's clock may drift from Provet's before
// Diagnose warns: token expiry and the modified__gte delta sync both compare
// the two clocks.
const MaxClockSkew = 60 * time.Second

func sortedKeys(o object) []string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// summarize shows a raw value without personal data: numbers, booleans,
// nulls, URLs and timestamps as they are, other text by length only.
func summarize(v json.RawMessage) string {
	switch k := kindOf(v); k {
	case "number", "boolean", "null":
		s := string(v)
		if len(s) > 24 {
			s = s[:24] + "…"
		}
		return s
	case "string":
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "string"
		}
		if _, err := ParseTime(s); err == nil {
			return s
		}
		if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
			if id, err := IDFromURL(s); err == nil {
				return "URL …/" + strconv.FormatInt(id, 10) + "/"
			}
			return "URL"
		}
		if _, err := strconv.ParseFloat(s, 64); err == nil && len(s) < 24 {
			return strconv.Quote(s)
		}
		return fmt.Sprintf("text (%d chars)", len([]rune(s)))
	case "array":
		var items []json.RawMessage
		if json.Unmarshal(v, &items) != nil {
			return "array"
		}
		return fmt.Sprintf("array of %d", len(items))
	default:
		return k
	}
}

func refText(r Ref) string {
	if r.IsZero() {
		return "-"
	}
	return "id " + strconv.FormatInt(r.ID, 10)
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func textLen(s string) string {
	if s == "" {
		return "-"
	}
	return fmt.Sprintf("text (%d chars)", len([]rune(s)))
}

// describeWorklist says what the mapping understood, by override name.
func describeWorklist(it *WorklistItem) map[string]string {
	areas := make([]string, 0, len(it.TargetAreas))
	for _, a := range it.TargetAreas {
		areas = append(areas, refText(a))
	}
	return map[string]string{
		"worklist.id":                       strconv.FormatInt(it.ID, 10),
		"worklist.url":                      textOrDash(it.URL != "", "URL"),
		"worklist.status":                   it.Status.String(),
		"worklist.patient":                  refText(it.Patient),
		"worklist.client":                   refText(it.Client),
		"worklist.modality":                 refText(it.Modality),
		"worklist.target_areas":             "[" + strings.Join(areas, ", ") + "]",
		"worklist.referral":                 refText(it.Referral),
		"worklist.consultation":             refText(it.Consultation),
		"worklist.appointment":              refText(it.Appointment),
		"worklist.requesting_user":          refText(it.RequestingUser),
		"worklist.supervising_veterinarian": refText(it.SupervisingVet),
		"worklist.department":               refText(it.Department),
		"worklist.remarks":                  textLen(it.Remarks),
		"worklist.urgent":                   strconv.FormatBool(it.Urgent),
		"worklist.created":                  timeText(it.Created),
		"worklist.modified":                 timeText(it.Modified),
	}
}

func describeReferral(r *ImagingReferral) map[string]string {
	return map[string]string{
		"referral.id":             strconv.FormatInt(r.ID, 10),
		"referral.url":            textOrDash(r.URL != "", "URL"),
		"referral.worklist":       refText(r.Worklist),
		"referral.consultation":   refText(r.Consultation),
		"referral.appointment":    refText(r.Appointment),
		"referral.remarks":        textLen(r.Remarks),
		"referral.internal_notes": textLen(r.InternalNotes),
		"referral.urgent":         strconv.FormatBool(r.Urgent),
		"referral.created":        timeText(r.Created),
		"referral.modified":       timeText(r.Modified),
	}
}

func textOrDash(ok bool, s string) string {
	if ok {
		return s
	}
	return "-"
}
