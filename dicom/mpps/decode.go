package mpps

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// Bounds on what a peer may send. An MPPS data set for a large CT run with a
// few thousand referenced images is a few hundred kilobytes; these leave
// ample room while keeping a hostile data set from costing more than a few
// megabytes of memory.
const (
	// MaxDataSetSize is the largest N-CREATE/N-SET data set accepted.
	MaxDataSetSize = 2 << 20
	// maxDepth bounds sequence nesting (MPPS needs three levels at most).
	maxDepth = 16
	// maxValues bounds the number of elements plus string values the parser
	// will allocate for.
	maxValues = 50_000
)

var errMalformed = errors.New("malformed data set")

// guard walks a data set's structure the way suyashkumar/dicom will, before
// the library sees it. The library allocates a value's declared length before
// reading it, and panics on a non-item inside a defined-length sequence; the
// guard rejects any length that does not fit inside its container, undefined
// lengths where the library cannot handle them, excessive nesting and
// structures the library would misread. It mirrors the library's own choices
// (VR lookup in implicit syntax, the explicit VRs with 32-bit lengths, 0xFFFF
// as undefined) so that both see the same element boundaries.
type guard struct {
	bo       binary.ByteOrder
	implicit bool
	budget   int
}

// explicit VRs the library reads with a 32-bit length.
var longVR = map[string]bool{"OB": true, "OD": true, "OF": true, "OL": true, "OW": true, "SQ": true, "UN": true, "UC": true, "UR": true, "UT": true}

// shortVR are the explicit VRs with a 16-bit length. OV, SV and UV are left
// out: the library reads them with a 16-bit length, against PS3.5, and MPPS
// never uses them.
var shortVR = map[string]bool{
	"AE": true, "AS": true, "AT": true, "CS": true, "DA": true, "DS": true, "DT": true, "FL": true, "FD": true,
	"IS": true, "LO": true, "LT": true, "PN": true, "SH": true, "SL": true, "SS": true, "ST": true, "TM": true,
	"UI": true, "UL": true, "US": true,
}

const undefinedLength = 0xFFFFFFFF

func (g *guard) spend(n int) error {
	g.budget -= n
	if g.budget < 0 {
		return fmt.Errorf("%w: more than %d elements and values", errMalformed, maxValues)
	}
	return nil
}

// implicitVR is the library's choice of VR for a tag in implicit syntax.
func implicitVR(t tag.Tag) (string, error) {
	info, err := tag.Find(t)
	if err != nil {
		return tag.UnknownVR, nil
	}
	if t == tag.PixelData || t == tag.OverlayData {
		return "OW", nil
	}
	if len(info.VRs) == 0 {
		return "", fmt.Errorf("%w: tag %s has no VR", errMalformed, t)
	}
	return info.VRs[0], nil
}

// dataset checks the elements of b. With stop zero they must fill b exactly;
// otherwise they run up to and including the stop delimiter. It returns the
// bytes consumed.
func (g *guard) dataset(b []byte, depth int, stop tag.Tag) (int, error) {
	off := 0
	for {
		if stop == (tag.Tag{}) && off == len(b) {
			return off, nil
		}
		if len(b)-off < 8 {
			return 0, fmt.Errorf("%w: truncated element at offset %d", errMalformed, off)
		}
		t := tag.Tag{Group: g.bo.Uint16(b[off:]), Element: g.bo.Uint16(b[off+2:])}
		if t.Group == 0xFFFE {
			if t != stop {
				return 0, fmt.Errorf("%w: unexpected %s at offset %d", errMalformed, t, off)
			}
			if g.bo.Uint32(b[off+4:]) != 0 {
				return 0, fmt.Errorf("%w: delimiter with non-zero length at offset %d", errMalformed, off)
			}
			return off + 8, nil
		}
		n, err := g.element(t, b[off:], depth)
		if err != nil {
			return 0, err
		}
		off += n
	}
}

