package dimse

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/vetbridge/vetbridge/dicom/pdu"
)

// FuzzDecodeCommand must never panic, and a command that decodes must
// re-encode to something that decodes to the same command. Seeds under
// testdata/fuzz/FuzzDecodeCommand are DCMTK echoscu/findscu command sets.
func FuzzDecodeCommand(f *testing.F) {
	f.Add(echoRQFromDCMTK)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCommand(b)
		if err != nil {
			return
		}
		enc, err := c.Encode(nil)
		if err != nil {
			t.Fatalf("re-encoding a decoded command: %v", err)
		}
		d, err := DecodeCommand(enc)
		if err != nil {
			t.Fatalf("decoding re-encoded command: %v\n% x", err, enc)
		}
		// Encoding adds the elements PS3.7 requires (e.g. a request's
		// message ID), so presence bookkeeping may differ; values may not.
		c.present, d.present = 0, 0
		if !reflect.DeepEqual(c, d) {
			t.Fatalf("round trip changed the command:\n%+v\n%+v", c, d)
		}
	})
}

// FuzzAssembler feeds arbitrary P-DATA-TF bodies to the assembler: no panic,
// and nothing larger than the configured bound may come out.
func FuzzAssembler(f *testing.F) {
	var fr Fragmenter
	b, _ := fr.Append(nil, 1, &Command{CommandField: CFindRQ, MessageID: 1, HasDataSet: true}, []byte{0x10, 0, 0x10, 0, 0, 0, 0, 0})
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		asm := Assembler{MaxDataSetLength: 4096}
		r := bytes.NewReader(data)
		for r.Len() > 0 {
			p, err := pdu.Read(r, 1<<16, nil)
			if err != nil {
				return
			}
			pd, ok := p.(*pdu.PDataTF)
			if !ok {
				continue
			}
			msgs, err := asm.Add(pd.PDVs)
			if err != nil {
				return
			}
			for _, m := range msgs {
				if len(m.Data) > 4096 {
					t.Fatalf("data set of %d bytes passed a 4096-byte bound", len(m.Data))
				}
				if m.Command.HasDataSet != (m.Data != nil) {
					t.Fatalf("HasDataSet %v but data %v", m.Command.HasDataSet, m.Data != nil)
				}
			}
		}
	})
}
