package worklist

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/big"
	"strings"
	"unicode/utf8"

	dtag "github.com/suyashkumar/dicom/pkg/tag"
)

// outElem is an answer attribute before charset conversion.
type outElem struct {
	tag   Tag
	vr    string
	value string      // UTF-8
	items [][]outElem // for SQ
}

// answerElements lists one answer's attributes for item: only the keys q
// asked for (profile-added keys are not returned), in tag order. The answer
// plan and .wl files are built from it.
//
// The Type 1 values a modality needs to accept an item are never sent empty
// when requested; an item lacking one gets a deterministic fallback:
//   - Study Instance UID: DerivedStudyInstanceUID(item.Key);
//   - Requested Procedure ID: the Accession Number, else a short hash of Key;
//   - SPS ID: the Requested Procedure ID (as above);
//   - Requested Procedure / SPS Description: the other one, else the modality;
//   - Patient ID: a short hash of Key; Patient's Name: "UNKNOWN";
//   - Modality: OT; SPS Start Time: 000000; SPS Start Date: the day Updated;
//   - Scheduled Station AE: the calling AE, else "ANY".
//
// Text is converted to the answer's character set when it is encoded, and
// (0008,0005) is added whenever the answer carries non-ASCII text.
func answerElements(it *Item, q *Query) []outElem {
	var out []outElem
	var sps []outElem
	spsAsked := false
	for i := range q.Keys {
		k := &q.Keys[i]
		if k.Injected {
			continue
		}
		if k.InSPS {
			spsAsked = true
			if e, ok := answerElement(it, q, k.Tag, true, k.VR); ok {
				sps = append(sps, e)
			}
			continue
		}
		if k.Tag == tagSPSSequence {
			continue
		}
		if e, ok := answerElement(it, q, k.Tag, false, k.VR); ok {
			out = append(out, e)
		}
	}
	if q.SPS || spsAsked {
		if !spsAsked {
			// An SPS sequence with no item asks for all of its attributes.
			for i := range attrs {
				if attrs[i].inSPS {
					e, _ := answerElement(it, q, attrs[i].tag, true, attrs[i].vr)
					sps = append(sps, e)
				}
			}
		}
		out = append(out, outElem{tag: tagSPSSequence, vr: "SQ", items: [][]outElem{sps}})
	}
	sortElems(out)
	return out
}

func sortElems(es []outElem) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].tag < es[j-1].tag; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
	for i := range es {
		for _, item := range es[i].items {
			sortElems(item)
		}
	}
}

// answerElement returns the answer for one requested key, or false for a key
// that cannot be returned at all (not in the dictionary).
func answerElement(it *Item, q *Query, t Tag, inSPS bool, vr string) (outElem, bool) {
	a := lookupAttr(t, inSPS)
	if a == nil {
		info, err := dtag.Find(dtag.Tag{Group: t.group(), Element: t.element()})
		if err != nil || t.group()%2 == 1 {
			return outElem{}, false
		}
		// Unsupported optional keys are returned empty rather than refused.
		return outElem{tag: t, vr: info.VRs[0]}, keptVR(info.VRs[0])
	}
	e := outElem{tag: t, vr: a.vr}
	switch {
	case a.code != nil:
		if c := *a.code(it); c != nil {
			e.items = [][]outElem{{
				{tag: tagCodeValue, vr: "SH", value: c.Value},
				{tag: tagCodingScheme, vr: "SH", value: c.Scheme},
				{tag: tagCodeMeaning, vr: "LO", value: c.Meaning},
			}}
		}
	case a.list != nil:
		for _, id := range *a.list(it) {
			if id == "" {
				continue
			}
			// A microchip is read by radio: Type of Patient ID is RFID.
			e.items = append(e.items, []outElem{
				{tag: tagPatientID, vr: "LO", value: id},
				{tag: tagTypeOfPatientID, vr: "CS", value: "RFID"},
			})
		}
	case a.get != nil:
		e.value = strings.TrimSpace(a.get(it))
		if e.value == "" {
			e.value = fallback(it, q, t, inSPS)
		}
	}
	return e, true
}

func fallback(it *Item, q *Query, t Tag, inSPS bool) string {
	switch {
	case t == tagStudyInstanceUID && !inSPS:
		return DerivedStudyInstanceUID(it.Key)
	case t == tagReqProcID && !inSPS, t == tagSPSID && inSPS:
		if it.RequestedProcedureID != "" {
			return it.RequestedProcedureID
		}
		if it.AccessionNumber != "" && len(it.AccessionNumber) <= 16 {
			return it.AccessionNumber
		}
		return shortID(it.Key)
	case t == tagReqProcDescription && !inSPS, t == tagSPSDescription && inSPS:
		for _, s := range []string{it.RequestedProcedureDescription, it.SPSDescription, it.Modality} {
			if s != "" {
				return s
			}
		}
		return "EXAM"
	case t == tagPatientID && !inSPS:
		return shortID(it.Key)
	case t == tagPatientName && !inSPS:
		return "UNKNOWN"
	case t == tagModality && inSPS:
		return "OT"
	case t == tagSPSStartTime && inSPS:
		return "000000"
	case t == tagSPSStartDate && inSPS:
		if !it.Updated.IsZero() {
			return it.Updated.Format("20060102")
		}
		return q.Today
	case t == tagStationAE && inSPS:
		if q.CallingAE != "" {
			return q.CallingAE
		}
		return "ANY"
	}
	return ""
}

