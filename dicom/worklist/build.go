package worklist

import (
	"strings"

	"github.com/suyashkumar/dicom"
	dtag "github.com/suyashkumar/dicom/pkg/tag"
)

// textVR reports the VRs whose bytes follow (0008,0005); the others are
// always in the default repertoire.
func textVR(vr string) bool {
	switch vr {
	case "SH", "LO", "ST", "LT", "PN", "UC", "UT":
		return true
	}
	return false
}

func elemTag(el *dicom.Element) Tag {
	return Tag(uint32(el.Tag.Group)<<16 | uint32(el.Tag.Element))
}

// elemString returns an element's value as one UTF-8 string, multiple values
// joined by `\`, padding trimmed.
func elemString(el *dicom.Element, dec textDecoder) string {
	vals, ok := el.Value.GetValue().([]string)
	if !ok {
		return ""
	}
	s := strings.Join(vals, `\`)
	if textVR(el.RawValueRepresentation) {
		s = dec.decode(s)
	}
	return strings.Trim(s, " \x00")
}

func seqItems(el *dicom.Element) [][]*dicom.Element {
	items, ok := el.Value.GetValue().([]*dicom.SequenceItemValue)
	if !ok {
		return nil
	}
	out := make([][]*dicom.Element, 0, len(items))
	for _, it := range items {
		if els, ok := it.GetValue().([]*dicom.Element); ok {
			out = append(out, els)
		}
	}
	return out
}

// buildQuery turns the parsed identifier into keys. A value we cannot use is
// noted on its key and matched as universal: one sloppy value never fails the
// query.
func buildQuery(ds dataSet) Query {
	dec := newTextDecoder(ds.charset)
	q := Query{CharacterSet: strings.Join(ds.charset, `\`)}
	for _, el := range ds.elems {
		t := elemTag(el)
		if t == tagSPSSequence {
			q.SPS = true
			items := seqItems(el)
			if len(items) == 0 {
				continue
			}
			for _, sub := range items[0] {
				q.Keys = append(q.Keys, makeKey(sub, true, dec))
			}
			continue
		}
		q.Keys = append(q.Keys, makeKey(el, false, dec))
	}
	q.sortKeys()
	// A device may send a key twice; the first one wins.
	out := q.Keys[:0]
	for i, k := range q.Keys {
		if i > 0 && k.Tag == q.Keys[i-1].Tag && k.InSPS == q.Keys[i-1].InSPS {
			continue
		}
		out = append(out, k)
	}
	q.Keys = out
	return q
}

func makeKey(el *dicom.Element, inSPS bool, dec textDecoder) Key {
	t := elemTag(el)
	k := Key{Tag: t, InSPS: inSPS, VR: el.RawValueRepresentation}
	a := lookupAttr(t, inSPS)
	if a == nil {
		if info, err := dtag.Find(el.Tag); err == nil {
			k.Name = info.Keyword
		}
		if k.VR != "SQ" {
			k.Value = elemString(el, dec)
		}
		return k
	}
	k.Name, k.VR = a.keyword, a.vr
	switch a.kind {
	case matchCodeSeq:
		if items := seqItems(el); len(items) > 0 {
			if c := codeOf(items[0], dec); c != (Code{}) {
				k.Code = &c
			}
		}
		return k
	case matchOtherIDs:
		// A query carries one item; its Patient ID is the matching value.
		if items := seqItems(el); len(items) > 0 {
			k.Value = patientIDOf(items[0], dec)
		}
		return k
	}
	if a.vr == "SQ" {
		return k
	}
	v := elemString(el, dec)
	switch a.kind {
	case matchCode:
		v = strings.ToUpper(strings.TrimSpace(v))
	case matchWhen, matchDate:
		v = strings.TrimSpace(v)
		norm, ok := normalizeRange(v, t == tagSPSStartTime)
		if !ok {
			k.Note = "not a valid " + a.vr + " value; matched as universal"
			k.Value = v
			return k
		}
		v = norm
	case matchNumber:
		if !isUniversal(v) {
			if _, _, ok := parseNumberRange(v); !ok {
				k.Note = "not a number; matched as universal"
			}
		}
	}
	k.Value = v
	return k
}

// patientIDOf reads the Patient ID of one Other Patient IDs Sequence item.
func patientIDOf(item []*dicom.Element, dec textDecoder) string {
	for _, sub := range item {
		if elemTag(sub) == tagPatientID {
			return elemString(sub, dec)
		}
	}
	return ""
}

// codeOf reads one code sequence item.
func codeOf(item []*dicom.Element, dec textDecoder) Code {
	var c Code
	for _, sub := range item {
		switch elemTag(sub) {
		case tagCodeValue:
			c.Value = elemString(sub, dec)
		case tagCodingScheme:
			c.Scheme = elemString(sub, dec)
		case tagCodeMeaning:
			c.Meaning = elemString(sub, dec)
		}
	}
	return c
}
