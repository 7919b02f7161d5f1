package worklist

import (
	"encoding/binary"
	"fmt"
	"strings"

	dtag "github.com/suyashkumar/dicom/pkg/tag"
)

// answerPlan is what answerElements works out from the query alone: which
// elements an answer has and in which order. Service.Find makes it once per
// query and then only fills in values per item, because looking keys up,
// consulting the dictionary and sorting for every answer was most of the
// cost of a query with a hundred matches. Encoding through a plan gives the
// very bytes encoding answerElements alone gives (TestPlanEncodesLikeEncode).
type answerPlan struct {
	q        *Query
	top, sps []planElem
	// utf8Declared: the query declared UTF-8, so CharsetAuto answers in it.
	utf8Declared bool
	// cacheKey names everything besides the item that an answer's bytes
	// depend on; "" until the first encodeEntry.
	cacheKey string

	// Scratch reused from one answer to the next; a plan serves one query
	// in one goroutine.
	topVals, spsVals []outElem
	spsItems         [][]outElem
	buf              []byte
}

type planElem struct {
	tag   Tag
	vr    string
	inSPS bool
	a     *attr // nil: returned empty
	seq   bool  // the SPS sequence, whose items are plan.sps
}

// answerable reports whether a requested key can be returned and with which
// VR, exactly as answerElement decides it.
func answerable(t Tag, inSPS bool) (*attr, string, bool) {
	if a := lookupAttr(t, inSPS); a != nil {
		return a, a.vr, true
	}
	info, err := dtag.Find(dtag.Tag{Group: t.group(), Element: t.element()})
	if err != nil || t.group()%2 == 1 {
		return nil, "", false
	}
	return nil, info.VRs[0], keptVR(info.VRs[0])
}