// element checks one non-delimiter element at the start of b and returns its
// encoded size.
func (g *guard) element(t tag.Tag, b []byte, depth int) (int, error) {
	if err := g.spend(1); err != nil {
		return 0, err
	}
	var (
		vr  string
		vl  uint32
		hdr int
	)
	if g.implicit {
		var err error
		if vr, err = implicitVR(t); err != nil {
			return 0, err
		}
		vl, hdr = g.bo.Uint32(b[4:]), 8
	} else {
		vr = string(b[4:6])
		switch {
		case longVR[vr]:
			if len(b) < 12 {
				return 0, fmt.Errorf("%w: truncated header of %s", errMalformed, t)
			}
			vl, hdr = g.bo.Uint32(b[8:]), 12
		case shortVR[vr]:
			vl, hdr = uint32(g.bo.Uint16(b[6:])), 8
			if vl == 0xFFFF {
				vl = undefinedLength
			}
		default:
			return 0, fmt.Errorf("%w: unsupported VR %q for %s", errMalformed, vr, t)
		}
	}
	rest := b[hdr:]
	kind := tag.GetVRKind(t, vr)
	switch {
	case kind == tag.VRPixelData || kind == tag.VRItem:
		return 0, fmt.Errorf("%w: %s does not belong in an MPPS data set", errMalformed, t)
	case t == tag.SpecificCharacterSet && kind != tag.VRStringList && kind != tag.VRString && kind != tag.VRDate:
		// The library reads the character set as strings and panics otherwise.
		return 0, fmt.Errorf("%w: %s with VR %s", errMalformed, t, vr)
	case kind == tag.VRSequence || (kind == tag.VRUnknown && vl == undefinedLength):
		n, err := g.sequence(rest, vl, depth+1)
		if err != nil {
			return 0, fmt.Errorf("in %s: %w", t, err)
		}
		return hdr + n, nil
	case vl == undefinedLength:
		return 0, fmt.Errorf("%w: %s has undefined length", errMalformed, t)
	case uint64(vl) > uint64(len(rest)):
		return 0, fmt.Errorf("%w: %s declares %d bytes but only %d remain", errMalformed, t, vl, len(rest))
	}
	if kind == tag.VRStringList || kind == tag.VRString {
		// The library splits string values on backslashes.
		if err := g.spend(bytes.Count(rest[:vl], []byte{'\\'})); err != nil {
			return 0, err
		}
	}
	return hdr + int(vl), nil
}

// sequence checks a sequence's items; b starts after the sequence header.
func (g *guard) sequence(b []byte, vl uint32, depth int) (int, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("%w: sequences nested deeper than %d", errMalformed, maxDepth)
	}
	if vl != undefinedLength {
		if uint64(vl) > uint64(len(b)) {
			return 0, fmt.Errorf("%w: sequence declares %d bytes but only %d remain", errMalformed, vl, len(b))
		}
		in := b[:vl]
		for off := 0; off < len(in); {
			n, err := g.item(in[off:], depth)
			if err != nil {
				return 0, err
			}
			off += n
		}
		return int(vl), nil
	}
	for off := 0; ; {
		if len(b)-off < 8 {
			return 0, fmt.Errorf("%w: sequence without delimiter", errMalformed)
		}
		t := tag.Tag{Group: g.bo.Uint16(b[off:]), Element: g.bo.Uint16(b[off+2:])}
		if t == tag.SequenceDelimitationItem {
			if g.bo.Uint32(b[off+4:]) != 0 {
				return 0, fmt.Errorf("%w: sequence delimiter with non-zero length", errMalformed)
			}
			return off + 8, nil
		}
		n, err := g.item(b[off:], depth)
		if err != nil {
			return 0, err
		}
		off += n
	}
}

// item checks one sequence item at the start of b.
func (g *guard) item(b []byte, depth int) (int, error) {
	if err := g.spend(1); err != nil {
		return 0, err
	}
	if len(b) < 8 {
		return 0, fmt.Errorf("%w: truncated item", errMalformed)
	}
	t := tag.Tag{Group: g.bo.Uint16(b), Element: g.bo.Uint16(b[2:])}
	if t != tag.Item {
		return 0, fmt.Errorf("%w: %s where a sequence item was expected", errMalformed, t)
	}
	vl := g.bo.Uint32(b[4:])
	if vl == undefinedLength {
		n, err := g.dataset(b[8:], depth, tag.ItemDelimitationItem)
		return 8 + n, err
	}
	if uint64(vl) > uint64(len(b)-8) {
		return 0, fmt.Errorf("%w: item declares %d bytes but only %d remain", errMalformed, vl, len(b)-8)
	}
	if _, err := g.dataset(b[8:8+vl], depth, tag.Tag{}); err != nil {
		return 0, err
	}
	return 8 + int(vl), nil
}

