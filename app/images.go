package app

import "net/http"

// imagingControl is what the commands ask of the PACS side: images per
// referral and exams that match no referral.
type imagingControl interface{}

// imagingAPI adds the PACS side's calls to the local API.
func (a *App) imagingAPI(mux *http.ServeMux) {}
