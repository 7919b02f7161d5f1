package scu_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/vetbridge/vetbridge/dicom/scu"
)

func needBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian package dcmtk); skipping interop test", name)
	}
	return p
}

func byteOrder(ts scu.TransferSyntax) binary.ByteOrder {
	if ts.BigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// encode builds a data set with the library in ts. Values are strings, or
// a nested [][]*dicom.Element for sequences.
func encode(ts scu.TransferSyntax, elems ...*dicom.Element) ([]byte, error) {
	var buf bytes.Buffer
	w, err := dicom.NewWriter(&buf, dicom.SkipVRVerification())
	if err != nil {
		return nil, err
	}
	w.SetTransferSyntax(byteOrder(ts), ts.Implicit)
	for _, e := range elems {
		if err := w.WriteElement(e); err != nil {
			return nil, fmt.Errorf("writing %v: %w", e.Tag, err)
		}
	}
	return buf.Bytes(), nil
}

func mustElem(t testing.TB, tg tag.Tag, v any) *dicom.Element {
	t.Helper()
	e, err := dicom.NewElement(tg, v)
	if err != nil {
		t.Fatalf("element %v: %v", tg, err)
	}
	return e
}

// decode parses a raw data set in ts and returns the first string value of
// each top-level element.
func decode(ts scu.TransferSyntax, b []byte) (map[tag.Tag]string, error) {
	// NewParser peeks 100 bytes to guess a syntax even with the metadata
	// skipped; padding beyond the bytesToRead bound satisfies it and is
	// never parsed.
	padded := io.MultiReader(bytes.NewReader(b), bytes.NewReader(make([]byte, 100)))
	p, err := dicom.NewParser(padded, int64(len(b)), nil, dicom.SkipMetadataReadOnNewParserInit())
	if p == nil {
		return nil, fmt.Errorf("creating parser: %w", err)
	}
	p.SetTransferSyntax(byteOrder(ts), ts.Implicit)
	out := map[tag.Tag]string{}
	for {
		e, err := p.Next()
		if errors.Is(err, dicom.ErrorEndOfDICOM) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parsing: %w", err)
		}
		if v, ok := e.Value.GetValue().([]string); ok && len(v) > 0 {
			out[e.Tag] = v[0]
		}
	}
}
