package provetsim

import (
	"net/http"
	"slices"
	"strings"
)

// routeSearch serves what a walk-in exam asks: the patient and client lists
// with the filters a search sends (see provet.PatientSearch; other filters
// are ignored, as Django REST framework ignores unknown query parameters),
// and the creation of an imaging order.
func (s *Server) routeSearch(mux *http.ServeMux, a string) {
	mux.HandleFunc("POST "+a+"diagnosticimaging_worklist/{$}", s.api("worklist.create", s.createWorklist)) // create.go
	mux.HandleFunc("GET "+a+"patient/{$}", s.api("patient.list", func(w http.ResponseWriter, r *http.Request, rr renderer) {
		q := r.URL.Query()
		name, chip := strings.ToLower(q.Get("name__icontains")), q.Get("microchip")
		s.mu.Lock()
		var found []*patient
		for _, p := range s.data.patients {
			if (name == "" || strings.Contains(strings.ToLower(p.Name), name)) && (chip == "" || p.Microchip == chip) {
				found = append(found, p)
			}
		}
		s.mu.Unlock()
		slices.SortFunc(found, func(x, y *patient) int { return x.ID - y.ID })
		paginate(w, r, len(found), func(lo, hi int) any {
			out := make([]patientJSON, 0, hi-lo)
			for _, p := range found[lo:hi] {
				out = append(out, rr.patient(p))
			}
			return out
		})
	}))
	mux.HandleFunc("GET "+a+"client/{$}", s.api("client.list", func(w http.ResponseWriter, r *http.Request, rr renderer) {
		q := r.URL.Query()
		last, org := strings.ToLower(q.Get("lastname__icontains")), strings.ToLower(q.Get("organization_name__icontains"))
		s.mu.Lock()
		defer s.mu.Unlock()
		var found []*client
		for _, c := range s.data.clients {
			if (last == "" || strings.Contains(strings.ToLower(c.LastName), last)) &&
				(org == "" || strings.Contains(strings.ToLower(c.Organization), org)) {
				found = append(found, c)
			}
		}
		slices.SortFunc(found, func(x, y *client) int { return x.ID - y.ID })
		paginate(w, r, len(found), func(lo, hi int) any {
			out := make([]clientJSON, 0, hi-lo)
			for _, c := range found[lo:hi] {
				out = append(out, rr.client(c, s.data.patientIDsOf(c.ID)))
			}
			return out
		})
	}))
}
