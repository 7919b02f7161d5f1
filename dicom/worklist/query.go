package worklist

import (
	"sort"
	"strings"
)

// Query is a decoded C-FIND identifier, after any device profile was applied.
// It is plain data so it can be stored with the query log and explained later.
type Query struct {
	// CharacterSet is (0008,0005) as the device sent it, values joined by `\`.
	CharacterSet string `json:"characterSet,omitempty"`
	// SPS is set when the device asked for the Scheduled Procedure Step Sequence.
	SPS bool `json:"sps,omitempty"`
	// Keys are the attributes requested, in tag order, top level first.
	Keys []Key `json:"keys"`

	// Set by Profile.Apply.
	CallingAE      string   `json:"callingAE,omitempty"`
	Today          string   `json:"today,omitempty"`          // YYYYMMDD when the query ran, for explanations
	Modalities     []string `json:"modalities,omitempty"`     // the device's modalities, used when it sends none
	HiddenStatuses []string `json:"hiddenStatuses,omitempty"` // SPS statuses this device does not list
}

// Key is one requested attribute and, for a matching key, its value.
type Key struct {
	Tag   Tag    `json:"tag"`
	Name  string `json:"name"`
	VR    string `json:"vr"`
	InSPS bool   `json:"inSPS,omitempty"`
	// Value is the matching value in UTF-8; "" and "*" are universal.
	// Several values are joined by `\`.
	Value string `json:"value,omitempty"`
	// Code holds the matching sub-keys of a code sequence.
	Code *Code `json:"code,omitempty"`
	// Note says why a value the device sent was not used for matching.
	Note string `json:"note,omitempty"`
	// Profile marks a value set by the device profile rather than the device.
	Profile bool `json:"profile,omitempty"`
	// Injected marks a key the device did not send at all: it filters, it is
	// not returned.
	Injected bool `json:"injected,omitempty"`
}

// Universal reports whether the key matches everything.
func (k Key) Universal() bool {
	if k.Code != nil {
		return isUniversal(k.Code.Value) && isUniversal(k.Code.Scheme) && isUniversal(k.Code.Meaning)
	}
	return isUniversal(k.Value)
}

func isUniversal(v string) bool {
	v = strings.TrimSpace(v)
	return v == "" || strings.Trim(v, "*") == ""
}

// identifyingKeys name one patient or one order.
var identifyingKeys = map[attrKey]bool{
	{tagPatientName, false}: true, {tagPatientID, false}: true, {tagOtherPatientIDs, false}: true,
	{tagAccessionNumber, false}: true, {tagReqProcID, false}: true, {tagStudyInstanceUID, false}: true,
	{tagSPSID, true}: true,
}

// namesPatientOrOrder reports whether the device itself asked for a patient
// or an order by a value that filters. Such a query searches every date: a
// technician who types an owner's name or scans an accession number means
// that animal or that order, even when it was booked days ago and is still
// open, so a device profile's default date window is for broad queries only.
// Values set by a profile, or noted as unusable and so matched as universal,
// do not count, nor does a value of wildcards and delimiters only (a device
// polling with Patient's Name *^* names nobody): none of these says which
// patient the device wants, and without the window they would list every
// open order the worklist holds.
func (q *Query) namesPatientOrOrder() bool {
	for _, k := range q.Keys {
		if identifyingKeys[attrKey{k.Tag, k.InSPS}] && !k.Profile && k.Note == "" &&
			strings.Trim(k.Value, `*?^=\ `) != "" {
			return true
		}
	}
	return false
}

// Key returns the key for tag at the given level, if requested.
func (q *Query) Key(t Tag, inSPS bool) (*Key, bool) {
	for i := range q.Keys {
		if q.Keys[i].Tag == t && q.Keys[i].InSPS == inSPS {
			return &q.Keys[i], true
		}
	}
	return nil, false
}

// setKey replaces or adds a key, keeping tag order.
func (q *Query) setKey(k Key) {
	if old, ok := q.Key(k.Tag, k.InSPS); ok {
		*old = k
		return
	}
	q.Keys = append(q.Keys, k)
	q.sortKeys()
}

func (q *Query) sortKeys() {
	sort.SliceStable(q.Keys, func(i, j int) bool {
		a, b := q.Keys[i], q.Keys[j]
		if a.InSPS != b.InSPS {
			return !a.InSPS
		}
		return a.Tag < b.Tag
	})
}

// Clone returns a deep copy, so a profile can be applied without touching the
// decoded original.
func (q Query) Clone() Query {
	c := q
	c.Keys = make([]Key, len(q.Keys))
	for i, k := range q.Keys {
		if k.Code != nil {
			cc := *k.Code
			k.Code = &cc
		}
		c.Keys[i] = k
	}
	c.Modalities = append([]string(nil), q.Modalities...)
	c.HiddenStatuses = append([]string(nil), q.HiddenStatuses...)
	return c
}

// Readable lists the matching keys the device sent as key=value, for logs a
// person reads (they may hold patient names: not for the default log level).
func (q Query) Readable() []string {
	var out []string
	for _, k := range q.Keys {
		if k.Profile || k.Universal() {
			continue
		}
		name := k.Name
		if k.InSPS {
			name = "SPS>" + name
		}
		v := k.Value
		if k.Code != nil {
			v = strings.Join([]string{k.Code.Value, k.Code.Scheme, k.Code.Meaning}, "/")
		}
		out = append(out, name+"="+v)
	}
	return out
}
