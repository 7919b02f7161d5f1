package provet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Ref is a relation to another Provet object. Provet serialises relations as
// absolute URLs; an id or an inlined object (?expose_...) is understood too.
type Ref struct {
	ID   int64  // 0 when the relation is empty
	URL  string // absolute URL when Provet sent one
	Name string // only when the object was inlined and had a name
	// Inline holds the whole object when Provet inlined it (?expose_...),
	// so the caller can decode it instead of fetching it again.
	Inline json.RawMessage
}

// IsZero reports whether the relation is empty (null or absent).
func (r Ref) IsZero() bool { return r.ID == 0 && r.URL == "" && r.Name == "" }

// object is one decoded JSON object whose values are read lazily and
// leniently by key: the same field may be a number on one tenant and a string
// on another.
type object map[string]json.RawMessage

func parseObject(raw []byte) (object, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("expected a JSON object")
	}
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("invalid JSON object: %w", err)
	}
	return o, nil
}

func isNull(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) == 0 || bytes.Equal(r, []byte("null"))
}

// get returns the value of key, or nil when the key is absent, null, or the
// mapping says the field does not exist (an empty key).
func (o object) get(key string) json.RawMessage {
	if key == "" {
		return nil
	}
	v, ok := o[key]
	if !ok || isNull(v) {
		return nil
	}
	return v
}

// scalarText returns a string or number as text; numbers are normalised so
// 1, 1.0 and 1e0 all read "1".
func scalarText(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", nil
	}
	switch c := v[0]; {
	case c == '"':
		return jsonString(v)
	case c == '-' || (c >= '0' && c <= '9'):
		return normalizeNumber(string(v))
	case bytes.Equal(v, []byte("true")), bytes.Equal(v, []byte("false")):
		return string(v), nil
	}
	return "", fmt.Errorf("expected a string or number, got %s", kindOf(v))
}

// jsonString decodes a JSON string. Most of Provet's strings (URLs,
// timestamps) have no escapes, and copying them out directly is several
// times cheaper than the general decoder.
func jsonString(v json.RawMessage) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		inner := v[1 : len(v)-1]
		if bytes.IndexByte(inner, '\\') < 0 && bytes.IndexByte(inner, '"') < 0 && utf8.Valid(inner) && !hasControl(inner) {
			return string(inner), nil
		}
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", err
	}
	return s, nil
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

func normalizeNumber(n string) (string, error) {
	if i, err := strconv.ParseInt(n, 10, 64); err == nil {
		return strconv.FormatInt(i, 10), nil
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil {
		return "", fmt.Errorf("invalid number %.40q", n)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10), nil
	}
	return strconv.FormatFloat(f, 'g', -1, 64), nil
}

// kindOf names a JSON value's type for error messages and diagnostics.
func kindOf(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func keyErr(key string, err error) error {
	return fmt.Errorf("key %q: %w", key, err)
}

func (o object) str(key string) (string, error) {
	v := o.get(key)
	if v == nil {
		return "", nil
	}
	s, err := scalarText(v)
	if err != nil {
		return "", keyErr(key, err)
	}
	return s, nil
}

func (o object) int(key string) (int64, error) {
	v := o.get(key)
	if v == nil {
		return 0, nil
	}
	s, err := scalarText(v)
	if err != nil {
		return 0, keyErr(key, err)
	}
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, keyErr(key, fmt.Errorf("%.40q is not an integer", s))
	}
	return n, nil
}

// float reads a number that may be serialised as a string (Django's decimal
// fields are); nil means null or absent.
func (o object) float(key string) (*float64, error) {
	v := o.get(key)
	if v == nil {
		return nil, nil
	}
	s, err := scalarText(v)
	if err != nil {
		return nil, keyErr(key, err)
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, keyErr(key, fmt.Errorf("%.40q is not a number", s))
	}
	return &f, nil
}

func (o object) boolean(key string) (bool, error) {
	v := o.get(key)
	if v == nil {
		return false, nil
	}
	s, err := scalarText(v)
	if err != nil {
		return false, keyErr(key, err)
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no", "":
		return false, nil
	}
	return false, keyErr(key, fmt.Errorf("%.40q is not a yes/no value", s))
}

func (o object) time(key string) (time.Time, error) {
	s, err := o.str(key)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, keyErr(key, err)
	}
	return t, nil
}

func (o object) ref(key string) (Ref, error) {
	v := o.get(key)
	if v == nil {
		return Ref{}, nil
	}
	r, err := decodeRef(v)
	if err != nil {
		return Ref{}, keyErr(key, err)
	}
	return r, nil
}

func (o object) refs(key string) ([]Ref, error) {
	v := o.get(key)
	if v == nil {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		// A single relation where a list was expected is still usable.
		r, rerr := decodeRef(v)
		if rerr != nil {
			return nil, keyErr(key, fmt.Errorf("expected a list of relations, got %s", kindOf(v)))
		}
		return []Ref{r}, nil
	}
	out := make([]Ref, 0, len(items))
	for i, it := range items {
		if isNull(it) {
			continue
		}
		r, err := decodeRef(it)
		if err != nil {
			return nil, keyErr(key, fmt.Errorf("item %d: %w", i, err))
		}
		out = append(out, r)
	}
	return out, nil
}

func decodeRef(v json.RawMessage) (Ref, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return Ref{}, nil
	}
	switch v[0] {
	case '"':
		s, err := jsonString(v)
		if err != nil {
			return Ref{}, err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return Ref{}, nil
		}
		if !strings.Contains(s, "/") {
			if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
				return Ref{ID: id}, nil
			}
			// Some tenants may serialise a relation by its display name
			// (a modality "X-ray"): keep the name rather than fail the item.
			return Ref{Name: s}, nil
		}
		id, err := IDFromURL(s)
		if err != nil {
			return Ref{}, err
		}
		return Ref{ID: id, URL: s}, nil
	case '{':
		o, err := parseObject(v)
		if err != nil {
			return Ref{}, err
		}
		var r Ref
		if r.URL, err = o.str("url"); err != nil {
			return Ref{}, err
		}
		if r.ID, err = o.int("id"); err != nil {
			return Ref{}, err
		}
		if r.ID == 0 && r.URL != "" {
			if r.ID, err = IDFromURL(r.URL); err != nil {
				return Ref{}, err
			}
		}
		if r.Name, err = o.str("name"); err != nil {
			return Ref{}, err
		}
		r.Inline = append(json.RawMessage(nil), v...)
		return r, nil
	}
	s, err := scalarText(v)
	if err != nil {
		return Ref{}, err
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return Ref{}, fmt.Errorf("relation %.40q is neither a URL nor a positive id", s)
	}
	return Ref{ID: id}, nil
}
