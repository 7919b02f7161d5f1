package imaging

import (
	"fmt"
	"net/url"
	"strings"
)

// viewerPlaceholders are the fields a PACS viewer URL template may use.
var viewerPlaceholders = []string{"{patient_id}", "{accession}", "{study_uid}", "{provet_id}"}

// ViewerLink builds the PACS viewer address for one patient (the
// viewer_url setting filled in). Without a
// placeholder the patient id is appended, which is what Provet itself does
// with its configured viewer prefix.
func ViewerLink(template, patientID, accession, studyUID, provetID string) (string, error) {
	template = strings.TrimSpace(template)
	if template == "" {
		return "", fmt.Errorf("no PACS viewer address is configured: set it in Settings")
	}
	if patientID == "" {
		return "", fmt.Errorf("this referral has no patient id to show images for")
	}
	has := false
	for _, p := range viewerPlaceholders {
		if strings.Contains(template, p) {
			has = true
		}
	}
	var link string
	if has {
		link = strings.NewReplacer(
			"{patient_id}", url.QueryEscape(patientID),
			"{accession}", url.QueryEscape(accession),
			"{study_uid}", url.QueryEscape(studyUID),
			"{provet_id}", url.QueryEscape(provetID),
		).Replace(template)
	} else {
		link = template + url.QueryEscape(patientID)
	}
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("the PACS viewer address %q is not a web address; it should look like https://pacs.example/viewer?patient={patient_id}", template)
	}
	return u.String(), nil
}
