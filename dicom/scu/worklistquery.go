package scu

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// spsKeys belong inside the Scheduled Procedure Step Sequence.
var spsKeys = map[tag.Tag]bool{
	tag.ScheduledStationAETitle: true, tag.ScheduledProcedureStepStartDate: true,
	tag.ScheduledProcedureStepStartTime: true, tag.Modality: true,
	tag.ScheduledPerformingPhysicianName: true, tag.ScheduledProcedureStepDescription: true,
	tag.ScheduledProcedureStepID: true, tag.ScheduledStationName: true,
	tag.ScheduledProcedureStepLocation: true, tag.ScheduledProcedureStepStatus: true,
}

// EncodeWorklistQuery encodes a worklist query from findscu-style keys
// ("Modality=DX", "PatientName"), in UTF-8 with (0008,0005) when needed.
func EncodeWorklistQuery(keys []string, bigEndian, implicit bool) ([]byte, error) {
	var top, sps []*dicom.Element
	nonASCII := false
	for _, k := range keys {
		name, value, _ := strings.Cut(k, "=")
		name = strings.TrimSpace(name)
		if i := strings.LastIndexAny(name, ".>"); i >= 0 {
			name = name[i+1:]
		}
		info, err := tag.FindByName(name)
		if err != nil {
			return nil, fmt.Errorf("unknown key %q: use a DICOM keyword such as PatientName or Modality", name)
		}
		if info.Tag == tag.SpecificCharacterSet || info.Tag == tag.ScheduledProcedureStepSequence {
			continue
		}
		for _, r := range value {
			if r > 0x7e {
				nonASCII = true
			}
		}
		if len(value)%2 == 1 && info.VRs[0] != "UI" {
			// PS3.5 6.2: text pads with a space. The library pads with NUL,
			// which DCMTK's wlmscpfs reads as part of a date range and then
			// matches nothing.
			value += " "
		}
		el, err := dicom.NewElement(info.Tag, []string{value})
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", name, err)
		}
		if spsKeys[info.Tag] {
			sps = append(sps, el)
		} else {
			top = append(top, el)
		}
	}
	if nonASCII {
		cs, _ := dicom.NewElement(tag.SpecificCharacterSet, []string{"ISO_IR 192"})
		top = append(top, cs)
	}
	seq, err := dicom.NewElement(tag.ScheduledProcedureStepSequence, [][]*dicom.Element{sortElements(sps)})
	if err != nil {
		return nil, err
	}
	top = append(top, seq)
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
	for _, el := range sortElements(top) {
		if err := w.WriteElement(el); err != nil {
			return nil, fmt.Errorf("encode the query: %w", err)
		}
	}
	return buf.Bytes(), nil
}

func sortElements(es []*dicom.Element) []*dicom.Element {
	sort.Slice(es, func(i, j int) bool {
		a, b := es[i].Tag, es[j].Tag
		return a.Group < b.Group || (a.Group == b.Group && a.Element < b.Element)
	})
	return es
}
