package provet

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// PatientSearch names the list filters a patient search sends. Provet
// documents Django-style filters on its lists but not which ones the patient
// and client endpoints accept; this is the one place that names them, and
// every answer is filtered again here, since Provet may ignore a filter it
// does not know.
var PatientSearch = struct {
	Name, Microchip, OwnerLastName, OwnerOrganization string
}{
	Name:              "name__icontains",
	Microchip:         "microchip",
	OwnerLastName:     "lastname__icontains",
	OwnerOrganization: "organization_name__icontains",
}

// searchPage is how many entries one search list asks for; a technician
// picks from a short list.
const searchPage = 20

// SearchPatients finds patients by the animal's name, its microchip, or the
// owner's last name, at most limit of them, living ones first as Provet
// lists them. Owners of the found patients are fetched once each.
func (c *Client) SearchPatients(ctx context.Context, text string, limit int) ([]*Patient, map[int64]*Owner, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, nil, nil
	}
	seen := map[int64]bool{}
	var out []*Patient
	add := func(p *Patient) {
		if len(out) < limit && !seen[p.ID] {
			seen[p.ID] = true
			out = append(out, p)
		}
	}
	needle := strings.ToLower(text)
	byName, err := c.listPatients(ctx, url.Values{PatientSearch.Name: {text}})
	if err != nil {
		return nil, nil, err
	}
	for _, p := range byName {
		if strings.Contains(strings.ToLower(p.Name), needle) {
			add(p)
		}
	}
	byChip, err := c.listPatients(ctx, url.Values{PatientSearch.Microchip: {text}})
	if err != nil {
		return nil, nil, err
	}
	for _, p := range byChip {
		if p.Microchip != "" && strings.EqualFold(p.Microchip, text) {
			add(p)
		}
	}
	owners := map[int64]*Owner{}
	for _, filter := range []string{PatientSearch.OwnerLastName, PatientSearch.OwnerOrganization} {
		if err := c.ownersNamed(ctx, filter, text, needle, owners, add); err != nil {
			return nil, nil, err
		}
	}
	for _, p := range out {
		if id := p.Client.ID; id != 0 && owners[id] == nil && len(owners) < 2*limit {
			o, err := c.Owner(ctx, id)
			if err != nil {
				return nil, nil, err
			}
			owners[id] = o
		}
	}
	return out, owners, nil
}

// ownersNamed adds the patients of owners whose last name or organisation
// matches, asking with one filter.
func (c *Client) ownersNamed(ctx context.Context, filter, text, needle string, owners map[int64]*Owner, add func(*Patient)) error {
	q := url.Values{filter: {text}, "page_size": {strconv.Itoa(searchPage)}}
	resp, err := c.get(ctx, pathClient, q)
	if err != nil {
		return err
	}
	var p page
	if err := json.Unmarshal(resp.body, &p); err != nil {
		return decodeErr(http.MethodGet, pathClient, err)
	}
	for _, raw := range p.Results {
		o, err := DecodeOwner(raw)
		if err != nil {
			return decodeErr(http.MethodGet, pathClient, err)
		}
		if !strings.Contains(strings.ToLower(o.LastName+" "+o.OrganizationName), needle) || owners[o.ID] != nil {
			continue
		}
		owners[o.ID] = o
		for _, ref := range o.Patients {
			if ref.ID == 0 {
				continue
			}
			pt, err := c.Patient(ctx, ref.ID)
			if err != nil {
				return err
			}
			add(pt)
		}
	}
	return nil
}

// listPatients reads the first page of a filtered patient list.
func (c *Client) listPatients(ctx context.Context, q url.Values) ([]*Patient, error) {
	q.Set("page_size", strconv.Itoa(searchPage))
	resp, err := c.get(ctx, pathPatient, q)
	if err != nil {
		return nil, err
	}
	var p page
	if err := json.Unmarshal(resp.body, &p); err != nil {
		return nil, decodeErr(http.MethodGet, pathPatient, err)
	}
	out := make([]*Patient, 0, len(p.Results))
	for _, raw := range p.Results {
		pt, err := DecodePatient(raw)
		if err != nil {
			return nil, decodeErr(http.MethodGet, pathPatient, err)
		}
		out = append(out, pt)
	}
	return out, nil
}
