package worklist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/suyashkumar/dicom"
	dtag "github.com/suyashkumar/dicom/pkg/tag"
)

// ErrNotWorklistQuery means the identifier carries no Modality Worklist key at
// all (for instance a Query/Retrieve identifier): the answer is 0xA900.
var ErrNotWorklistQuery = errors.New("the identifier is not a modality worklist query")

// Limits on what one identifier may contain. Real queries have a few dozen
// elements and two levels of nesting; these bound work on hostile input.
const (
	maxIdentifierBytes = 1 << 20
	maxElements        = 4096
	maxDepth           = 6
)

const undefinedLength = 0xFFFFFFFF

// DecodeQuery reads a C-FIND identifier: the raw data set bytes, no Part-10
// header, in the negotiated transfer syntax. It tolerates what sloppy devices
// send (group lengths, private and UN keys, lower-case code strings, odd
// character set spellings); it fails only when the bytes are not a data set,
// or with ErrNotWorklistQuery when they hold no worklist key at all.
func DecodeQuery(identifier []byte, bigEndian, implicit bool) (Query, error) {
	ds, err := readDataSet(identifier, bigEndian, implicit)
	if err != nil {
		return Query{}, err
	}
	q := buildQuery(ds)
	// A Query/Retrieve Level marks a Q/R identifier, unless the device also
	// sent the SPS sequence: then it is a worklist query with a stray key.
	if (ds.qrLevel && !q.SPS) || !ds.worklistKey {
		return q, ErrNotWorklistQuery
	}
	return q, nil
}

// dataSet is what readDataSet makes of an identifier: the library's elements
// with raw (undecoded) string bytes, and the character set to decode them.
type dataSet struct {
	elems       []*dicom.Element
	charset     []string
	qrLevel     bool
	worklistKey bool
}

// readDataSet normalises the bytes with a bounded walk, then parses the
// result with suyashkumar/dicom.
//
// Why the walk: the library allocates whatever a value length says before
// reading (a 4 GiB UN value in a 40-byte PDU would take the process down),
// panics on some malformed sequences, and decodes strings itself once it has
// seen (0008,0005), failing on spellings it does not know. The walk checks every
// length against the bytes present, drops what we never use (group lengths,
// private and unknown tags, binary VRs), gives UN-encoded standard tags their
// dictionary VR, and takes (0008,0005) out so the library hands us raw bytes
// that we decode with our own, tolerant, character set handling.
func readDataSet(b []byte, bigEndian, implicit bool) (ds dataSet, err error) {
	if len(b) > maxIdentifierBytes {
		return ds, fmt.Errorf("identifier of %d bytes is larger than the %d a worklist query can need", len(b), maxIdentifierBytes)
	}
	if bigEndian && implicit {
		return ds, errors.New("implicit VR big endian is not a DICOM transfer syntax; the device's association is misconfigured")
	}
	var bo byteOrder = binary.LittleEndian
	if bigEndian {
		bo = binary.BigEndian
	}
	w := walker{bo: bo, implicit: implicit}
	w.prefix()
	if _, err := w.dataset(b, 0, false, false); err != nil {
		return ds, fmt.Errorf("the query is not a readable DICOM data set (%w); check the device's transfer syntax settings", err)
	}
	ds.charset, ds.qrLevel, ds.worklistKey = w.charset, w.qrLevel, w.worklistKey

	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the DICOM parser failed on the query: %v", r)
		}
	}()
	// The parser guesses a transfer syntax from the first 100 bytes even when
	// told to skip the header; the (0000,0000) prefix and the zero padding
	// beyond bytesToRead make that guess cheap and harmless for any input.
	clean := w.out
	padded := make([]byte, len(clean)+128)
	copy(padded, clean)
	p, perr := dicom.NewParser(bytes.NewReader(padded), int64(len(clean)), nil,
		dicom.SkipMetadataReadOnNewParserInit(), dicom.AllowUnknownSpecificCharacterSet())
	if p == nil {
		return ds, fmt.Errorf("the DICOM parser rejected the query: %w", perr)
	}
	p.SetTransferSyntax(bo, implicit)
	for {
		el, err := p.Next()
		if errors.Is(err, dicom.ErrorEndOfDICOM) {
			break
		}
		if err != nil {
			return ds, fmt.Errorf("the DICOM parser failed on the query: %w", err)
		}
		if el.Tag.Group == 0 {
			continue
		}
		ds.elems = append(ds.elems, el)
	}
	return ds, nil
}