// DerivedStudyInstanceUID is the Study Instance UID sent for an item that has
// none: a 2.25 UID (PS3.5 B.2) from a hash of key, so every answer and every
// restart gives the same UID. The app should store it on the item, since MPPS
// and images come back with it.
func DerivedStudyInstanceUID(key string) string {
	sum := sha256.Sum256([]byte("vetbridge study " + key))
	n := new(big.Int).SetBytes(sum[:16])
	return "2.25." + n.String()
}

func shortID(key string) string {
	sum := sha256.Sum256([]byte("vetbridge id " + key))
	return "VB" + strings.ToUpper(hex.EncodeToString(sum[:5]))
}

// resolveCharset applies the auto rule: UTF-8 to a query that declared it,
// else Latin-1 when every text value fits, else UTF-8.
func resolveCharset(cs Charset, declared string, es []outElem) Charset {
	if cs != CharsetAuto {
		return cs
	}
	for _, v := range strings.Split(declared, `\`) {
		if n := canonicalCharsetName(v); n == "ISOIR192" || n == "UTF8" {
			return CharsetUTF8
		}
	}
	if allText(es, fitsLatin1) {
		return CharsetLatin1
	}
	return CharsetUTF8
}

func allText(es []outElem, ok func(string) bool) bool {
	for _, e := range es {
		if textVR(e.vr) && !ok(e.value) {
			return false
		}
		for _, item := range e.items {
			if !allText(item, ok) {
				return false
			}
		}
	}
	return true
}

// maxChars holds PS3.5 length limits the answer must respect: devices reject
// or truncate over-long values in unpredictable ways.
var maxChars = map[string]int{"AE": 16, "CS": 16, "SH": 16, "LO": 64, "DS": 16, "UI": 64, "PN": 64 * 5, "ST": 1024, "LT": 10240}

func clip(s string, vr string) string {
	n, ok := maxChars[vr]
	if !ok || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n]))
}

// convert puts every value into the answer's character set.
func convert(es []outElem, cs Charset) (conv []outElem, nonASCII bool) {
	conv = make([]outElem, len(es))
	for i, e := range es {
		v := clip(e.value, e.vr)
		if textVR(e.vr) {
			v = toCharset(v, cs)
		} else if !isPlainASCII(v) {
			v = transliterate(v, false)
		}
		if !isPlainASCII(v) {
			nonASCII = true
		}
		e.value = v
		if e.items != nil {
			items := make([][]outElem, len(e.items))
			for j, item := range e.items {
				var na bool
				items[j], na = convert(item, cs)
				nonASCII = nonASCII || na
			}
			e.items = items
		}
		conv[i] = e
	}
	return conv, nonASCII
}

// encodeElements writes the answer data set. It encodes directly rather than
// through the library's writer: an answer is a few dozen short strings and
// sequences, and the writer's per-element buffers made encoding the dominant
// cost of a query (about 400 allocations per answer).
func encodeElements(es []outElem, cs Charset, forceCharset, bigEndian, implicit bool) ([]byte, error) {
	conv, nonASCII := convert(es, cs)
	var bo byteOrder = binary.LittleEndian
	if bigEndian {
		bo = binary.BigEndian
	}
	e := elemEncoder{bo: bo, implicit: implicit, b: make([]byte, 0, 1024)}
	if (nonASCII || forceCharset) && cs != CharsetASCII {
		e.element(outElem{tag: tagSpecificCharacterSet, vr: "CS", value: string(cs)})
	}
	for _, el := range conv {
		e.element(el)
	}
	return e.b, nil
}

type elemEncoder struct {
	bo       byteOrder
	implicit bool
	b        []byte
}

func (e *elemEncoder) header(t Tag, vr string, vl uint32) {
	e.b = e.bo.AppendUint16(e.b, t.group())
	e.b = e.bo.AppendUint16(e.b, t.element())
	if e.implicit || t.group() == 0xFFFE {
		e.b = e.bo.AppendUint32(e.b, vl)
		return
	}
	e.b = append(e.b, vr...)
	if longVL(vr) {
		e.b = append(e.b, 0, 0)
		e.b = e.bo.AppendUint32(e.b, vl)
		return
	}
	e.b = e.bo.AppendUint16(e.b, uint16(vl))
}

func (e *elemEncoder) element(el outElem) {
	if el.vr == "SQ" {
		e.header(el.tag, "SQ", undefinedLength)
		for _, item := range el.items {
			e.header(tagItem, "", undefinedLength)
			for _, sub := range item {
				e.element(sub)
			}
			e.header(tagItemDelim, "", 0)
		}
		e.header(tagSequenceDelim, "", 0)
		return
	}
	v := el.value
	n := len(v)
	pad := n%2 == 1
	if pad {
		n++
	}
	if !longVL(el.vr) && n > 0xFFFF {
		// Cannot happen after clip for the VRs we send; never emit a
		// length that wraps.
		v, n, pad = v[:0xFFFE], 0xFFFE, false
	}
	e.header(el.tag, el.vr, uint32(n))
	e.b = append(e.b, v...)
	if pad {
		// PS3.5 6.2: UI pads with NUL, the other string VRs with a space.
		if el.vr == "UI" {
			e.b = append(e.b, 0)
		} else {
			e.b = append(e.b, ' ')
		}
	}
}