// sentinel is an empty element put in front of the data. With
// SkipMetadataReadOnNewParserInit the library still guesses a transfer syntax
// by test-reading the first element under each syntax in turn; were that the
// peer's element, a wrong guess could read a length of up to 4 GiB from it and
// allocate that much. Our own element is a group length (UL): under any guess
// it either has a zero length or a length the library refuses before
// allocating, because integer values are bounded by the remaining input. The
// guess is then overridden with the negotiated syntax and the sentinel
// discarded.
var sentinelTag = tag.Tag{Group: 0x0008, Element: 0x0000}

func sentinel(bo binary.ByteOrder, implicit bool) []byte {
	b := make([]byte, 8)
	bo.PutUint16(b, sentinelTag.Group)
	bo.PutUint16(b[2:], sentinelTag.Element)
	if !implicit {
		copy(b[4:], "UL") // 16-bit zero length follows
	}
	return b
}

// inferencePeek is how far the library peeks when guessing the syntax; the
// stream is padded (beyond the parse limit) so short data sets parse too.
const inferencePeek = 100

// elements is a decoded data set, top-level elements by tag.
type elements map[tag.Tag]*dicom.Element

// decode checks and parses a data set in the given transfer syntax.
func decode(data []byte, bigEndian, implicit bool) (els elements, err error) {
	if len(data) > MaxDataSetSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", errMalformed, len(data), MaxDataSetSize)
	}
	if bigEndian && implicit {
		return nil, fmt.Errorf("%w: implicit VR big endian is not a DICOM transfer syntax", errMalformed)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		bo = binary.BigEndian
	}
	g := guard{bo: bo, implicit: implicit, budget: maxValues}
	if _, err := g.dataset(data, 0, tag.Tag{}); err != nil {
		return nil, err
	}
	defer func() {
		// The guard should make this unreachable; a library panic on a
		// peer's bytes must still not take the server down.
		if r := recover(); r != nil {
			els, err = nil, fmt.Errorf("%w: parser failed: %v", errMalformed, r)
		}
	}()
	return parse(data, bo, implicit)
}

// parse runs the library over a data set the guard accepted.
func parse(data []byte, bo binary.ByteOrder, implicit bool) (elements, error) {
	els := elements{}
	if len(data) == 0 {
		return els, nil
	}
	head := sentinel(bo, implicit)
	in := io.MultiReader(bytes.NewReader(head), bytes.NewReader(data), bytes.NewReader(make([]byte, inferencePeek)))
	p, err := dicom.NewParser(in, int64(len(head)+len(data)), nil,
		dicom.SkipMetadataReadOnNewParserInit(), dicom.AllowUnknownSpecificCharacterSet())
	if p == nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	// A failed guess is irrelevant: the syntax is set explicitly here.
	p.SetTransferSyntax(bo, implicit)
	first, err := p.Next()
	if err != nil || first.Tag != sentinelTag {
		return nil, fmt.Errorf("%w: could not start parsing: %v", errMalformed, err)
	}
	for {
		e, err := p.Next()
		if errors.Is(err, dicom.ErrorEndOfDICOM) {
			return els, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errMalformed, err)
		}
		if _, dup := els[e.Tag]; dup {
			return nil, fmt.Errorf("%w: %s appears twice", errMalformed, e.Tag)
		}
		els[e.Tag] = e
	}
}

// str returns a string attribute's value, multiple values joined with a
// backslash and padding trimmed; "" for an absent or non-string element.
func str(e *dicom.Element) string {
	if e == nil || e.Value == nil {
		return ""
	}
	v, ok := e.Value.GetValue().([]string)
	if !ok {
		return ""
	}
	return strings.TrimSpace(strings.TrimRight(strings.Join(v, `\`), "\x00"))
}

// items returns a sequence's items as element maps.
func items(e *dicom.Element) []elements {
	if e == nil || e.Value == nil {
		return nil
	}
	seq, ok := e.Value.GetValue().([]*dicom.SequenceItemValue)
	if !ok {
		return nil
	}
	out := make([]elements, 0, len(seq))
	for _, it := range seq {
		m := elements{}
		if els, ok := it.GetValue().([]*dicom.Element); ok {
			for _, el := range els {
				if _, dup := m[el.Tag]; !dup {
					m[el.Tag] = el
				}
			}
		}
		out = append(out, m)
	}
	return out
}