func newAnswerPlan(q *Query) *answerPlan {
	p := &answerPlan{q: q}
	spsAsked := false
	for i := range q.Keys {
		k := &q.Keys[i]
		if k.Injected {
			continue
		}
		if k.InSPS {
			spsAsked = true
			if a, vr, ok := answerable(k.Tag, true); ok {
				p.sps = append(p.sps, planElem{tag: k.Tag, vr: vr, inSPS: true, a: a})
			}
			continue
		}
		if k.Tag == tagSPSSequence {
			continue
		}
		if a, vr, ok := answerable(k.Tag, false); ok {
			p.top = append(p.top, planElem{tag: k.Tag, vr: vr, a: a})
		}
	}
	if q.SPS || spsAsked {
		if !spsAsked {
			for i := range attrs {
				if attrs[i].inSPS {
					p.sps = append(p.sps, planElem{tag: attrs[i].tag, vr: attrs[i].vr, inSPS: true, a: &attrs[i]})
				}
			}
		}
		p.top = append(p.top, planElem{tag: tagSPSSequence, vr: "SQ", seq: true})
	}
	// The same stable insertion sort sortElems does, so equal tags keep
	// their order.
	for _, es := range [][]planElem{p.top, p.sps} {
		for i := 1; i < len(es); i++ {
			for j := i; j > 0 && es[j].tag < es[j-1].tag; j-- {
				es[j], es[j-1] = es[j-1], es[j]
			}
		}
	}
	for _, v := range strings.Split(q.CharacterSet, `\`) {
		if n := canonicalCharsetName(v); n == "ISOIR192" || n == "UTF8" {
			p.utf8Declared = true
		}
	}
	p.topVals = make([]outElem, len(p.top))
	p.spsVals = make([]outElem, len(p.sps))
	p.spsItems = make([][]outElem, 1)
	return p
}

// fill puts item's values into the plan's scratch elements and returns them;
// they are valid until the next call.
func (p *answerPlan) fill(it *Item) []outElem {
	for i := range p.sps {
		pe := &p.sps[i]
		p.spsVals[i] = planValue(it, p.q, pe)
	}
	for i := range p.top {
		pe := &p.top[i]
		if pe.seq {
			p.spsItems[0] = p.spsVals
			p.topVals[i] = outElem{tag: tagSPSSequence, vr: "SQ", items: p.spsItems}
			continue
		}
		p.topVals[i] = planValue(it, p.q, pe)
	}
	return p.topVals
}

func planValue(it *Item, q *Query, pe *planElem) outElem {
	if pe.a == nil {
		return outElem{tag: pe.tag, vr: pe.vr}
	}
	if pe.a.get != nil && pe.a.code == nil && pe.a.list == nil {
		// The common case, inline: a string attribute.
		e := outElem{tag: pe.tag, vr: pe.vr, value: strings.TrimSpace(pe.a.get(it))}
		if e.value == "" {
			e.value = fallback(it, q, pe.tag, pe.inSPS)
		}
		return e
	}
	e, _ := answerElement(it, q, pe.tag, pe.inSPS, pe.vr)
	return e
}

// encode returns item's answer in its own slice (send may keep it).
func (p *answerPlan) encode(it *Item, profCharset Charset, bigEndian, implicit bool) (Charset, []byte) {
	es := p.fill(it)
	cs := profCharset
	if cs == CharsetAuto {
		switch {
		case p.utf8Declared:
			cs = CharsetUTF8
		case allText(es, fitsLatin1Fast):
			cs = CharsetLatin1
		default:
			cs = CharsetUTF8
		}
	}
	nonASCII := convertInPlace(es, cs)
	var bo byteOrder = binary.LittleEndian
	if bigEndian {
		bo = binary.BigEndian
	}
	e := elemEncoder{bo: bo, implicit: implicit, b: p.buf[:0]}
	if nonASCII && cs != CharsetASCII {
		e.element(outElem{tag: tagSpecificCharacterSet, vr: "CS", value: string(cs)})
	}
	for _, el := range es {
		e.element(el)
	}
	p.buf = e.b
	return cs, append([]byte(nil), e.b...)
}

// encodeEntry is encode for an indexed item, reusing the item's last answer
// when it was encoded for a query of the same shape. The slice is shared:
// callers must not modify it (its capacity ends at its length, so appending
// copies).
func (p *answerPlan) encodeEntry(e *entry, profCharset Charset, bigEndian, implicit bool) (Charset, []byte) {
	if p.cacheKey == "" {
		p.cacheKey = p.shapeKey(profCharset, bigEndian, implicit)
	}
	if c := e.answer.Load(); c != nil && c.key == p.cacheKey {
		return c.cs, c.b
	}
	cs, b := p.encode(&e.Item, profCharset, bigEndian, implicit)
	b = b[:len(b):len(b)]
	e.answer.Store(&cachedAnswer{key: p.cacheKey, cs: cs, b: b})
	return cs, b
}

// shapeKey lists every input of encode other than the item: the elements
// and their order, the character set rule and the transfer syntax, and the
// query values fallbacks use (the calling AE for the station, today for the
// date).
func (p *answerPlan) shapeKey(profCharset Charset, bigEndian, implicit bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%t|%t|%t|", profCharset, p.utf8Declared, bigEndian, implicit)
	for _, es := range [][]planElem{p.top, p.sps} {
		for _, pe := range es {
			fmt.Fprintf(&b, "%08x/%s/%t/%t/%t,", uint32(pe.tag), pe.vr, pe.inSPS, pe.a != nil, pe.seq)
		}
		b.WriteByte(';')
	}
	fmt.Fprintf(&b, "%q|%q", p.q.CallingAE, p.q.Today)
	return b.String()
}

func fitsLatin1Fast(s string) bool { return isPlainASCII(s) || fitsLatin1(s) }

// convertInPlace is convert for elements the caller owns: the values are
// replaced rather than copied, and plain ASCII within its limit is left as
// it is (clip, toCharset and transliterate would return it unchanged).
func convertInPlace(es []outElem, cs Charset) (nonASCII bool) {
	for i := range es {
		e := &es[i]
		if !isPlainASCII(e.value) || len(e.value) > maxCharsFor(e.vr) {
			v := clip(e.value, e.vr)
			if textVR(e.vr) {
				v = toCharset(v, cs)
			} else if !isPlainASCII(v) {
				v = transliterate(v, false)
			}
			e.value = v
			if !isPlainASCII(v) {
				nonASCII = true
			}
		}
		for _, item := range e.items {
			if convertInPlace(item, cs) {
				nonASCII = true
			}
		}
	}
	return nonASCII
}

// maxCharsFor is maxChars as a switch (a map lookup per value showed in
// profiles); a length no value reaches stands for "no limit".
func maxCharsFor(vr string) int {
	switch vr {
	case "AE", "CS", "SH", "DS":
		return 16
	case "LO", "UI":
		return 64
	case "PN":
		return 64 * 5
	case "ST":
		return 1024
	case "LT":
		return 10240
	}
	return int(^uint(0) >> 1)
}
