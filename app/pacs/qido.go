package pacs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// qidoClient queries a DICOMweb service (PS3.18 QIDO-RS).
type qidoClient struct {
	base string // without the trailing slash
	http *http.Client
	log  *slog.Logger
}

func newQIDO(cfg Config, opts Options) *qidoClient {
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: opts.Timeout}
	}
	base := strings.TrimRight(strings.TrimSpace(cfg.QIDOURL), "/")
	return &qidoClient{base: base, http: hc, log: opts.Logger.With("component", "pacs", "pacs", base)}
}

func (c *qidoClient) String() string { return c.base }

func (c *qidoClient) Ping(ctx context.Context) error {
	_, err := c.get(ctx, "/studies", url.Values{"limit": {"1"}})
	return err
}

func (c *qidoClient) Studies(ctx context.Context, q Query) ([]Study, error) {
	if q.empty() {
		return nil, ErrEmptyQuery
	}
	params := url.Values{"includefield": {jStudySeries, jStudyInstances, jModalitiesInStudy, jStudyTime, jPatientName}}
	for k, v := range map[string]string{
		"AccessionNumber": q.Accession, "StudyInstanceUID": q.StudyUID, "PatientID": q.PatientID, "StudyDate": q.dateRange(),
	} {
		if v != "" {
			params.Set(k, v)
		}
	}
	ds, err := c.get(ctx, "/studies", params)
	if err != nil {
		return nil, err
	}
	out := make([]Study, 0, len(ds))
	for _, d := range ds {
		s, counted := d.study()
		if !counted {
			if err := c.countSeries(ctx, &s); err != nil {
				return nil, err
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// countSeries fills the counts of a study whose entry lacked them, from
// its series and, for series without (0020,1209), their instances.
func (c *qidoClient) countSeries(ctx context.Context, s *Study) error {
	if !validUID(s.UID) {
		return fmt.Errorf("the PACS returned a study with Study Instance UID %q and without counts; cannot count its images", s.UID)
	}
	series, err := c.get(ctx, "/studies/"+s.UID+"/series", url.Values{"includefield": {jSeriesInstances, jModality}})
	if err != nil {
		return fmt.Errorf("counting the series of study %s: %w", s.UID, err)
	}
	s.Series, s.Instances = len(series), 0
	var modalities []string
	for _, se := range series {
		if m := se.str(jModality); m != "" && !slices.Contains(modalities, m) {
			modalities = append(modalities, m)
		}
		n, err := se.count(jSeriesInstances)
		if err != nil {
			uid := se.str(jSeriesUID)
			if !validUID(uid) {
				return fmt.Errorf("the PACS returned a series of study %s with Series Instance UID %q and without a count", s.UID, uid)
			}
			inst, err := c.get(ctx, "/studies/"+s.UID+"/series/"+uid+"/instances", nil)
			if err != nil {
				return fmt.Errorf("counting the instances of series %s: %w", uid, err)
			}
			n = len(inst)
		}
		s.Instances += n
	}
	if len(s.Modalities) == 0 {
		slices.Sort(modalities)
		s.Modalities = modalities
	}
	return nil
}

// validUID admits only what a UID may hold, so a hostile answer cannot
// steer our next request elsewhere.
func validUID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
}

// get runs one QIDO-RS request and decodes the answer.
func (c *qidoClient) get(ctx context.Context, path string, params url.Values) ([]dataset, error) {
	u := c.base + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("the QIDO-RS address %s is not usable: %w", c.base, err)
	}
	req.Header.Set("Accept", "application/dicom+json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.explain(err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return nil, nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("the PACS at %s refused our query (HTTP %d): it asks for credentials or does not allow this computer; allow it on the PACS", c.base, resp.StatusCode)
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("the PACS at %s has no QIDO-RS service at this address (HTTP 404): check qido_url, usually ending in /dicom-web or /dicomweb", c.base)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("the PACS at %s answered the query with HTTP %d %s", c.base, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	ct := resp.Header.Get("Content-Type")
	if ct != "" && !strings.Contains(ct, "json") {
		return nil, fmt.Errorf("the PACS at %s answered with %q instead of DICOM JSON: check that qido_url is the DICOMweb root", c.base, ct)
	}
	ds, err := decodeDatasets(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("the PACS at %s: %w", c.base, err)
	}
	return ds, nil
}

func (c *qidoClient) explain(err error) error {
	var op *net.OpError
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("the PACS at %s did not answer in time: %w", c.base, err)
	case errors.As(err, &op) && op.Op == "dial" && !op.Timeout():
		return fmt.Errorf("cannot connect to the PACS at %s: check qido_url's host and port, and that the PACS is running (%w)", c.base, op)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("the PACS at %s did not answer in time: check qido_url and any firewall between: %w", c.base, err)
	}
	return fmt.Errorf("the PACS at %s: %w", c.base, err)
}
