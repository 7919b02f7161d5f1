package pacs

import (
	"fmt"
	"strings"
	"time"
)

// Summary is a referral's images in words for its worklist row: "no images
// yet", or "2 series, 14 images, 10:42" with the start of the latest study
// in loc (nil: local time).
func (m Match) Summary(loc *time.Location) string {
	if len(m.Studies) == 0 {
		return "no images yet"
	}
	var latest time.Time
	for _, s := range m.Studies {
		if t, ok := s.Start(loc); ok && t.After(latest) {
			latest = t
		}
	}
	images := "images"
	if m.Instances() == 1 {
		images = "image"
	}
	out := fmt.Sprintf("%d series, %d %s", m.Series(), m.Instances(), images)
	if !latest.IsZero() {
		out += ", " + latest.Format("15:04")
	}
	return out
}

// ImagesLine is the line `vetbridge images` prints for a referral:
// "ACCESSION studies=S series=R instances=I".
func (m Match) ImagesLine() string {
	return fmt.Sprintf("%s studies=%d series=%d instances=%d", field(m.Referral.Accession), len(m.Studies), m.Series(), m.Instances())
}

// UnmatchedLine is the line `vetbridge unmatched` prints for a PACS study
// no referral claims: "ACCESSION patient_id=P date=YYYYMMDD modality=M
// source=pacs study=UID".
func (s Study) UnmatchedLine() string {
	return fmt.Sprintf("%s patient_id=%s date=%s modality=%s source=pacs study=%s",
		field(s.Accession), field(s.PatientID), field(s.Date), field(strings.Join(s.Modalities, `\`)), field(s.UID))
}

// field keeps a line's fields apart: "-" for nothing, quotes around
// values with spaces.
func field(s string) string {
	switch {
	case s == "":
		return "-"
	case strings.ContainsAny(s, " \t\"=") || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 }):
		return fmt.Sprintf("%q", s)
	}
	return s
}