// byteOrder is what binary.LittleEndian and binary.BigEndian both are.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

type walker struct {
	bo          byteOrder
	implicit    bool
	out         []byte
	charset     []string
	qrLevel     bool
	worklistKey bool
	elements    int
}

func (w *walker) prefix() {
	w.putHeader(0x00000000, "UL", 4)
	w.out = w.bo.AppendUint32(w.out, 0)
}

func (w *walker) putTag(t Tag) {
	w.out = w.bo.AppendUint16(w.out, t.group())
	w.out = w.bo.AppendUint16(w.out, t.element())
}

func longVL(vr string) bool {
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		return true
	}
	return false
}

func (w *walker) putHeader(t Tag, vr string, vl uint32) {
	w.putTag(t)
	if w.implicit {
		w.out = w.bo.AppendUint32(w.out, vl)
		return
	}
	w.out = append(w.out, vr...)
	if longVL(vr) {
		w.out = append(w.out, 0, 0)
		w.out = w.bo.AppendUint32(w.out, vl)
		return
	}
	w.out = w.bo.AppendUint16(w.out, uint16(vl))
}

// putItemHeader writes items and delimiters, which never carry a VR.
func (w *walker) putItemHeader(t Tag, vl uint32) {
	w.putTag(t)
	w.out = w.bo.AppendUint32(w.out, vl)
}

// keptVR lists the VRs a worklist identifier uses; anything else is dropped
// before the library sees it.
func keptVR(vr string) bool {
	switch vr {
	case "AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT", "SQ":
		return true
	}
	return false
}

const (
	tagItem          Tag = 0xFFFEE000
	tagItemDelim     Tag = 0xFFFEE00D
	tagSequenceDelim Tag = 0xFFFEE0DD
)

