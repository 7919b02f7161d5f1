package worklist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/suyashkumar/dicom"
	dtag "github.com/suyashkumar/dicom/pkg/tag"
)

const (
	explicitVRLittleEndian = "1.2.840.10008.1.2.1"
	implicitVRLittleEndian = "1.2.840.10008.1.2"
	explicitVRBigEndian    = "1.2.840.10008.1.2.2"
	// Worklist files carry the MWL FIND SOP class, as DCMTK's and Orthanc's do.
	mwlFindSOPClass = "1.2.840.10008.5.1.4.31"
	// implementationClassUID identifies files VetBridge wrote (a 2.25 UID
	// drawn once for this purpose).
	implementationClassUID = "2.25.184393220417830512766281305737436420353"
	implementationVersion  = "VETBRIDGE"
	maxFileBytes           = maxIdentifierBytes
)

// WriteFile writes item as a DICOM Part-10 worklist file (Explicit VR Little
// Endian, (0008,0005) always set) of the kind DCMTK wlmscpfs and Orthanc's
// worklist plugin serve unchanged. Text goes out in Latin-1 when it fits and
// UTF-8 otherwise, since those servers do not transcode.
func WriteFile(w io.Writer, item Item) error {
	q := Query{SPS: true}
	for _, a := range attrs {
		// wlmscpfs rejects a file whose code sequence is present but empty,
		// so an item without a code leaves the sequence out.
		if a.tag == tagSPSSequence || (a.code != nil && *a.code(&item) == nil) {
			continue
		}
		q.Keys = append(q.Keys, Key{Tag: a.tag, Name: a.keyword, VR: a.vr, InSPS: a.inSPS})
	}
	es := answerElements(&item, &q)
	cs := resolveCharset(CharsetAuto, "", es)
	body, err := encodeElements(es, cs, true, false, false)
	if err != nil {
		return err
	}
	meta := []*dicom.Element{}
	add := func(t dtag.Tag, v any) {
		if err != nil {
			return
		}
		var el *dicom.Element
		el, err = dicom.NewElement(t, v)
		meta = append(meta, el)
	}
	add(dtag.FileMetaInformationVersion, []byte{0, 1})
	add(dtag.MediaStorageSOPClassUID, []string{mwlFindSOPClass})
	add(dtag.MediaStorageSOPInstanceUID, []string{DerivedStudyInstanceUID("wl file " + item.Key + " " + item.StudyInstanceUID)})
	add(dtag.TransferSyntaxUID, []string{explicitVRLittleEndian})
	add(dtag.ImplementationClassUID, []string{implementationClassUID})
	add(dtag.ImplementationVersionName, []string{implementationVersion})
	if err != nil {
		return fmt.Errorf("building the worklist file header: %w", err)
	}
	// The library writes the header from meta elements; the body we already
	// encoded ourselves, so it is appended as bytes.
	var head bytes.Buffer
	if err := dicom.Write(&head, dicom.Dataset{Elements: meta}); err != nil {
		return fmt.Errorf("writing the worklist file header: %w", err)
	}
	if _, err := w.Write(head.Bytes()); err != nil {
		return fmt.Errorf("writing the worklist file: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("writing the worklist file: %w", err)
	}
	return nil
}

// ReadFile reads a worklist file written by WriteFile, DCMTK (dump2dcm) or
// Orthanc, for migration from a file-based server. Part-10 files and bare data
// sets are accepted. The item's Key is left empty: the caller names it.
func ReadFile(r io.Reader) (Item, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return Item{}, fmt.Errorf("reading the worklist file: %w", err)
	}
	if len(b) > maxFileBytes {
		return Item{}, fmt.Errorf("the worklist file is larger than %d bytes; it is not a worklist item", maxFileBytes)
	}
	body, ts, err := splitPart10(b)
	if err != nil {
		return Item{}, err
	}
	var ds dataSet
	switch ts {
	case explicitVRLittleEndian:
		ds, err = readDataSet(body, false, false)
	case implicitVRLittleEndian:
		ds, err = readDataSet(body, false, true)
	case explicitVRBigEndian:
		ds, err = readDataSet(body, true, false)
	case "":
		// A bare data set: try explicit, then implicit little endian.
		if ds, err = readDataSet(body, false, false); err != nil {
			ds, err = readDataSet(body, false, true)
		}
	default:
		return Item{}, fmt.Errorf("the worklist file uses transfer syntax %s; re-save it as Explicit VR Little Endian (dcmconv +te)", ts)
	}
	if err != nil {
		return Item{}, fmt.Errorf("reading the worklist file: %w", err)
	}
	return buildItem(ds), nil
}

// splitPart10 returns the data set after any Part-10 header, and the header's
// transfer syntax ("" when there is no header).
func splitPart10(b []byte) ([]byte, string, error) {
	p := 0
	if len(b) >= 132 && string(b[128:132]) == "DICM" {
		p = 132
	} else if len(b) < 4 || binary.LittleEndian.Uint16(b) != 0x0002 {
		return b, "", nil
	}
	ts := ""
	for len(b)-p >= 8 && binary.LittleEndian.Uint16(b[p:]) == 0x0002 {
		elem := binary.LittleEndian.Uint16(b[p+2:])
		vr := string(b[p+4 : p+6])
		var vl, hdr int
		if longVL(vr) {
			if len(b)-p < 12 {
				return nil, "", errors.New("the worklist file header is cut short")
			}
			vl, hdr = int(binary.LittleEndian.Uint32(b[p+8:])), 12
		} else {
			vl, hdr = int(binary.LittleEndian.Uint16(b[p+6:])), 8
		}
		if vl < 0 || vl > len(b)-p-hdr {
			return nil, "", errors.New("the worklist file header is damaged")
		}
		if elem == 0x0010 {
			ts = strings.Trim(string(b[p+hdr:p+hdr+vl]), " \x00")
		}
		p += hdr + vl
	}
	if ts == "" {
		return nil, "", errors.New("the worklist file header names no transfer syntax")
	}
	return b[p:], ts, nil
}

func buildItem(ds dataSet) Item {
	dec := newTextDecoder(ds.charset)
	var it Item
	set := func(el *dicom.Element, inSPS bool) {
		a := lookupAttr(elemTag(el), inSPS)
		if a == nil {
			return
		}
		switch {
		case a.code != nil:
			if items := seqItems(el); len(items) > 0 {
				c := codeOf(items[0], dec)
				// The protocol code mirrors the procedure code; the
				// procedure's own sequence wins.
				if *a.code(&it) == nil || a.tag != 0x00400008 {
					*a.code(&it) = &c
				}
			}
		case a.list != nil:
			for _, item := range seqItems(el) {
				if id := patientIDOf(item, dec); id != "" {
					*a.list(&it) = append(*a.list(&it), id)
				}
			}
		case a.set != nil:
			a.set(&it, elemString(el, dec))
		}
	}
	for _, el := range ds.elems {
		if elemTag(el) == tagSPSSequence {
			if items := seqItems(el); len(items) > 0 {
				for _, sub := range items[0] {
					set(sub, true)
				}
			}
			continue
		}
		set(el, false)
	}
	return it
}
