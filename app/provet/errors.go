package provet

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Error kinds. Every error a Client returns for a failed call is an *APIError
// that matches exactly one of these with errors.Is, so sync can decide
// between "keep serving the cache", "wait", "ask to sign in again" and "drop
// the item".
var (
	// ErrOffline: Provet could not be reached or did not answer in time.
	ErrOffline = errors.New("Provet Cloud cannot be reached")
	// ErrThrottled: Provet's rate limit held after waiting and retrying.
	ErrThrottled = errors.New("Provet Cloud is limiting requests")
	// ErrUnauthorized: the session is no longer valid, even after a refresh.
	ErrUnauthorized = errors.New("the Provet sign-in is no longer valid")
	// ErrForbidden: the signed-in user lacks a Provet permission.
	ErrForbidden = errors.New("the Provet user lacks permission")
	// ErrNotFound: the object no longer exists (deleted or merged).
	ErrNotFound = errors.New("not found in Provet Cloud")
	// ErrRejected: Provet refused the request as invalid (HTTP 400-class).
	ErrRejected = errors.New("Provet Cloud rejected the request")
	// ErrServer: Provet failed (HTTP 5xx) or answered with something that
	// is not the expected JSON.
	ErrServer = errors.New("Provet Cloud answered with an error")
)

// APIError describes one failed call.
type APIError struct {
	Kind       error  // one of the Err... kinds above
	Method     string // GET, PATCH
	Path       string // relative to the API base, without the query
	Status     int    // HTTP status; 0 when no answer arrived
	Attempts   int
	RetryAfter time.Duration // for ErrThrottled: what Provet last asked for
	Detail     string        // a short excerpt of Provet's answer, when useful
	Err        error         // the underlying cause, if any
	// Endpoint is the resource called, e.g. "modality/"; Permission is, for
	// ErrForbidden, the Provet permission it needs (see PermissionFor).
	Endpoint   string
	Permission string
}

// Provet permission names, as Provet's user rights screen shows them.
const (
	PermImaging     = "Diagnostic imaging: Diagnostic imaging referrals"
	PermIntegration = "Settings: Integration settings"
	PermCalendar    = "Calendar: Appointments"
	PermUserProfile = "Profile: User profile page"
	PermPatients    = "Patients and clients"
)

// permissions per resource. Patients, clients and consultations have no
// published permission name; PermPatients is what the clinic's
// administrator looks for.
var permissions = map[string]string{
	"diagnosticimaging_worklist/": PermImaging,
	"diagnosticimaging_referral/": PermImaging,
	"modality/":                   PermIntegration,
	"targetarea/":                 PermIntegration,
	"imagingcategory/":            PermIntegration,
	"imagingsubcategory/":         PermIntegration,
	"appointment/":                PermCalendar,
	"user/":                       PermUserProfile,
	"patient/":                    PermPatients,
	"client/":                     PermPatients,
	"consultation/":               PermPatients,
}

// resourceOf is the first path segment with its slash: "patient/12/" →
// "patient/".
func resourceOf(rel string) string {
	seg, _, _ := strings.Cut(strings.TrimLeft(rel, "/"), "/")
	return seg + "/"
}

// PermissionFor names the Provet permission a resource ("modality/" or any
// path under it) needs, or "" when it is not known.
func PermissionFor(rel string) string { return permissions[resourceOf(rel)] }

// MissingPermission returns, for an ErrForbidden, the endpoint refused and
// the Provet permission to grant, so sync can degrade and say which.
func MissingPermission(err error) (endpoint, permission string, ok bool) {
	var ae *APIError
	if !errors.As(err, &ae) || !errors.Is(ae.Kind, ErrForbidden) {
		return "", "", false
	}
	return ae.Endpoint, ae.Permission, true
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s %s: %v", e.Method, e.Path, e.Kind)
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if h := e.hint(); h != "" {
		msg += ". " + h
	}
	return msg
}

func (e *APIError) hint() string {
	switch e.Kind {
	case ErrOffline:
		return "Check the internet connection; the cached worklist is still served and VetBridge retries on its own"
	case ErrThrottled:
		return "VetBridge retries later; if this persists, lengthen the poll interval"
	case ErrUnauthorized:
		return "Sign in to Provet again"
	case ErrForbidden:
		if e.Permission != "" {
			return fmt.Sprintf("Ask the clinic's Provet administrator to grant this user the permission %q", e.Permission)
		}
		return "Ask the clinic's Provet administrator to grant this user access to diagnostic imaging, patients and clients"
	case ErrNotFound:
		return "The item was probably deleted in Provet"
	case ErrRejected:
		return "Run `vetbridge doctor` and check the mapping settings"
	case ErrServer:
		return "This is on Provet's side or the mapping does not fit this tenant; run `vetbridge doctor` if it persists"
	}
	return ""
}

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *APIError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}
