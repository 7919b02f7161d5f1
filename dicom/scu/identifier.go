package scu

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// EncodeIdentifier encodes a flat C-FIND identifier from findscu-style keys
// ("QueryRetrieveLevel=STUDY", "PatientName" for a return key) in ts, with
// (0008,0005) ISO_IR 192 when a value is not ASCII. Query/Retrieve
// identifiers are flat; worklist queries, which nest keys in the Scheduled
// Procedure Step Sequence, are not built here.
func EncodeIdentifier(ts TransferSyntax, keys ...string) ([]byte, error) {
	if ts.BigEndian && ts.Implicit {
		return nil, fmt.Errorf("implicit VR big endian is not a DICOM transfer syntax")
	}
	elems := make([]*dicom.Element, 0, len(keys)+1)
	nonASCII := false
	seen := map[tag.Tag]bool{}
	for _, k := range keys {
		name, value, _ := strings.Cut(k, "=")
		name = strings.TrimSpace(name)
		info, err := tag.FindByName(name)
		if err != nil {
			return nil, fmt.Errorf("unknown key %q: use a DICOM keyword such as PatientID or StudyDate", name)
		}
		if info.Tag == tag.SpecificCharacterSet || seen[info.Tag] {
			continue
		}
		if info.VRs[0] == "SQ" {
			return nil, fmt.Errorf("key %s is a sequence; query/retrieve identifiers here are flat", name)
		}
		seen[info.Tag] = true
		for _, r := range value {
			if r > 0x7e {
				nonASCII = true
			}
		}
		if len(value)%2 == 1 && info.VRs[0] != "UI" {
			// PS3.5 6.2: text pads with a space. The library pads with NUL,
			// which some servers read as part of the value.
			value += " "
		}
		el, err := dicom.NewElement(info.Tag, []string{value})
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", name, err)
		}
		elems = append(elems, el)
	}
	if nonASCII {
		cs, _ := dicom.NewElement(tag.SpecificCharacterSet, []string{"ISO_IR 192"})
		elems = append(elems, cs)
	}
	slices.SortFunc(elems, func(a, b *dicom.Element) int {
		if a.Tag.Group != b.Tag.Group {
			return int(a.Tag.Group) - int(b.Tag.Group)
		}
		return int(a.Tag.Element) - int(b.Tag.Element)
	})
	var buf bytes.Buffer
	w, err := dicom.NewWriter(&buf, dicom.SkipVRVerification())
	if err != nil {
		return nil, err
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if ts.BigEndian {
		bo = binary.BigEndian
	}
	w.SetTransferSyntax(bo, ts.Implicit)
	for _, el := range elems {
		if err := w.WriteElement(el); err != nil {
			return nil, fmt.Errorf("encoding key %v: %w", el.Tag, err)
		}
	}
	return buf.Bytes(), nil
}
