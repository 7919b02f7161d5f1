package scu

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// EncodeIdentifier encodes a flat C-FIND identifier from findscu-style keys
// ("QueryRetrieveLevel=STUDY", "PatientName" for a return key) in ts, with
// (0008,0005) ISO_IR 192 when a value is not ASCII: a Query/Retrieve
// identifier.
func EncodeIdentifier(ts TransferSyntax, keys ...string) ([]byte, error) {
	if ts.BigEndian && ts.Implicit {
		return nil, fmt.Errorf("implicit VR big endian is not a DICOM transfer syntax")
	}
	elems, _, err := keyElements(keys, false)
	if err != nil {
		return nil, err
	}
	return writeElements(elems, ts.BigEndian, ts.Implicit)
}

// EncodeWorklistQuery encodes a Modality Worklist query from findscu-style
// keys ("Modality=DX", "PatientName", or "SPS>Modality=DX"): Scheduled
// Procedure Step attributes go into its sequence by themselves, which is
// always sent, as modalities send it.
func EncodeWorklistQuery(keys []string, bigEndian, implicit bool) ([]byte, error) {
	top, sps, err := keyElements(keys, true)
	if err != nil {
		return nil, err
	}
	seq, err := dicom.NewElement(tag.ScheduledProcedureStepSequence, [][]*dicom.Element{sortElements(sps)})
	if err != nil {
		return nil, err
	}
	return writeElements(append(top, seq), bigEndian, implicit)
}

// spsKeys belong inside the Scheduled Procedure Step Sequence.
var spsKeys = map[tag.Tag]bool{
	tag.ScheduledStationAETitle: true, tag.ScheduledProcedureStepStartDate: true,
	tag.ScheduledProcedureStepStartTime: true, tag.Modality: true,
	tag.ScheduledPerformingPhysicianName: true, tag.ScheduledProcedureStepDescription: true,
	tag.ScheduledProcedureStepID: true, tag.ScheduledStationName: true,
	tag.ScheduledProcedureStepLocation: true, tag.ScheduledProcedureStepStatus: true,
}

// keyElements turns keys into elements: top level, and (with nest) the
// Scheduled Procedure Step attributes apart. A key may be written with a
// path ("SPS>Modality", "ScheduledProcedureStepSequence.Modality"); a
// repeated key counts once.
func keyElements(keys []string, nest bool) (top, sps []*dicom.Element, err error) {
	nonASCII := false
	seen := map[tag.Tag]bool{}
	for _, k := range keys {
		name, value, _ := strings.Cut(k, "=")
		name = strings.TrimSpace(name)
		if i := strings.LastIndexAny(name, ".>"); i >= 0 && nest {
			name = name[i+1:]
		}
		info, err := tag.FindByName(name)
		if err != nil {
			return nil, nil, fmt.Errorf("unknown key %q: use a DICOM keyword such as PatientName or Modality", name)
		}
		if info.Tag == tag.SpecificCharacterSet || info.Tag == tag.ScheduledProcedureStepSequence || seen[info.Tag] {
			continue
		}
		if info.VRs[0] == "SQ" {
			return nil, nil, fmt.Errorf("key %s is a sequence; give the keys inside it instead", name)
		}
		seen[info.Tag] = true
		if strings.ContainsFunc(value, func(r rune) bool { return r > 0x7e }) {
			nonASCII = true
		}
		if len(value)%2 == 1 && info.VRs[0] != "UI" {
			// PS3.5 6.2: text pads with a space. The library pads with NUL,
			// which DCMTK's wlmscpfs reads as part of a date range and then
			// matches nothing.
			value += " "
		}
		el, err := dicom.NewElement(info.Tag, []string{value})
		if err != nil {
			return nil, nil, fmt.Errorf("key %s: %w", name, err)
		}
		if nest && spsKeys[info.Tag] {
			sps = append(sps, el)
		} else {
			top = append(top, el)
		}
	}
	if nonASCII {
		cs, _ := dicom.NewElement(tag.SpecificCharacterSet, []string{"ISO_IR 192"})
		top = append(top, cs)
	}
	return top, sps, nil
}

func sortElements(es []*dicom.Element) []*dicom.Element {
	slices.SortFunc(es, func(a, b *dicom.Element) int {
		return cmp.Or(cmp.Compare(a.Tag.Group, b.Tag.Group), cmp.Compare(a.Tag.Element, b.Tag.Element))
	})
	return es
}

func writeElements(elems []*dicom.Element, bigEndian, implicit bool) ([]byte, error) {
	var buf bytes.Buffer
	w, err := dicom.NewWriter(&buf, dicom.SkipVRVerification())
	if err != nil {
		return nil, err
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		bo = binary.BigEndian
	}
	w.SetTransferSyntax(bo, implicit)
	for _, el := range sortElements(elems) {
		if err := w.WriteElement(el); err != nil {
			return nil, fmt.Errorf("encode key %v: %w", el.Tag, err)
		}
	}
	return buf.Bytes(), nil
}
