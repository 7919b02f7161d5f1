package provet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// NewOrder is an imaging order to create in Provet for a walk-in exam.
// Provet does not publish the create body of its worklist endpoint; the
// keys come from the worklist mapping (patient, client, modality, status),
// with relations as the absolute URLs Provet itself returns.
type NewOrder struct {
	PatientID, ClientID, ModalityID int64
}

// ErrMaybeCreated means the create request may have reached Provet though
// no answer came back: creating again could make a second order.
var ErrMaybeCreated = errors.New("Provet did not answer the create request; the order may exist already: look in Provet before trying again")

// CreateWorklistItem creates a requested imaging order and returns it as
// Provet now has it. It is sent once, never retried (a retry after a lost
// answer would create a second order), and, as every status write, only
// once the tenant's status values have been confirmed.
func (c *Client) CreateWorklistItem(ctx context.Context, o NewOrder) (*WorklistItem, error) {
	if err := c.checkConfirmed(); err != nil {
		return nil, err
	}
	body, err := c.mapping.createBody(c, o)
	if err != nil {
		return nil, err
	}
	r := &request{method: http.MethodPost, rel: pathWorklist, body: body}
	u, rel, err := c.resolve(r)
	if err != nil {
		return nil, err
	}
	if err := c.limits.wait(ctx, endpointKey(r.method, rel), 1); err != nil {
		return nil, err
	}
	resp, err := c.attempt(ctx, r.method, u, r.body)
	if err != nil {
		return nil, &APIError{Kind: ErrOffline, Method: r.method, Path: rel, Attempts: 1, Err: fmt.Errorf("%w: %w", ErrMaybeCreated, err)}
	}
	if resp.status < 200 || resp.status > 299 {
		kind := ErrRejected
		switch {
		case resp.status == http.StatusUnauthorized:
			kind = ErrUnauthorized
		case resp.status == http.StatusForbidden:
			kind = ErrForbidden
		case resp.status >= 500:
			kind = ErrServer
		}
		return nil, &APIError{Kind: kind, Method: r.method, Path: rel, Status: resp.status, Attempts: 1, Detail: excerpt(resp.body)}
	}
	it, err := c.mapping.DecodeWorklist(resp.body)
	if err != nil {
		return nil, decodeErr(r.method, rel, err)
	}
	return it, nil
}

// createBody is the create request's JSON: the relations as absolute URLs
// and the requested status as the mapping writes it.
func (m *Mapping) createBody(c *Client, o NewOrder) ([]byte, error) {
	status, err := m.statusPatch(StatusRequested)
	if err != nil {
		return nil, err
	}
	var body map[string]any
	if err := json.Unmarshal(status, &body); err != nil {
		return nil, err
	}
	rel := func(path string, id int64) string {
		return c.base.JoinPath(path, strconv.FormatInt(id, 10)).String() + "/"
	}
	body[m.Worklist.Patient] = rel(pathPatient, o.PatientID)
	if o.ClientID != 0 && m.Worklist.Client != "" {
		body[m.Worklist.Client] = rel(pathClient, o.ClientID)
	}
	body[m.Worklist.Modality] = rel(pathModality, o.ModalityID)
	return json.Marshal(body)
}