// dataset walks elements in b until its end or, when untilDelim, an item
// delimiter; it returns the bytes consumed. discard walks without output, to
// step over an undefined-length value we drop.
func (w *walker) dataset(b []byte, depth int, untilDelim, discard bool) (int, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("sequences nested deeper than %d", maxDepth)
	}
	p := 0
	for p < len(b) {
		if len(b)-p < 8 {
			return 0, fmt.Errorf("%d stray bytes at the end", len(b)-p)
		}
		w.elements++
		if w.elements > maxElements {
			return 0, fmt.Errorf("more than %d elements", maxElements)
		}
		t := Tag(uint32(w.bo.Uint16(b[p:]))<<16 | uint32(w.bo.Uint16(b[p+2:])))
		if t == tagItemDelim {
			if !untilDelim {
				return 0, errors.New("item delimiter outside an item")
			}
			return p + 8, nil
		}
		if t.group() == 0xFFFE {
			return 0, fmt.Errorf("unexpected %v in a data set", t)
		}
		var vr string
		var vl uint32
		hdr := 8
		if w.implicit {
			vl = w.bo.Uint32(b[p+4:])
			if info, err := dtag.Find(dtag.Tag{Group: t.group(), Element: t.element()}); err == nil {
				vr = info.VRs[0]
			} else {
				vr = "UN"
			}
		} else {
			vr = string(b[p+4 : p+6])
			if vr[0] < 'A' || vr[0] > 'Z' || vr[1] < 'A' || vr[1] > 'Z' {
				return 0, fmt.Errorf("element %v has no valid explicit VR", t)
			}
			if longVL(vr) {
				if len(b)-p < 12 {
					return 0, fmt.Errorf("element %v is cut short", t)
				}
				vl = w.bo.Uint32(b[p+8:])
				hdr = 12
			} else {
				vl = uint32(w.bo.Uint16(b[p+6:]))
			}
		}
		p += hdr
		// What the element is once sloppiness is forgiven.
		effVR := vr
		known := false
		if info, err := dtag.Find(dtag.Tag{Group: t.group(), Element: t.element()}); err == nil && t.group()%2 == 0 && t.element() != 0 {
			known = true
			if vr == "UN" {
				effVR = info.VRs[0]
			}
		}
		// A sequence sent as UN is encoded implicit VR little endian whatever
		// the transfer syntax (PS3.5 6.2.2); we only ever step over it.
		unSeq := vr == "UN" && (vl == undefinedLength || effVR == "SQ")
		keep := known && keptVR(effVR) && !discard && !unSeq && t.group() >= 0x0008
		if vr == "UN" && effVR != "UN" && effVR != "SQ" && !w.implicit && vl > 0xFFFF && !longVL(effVR) {
			keep = false
		}
		switch {
		case t == tagSpecificCharacterSet && depth == 0 && !discard:
			keep = false
			if int(vl) <= len(b)-p && vl != undefinedLength {
				for _, v := range strings.Split(string(b[p:p+int(vl)]), `\`) {
					w.charset = append(w.charset, strings.Trim(v, " \x00"))
				}
			}
		case t == tagQueryRetrieveLevel && depth == 0:
			w.qrLevel = true
		}
		if !discard && depth <= 1 && known && (lookupAttr(t, false) != nil || lookupAttr(t, true) != nil) {
			w.worklistKey = true
		}

		isSeq := effVR == "SQ" || unSeq || (vl == undefinedLength && w.implicit)
		if isSeq {
			seqKeep := keep && effVR == "SQ" && !unSeq
			if !seqKeep && vl != undefinedLength {
				// A dropped sequence of known length is skipped unread, so
				// whatever it holds cannot fail the query.
				if int64(vl) > int64(len(b)-p) {
					return 0, fmt.Errorf("element %v claims %d bytes, %d remain", t, vl, len(b)-p)
				}
				p += int(vl)
				continue
			}
			if seqKeep {
				w.putHeader(t, "SQ", undefinedLength)
			}
			saveImplicit, saveBO := w.implicit, w.bo
			if unSeq {
				w.implicit, w.bo = true, binary.LittleEndian
			}
			n, err := w.sequence(b[p:], vl, depth+1, !seqKeep || discard)
			w.implicit, w.bo = saveImplicit, saveBO
			if err != nil {
				return 0, fmt.Errorf("in %v: %w", t, err)
			}
			if seqKeep {
				w.putItemHeader(tagSequenceDelim, 0)
			}
			p += n
			continue
		}
		if vl == undefinedLength {
			return 0, fmt.Errorf("element %v (%s) has an undefined length", t, vr)
		}
		if int64(vl) > int64(len(b)-p) {
			return 0, fmt.Errorf("element %v claims %d bytes, %d remain", t, vl, len(b)-p)
		}
		if keep {
			w.putHeader(t, effVR, vl)
			w.out = append(w.out, b[p:p+int(vl)]...)
		}
		p += int(vl)
	}
	if untilDelim {
		return 0, errors.New("item without its delimiter")
	}
	return p, nil
}

// sequence walks the items of a sequence value starting at b[0].
func (w *walker) sequence(b []byte, vl uint32, depth int, discard bool) (int, error) {
	body := b
	if vl != undefinedLength {
		if int64(vl) > int64(len(b)) {
			return 0, fmt.Errorf("sequence claims %d bytes, %d remain", vl, len(b))
		}
		body = b[:vl]
	}
	p := 0
	for {
		if vl != undefinedLength && p == len(body) {
			return p, nil
		}
		if len(body)-p < 8 {
			return 0, errors.New("sequence is cut short")
		}
		t := Tag(uint32(w.bo.Uint16(body[p:]))<<16 | uint32(w.bo.Uint16(body[p+2:])))
		ivl := w.bo.Uint32(body[p+4:])
		p += 8
		switch t {
		case tagSequenceDelim:
			if vl != undefinedLength {
				// Tolerated: some writers end defined-length sequences with one.
				continue
			}
			return p, nil
		case tagItem:
		default:
			return 0, fmt.Errorf("%v where a sequence item was expected", t)
		}
		w.elements++
		if !discard {
			w.putItemHeader(tagItem, undefinedLength)
		}
		if ivl == undefinedLength {
			n, err := w.dataset(body[p:], depth, true, discard)
			if err != nil {
				return 0, err
			}
			p += n
		} else {
			if int64(ivl) > int64(len(body)-p) {
				return 0, fmt.Errorf("item claims %d bytes, %d remain", ivl, len(body)-p)
			}
			if _, err := w.dataset(body[p:p+int(ivl)], depth, false, discard); err != nil {
				return 0, err
			}
			p += int(ivl)
		}
		if !discard {
			w.putItemHeader(tagItemDelim, 0)
		}
	}
}
