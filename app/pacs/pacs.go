// Package pacs asks the clinic's PACS which studies it holds, over DICOM
// (Study Root C-FIND, C-ECHO) or QIDO-RS (PS3.18), so that VetBridge can
// tell per referral whether its images have arrived and list the day's
// studies that belong to no referral.
//
// Clients are safe for concurrent use; each call opens its own association
// or HTTP request.
package pacs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Study is one study as the PACS reports it. Text is UTF-8.
type Study struct {
	UID         string   // Study Instance UID
	Accession   string   // Accession Number
	PatientID   string   // Patient ID
	PatientName string   // DICOM PN form, "Owner^Animal" for veterinary patients
	Date        string   // Study Date, YYYYMMDD
	Time        string   // Study Time, HHMMSS[.ffffff] as the PACS sent it
	Modalities  []string // Modalities in Study
	Series      int      // Number of Study Related Series
	Instances   int      // Number of Study Related Instances
}

// Start is the study's date and time in loc (nil: local time); ok is false
// without a valid date. A missing or malformed time counts as midnight.
func (s Study) Start(loc *time.Location) (t time.Time, ok bool) {
	if loc == nil {
		loc = time.Local
	}
	d, err := time.ParseInLocation("20060102", s.Date, loc)
	if err != nil {
		return time.Time{}, false
	}
	tm, _, _ := strings.Cut(s.Time, ".")
	for _, layout := range []string{"150405", "1504", "15"} {
		if c, err := time.Parse(layout, tm); err == nil {
			return time.Date(d.Year(), d.Month(), d.Day(), c.Hour(), c.Minute(), c.Second(), 0, loc), true
		}
	}
	return d, true
}

// Query selects studies; the fields set are combined (AND). At least one
// must be set, so a query never lists the whole PACS. From and To are
// calendar days (their date in their own location); either may be zero for
// an open range.
type Query struct {
	Accession string
	StudyUID  string
	PatientID string
	From, To  time.Time
}

// ErrEmptyQuery is returned for a Query with no criterion.
var ErrEmptyQuery = errors.New("a PACS query needs an accession number, a study UID, a patient ID or a date")

func (q Query) empty() bool {
	return q.Accession == "" && q.StudyUID == "" && q.PatientID == "" && q.From.IsZero() && q.To.IsZero()
}

// dateRange is the DICOM date range matching From..To ("" for none).
func (q Query) dateRange() string {
	f, t := dicomDate(q.From), dicomDate(q.To)
	switch {
	case f == "" && t == "":
		return ""
	case f == t:
		return f
	}
	return f + "-" + t
}

func dicomDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("20060102")
}

// Day is the Query for every study of t's calendar day.
func Day(t time.Time) Query { return Query{From: t, To: t} }

// Client is a connection to one PACS.
type Client interface {
	// Ping checks that the PACS answers (C-ECHO, or a QIDO-RS query) and
	// returns an error that says what to fix.
	Ping(ctx context.Context) error
	// Studies lists the studies matching q, with their counts.
	Studies(ctx context.Context, q Query) ([]Study, error)
	// String names the PACS for messages: "ORTHANC at 10.0.0.5:4242".
	String() string
}

// Options tune a Client.
type Options struct {
	// CallingAE is our AE title toward a DICOM PACS (the worklist
	// server's own title); default "VETBRIDGE".
	CallingAE string
	// Timeout bounds each association setup, response or HTTP request;
	// default 30 s.
	Timeout time.Duration
	// HTTPClient is used for QIDO-RS; default one with Timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// ErrNotConfigured is returned by New for the zero Config.
var ErrNotConfigured = errors.New("no PACS is configured: set pacs.ae_title, host and port, or pacs.qido_url")

// New returns the Client for cfg: QIDO-RS when QIDOURL is set, DICOM
// otherwise.
func New(cfg Config, opts Options) (Client, error) {
	if !cfg.Configured() {
		return nil, ErrNotConfigured
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("the PACS settings need fixing: %w", err)
	}
	if opts.CallingAE == "" {
		opts.CallingAE = "VETBRIDGE"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if cfg.UsesQIDO() {
		return newQIDO(cfg, opts), nil
	}
	return &dicomClient{cfg: cfg, opts: opts, log: opts.Logger.With("component", "pacs", "pacs", cfg.Addr())}, nil
}
