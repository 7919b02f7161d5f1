package provetsim

import (
	"encoding/json"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// createWorklist answers POST diagnosticimaging_worklist/ as a tenant that
// lets integrations create imaging orders: {patient, modality, status} with
// relations as URLs (or ids) and the status as the tenant numbers it. The
// new order starts now, with a referral and an appointment as the
// simulator's other orders have.
func (s *Server) createWorklist(w http.ResponseWriter, r *http.Request, rr renderer) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	var body map[string]json.RawMessage
	if err == nil {
		err = json.Unmarshal(raw, &body)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"non_field_errors": {"Invalid data. Expected a dictionary."}})
		return
	}
	errs := map[string][]string{}
	pid := relationID(body["patient"])
	if pid == 0 {
		errs["patient"] = []string{"This field is required."}
	}
	mid := relationID(body["modality"])
	var status int
	if v, ok := body["status"]; ok && json.Unmarshal(v, &status) != nil {
		errs["status"] = []string{"A valid integer is required."}
	}
	state := StatusRequested
	if status != 0 {
		state = rr.q.StatusCodes.State(status)
	}
	s.mu.Lock()
	modality := ""
	for _, m := range s.data.modalities {
		if m.ID == mid {
			modality = m.Name
		}
	}
	s.mu.Unlock()
	if modality == "" {
		errs["modality"] = []string{"Invalid hyperlink - Object does not exist."}
	}
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, errs)
		return
	}
	now := s.now()
	it, err := s.CreateReferral(ReferralFields{PatientID: pid, Modality: modality, Start: &now, Status: state})
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"non_field_errors": {err.Error()}})
		return
	}
	s.mu.Lock()
	out := rr.exposedWorklist(s.data, s.data.worklist[it.WorklistID], nil)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

// relationID reads a relation given as a URL ".../patient/12/" or an id.
func relationID(raw json.RawMessage) int {
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return n
	}
	var u string
	if json.Unmarshal(raw, &u) != nil {
		return 0
	}
	n, _ = strconv.Atoi(path.Base(strings.TrimSuffix(u, "/")))
	return n
}
