package records

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// startShapes are records as Encode writes them, in the variety a clinic
// produces: codes present and absent, no microchip, escapes, every script.
func startShapes(t testing.TB) [][]byte {
	full := testRecord(1, provet.StatusRequested)
	full.Item.BreedCode = &worklist.Code{Value: "12", Scheme: "99PROVET", Meaning: "Labrador \"Lab\""}
	full.Item.RequestedProcedureCode = &worklist.Code{}
	full.Item.PatientWeightKg = 31.25
	full.Item.Updated = time.Date(2026, 11, 29, 10, 4, 5, 123456789, time.FixedZone("EET", 2*3600))
	full.Item.PatientComments = "Ωμέγα\tÿ\u2028 <tag> & \\ /"
	bare := testRecord(2, provet.StatusCompleted)
	bare.Item.OtherPatientIDs, bare.Item.SpeciesCode, bare.Audit = nil, nil, nil
	bare.Item.PatientWeightKg = 1e-7
	empty := Record{Item: worklist.Item{Key: "k", OtherPatientIDs: []string{}}}
	var out [][]byte
	for _, r := range []Record{full, bare, empty} {
		b, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return append(out,
		[]byte(`{"item":{"Key":"a","PatientName":"X","Updated":null,"SpeciesCode":null,"PatientWeightKg":null},"provet_state":null}`),
		[]byte(` { "provet_state" : "requested" , "item" : { "Key" : "a" , "Unknown" : [1, {"x": [true, false, null]}, -0.5e+3] } } `),
	)
}

// TestDecodeStartTakesTheFastPath: what Encode writes never needs
// encoding/json, or the fast path buys nothing.
func TestDecodeStartTakesTheFastPath(t *testing.T) {
	for i, b := range startShapes(t) {
		var fast, slow startView
		if !decodeStartFast(b, &fast) {
			t.Errorf("shape %d left to encoding/json:\n%s", i, b)
			continue
		}
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("shape %d:\nfast %+v\njson %+v", i, fast, slow)
		}
	}
}

// TestDecodeStartLeavesDoubtToJSON: inputs where a hand decoder would
// easily differ from encoding/json go to it.
func TestDecodeStartLeavesDoubtToJSON(t *testing.T) {
	for _, s := range []string{
		`{"ITEM":{"Key":"a"}}`,           // keys match regardless of case
		`{"item":{"key":"a"}}`,           //
		`{"item":{"Key":"a","Key":"b"}}`, // duplicates merge
		`{"item":{"Key":"a"},"item":{"Modality":"DX"}}`,
		`{"item":{"SpeciesCode":{"value":"1"}}}`,
		`{"item":{"Key":"\xff"}}`,            // invalid UTF-8 is replaced
		`{"it\u0065m":{"Key":"a"}}`,          // escaped key
		`{"provet_ſtate":"completed"}`,       // long s folds to s
		`{"item":{"PatientWeightKg":1e999}}`, // out of range
		`{"item":{"Key":1}}`,                 // wrong type
		`{"item":{"Key":"a"}} x`,             // trailing data
	} {
		var v startView
		if decodeStartFast([]byte(s), &v) {
			t.Errorf("%s decoded by hand", s)
		}
	}
}

// FuzzDecodeStart holds the hand decoder to encoding/json: whenever it
// decodes, encoding/json accepts the input and gives the same value.
func FuzzDecodeStart(f *testing.F) {
	for _, b := range startShapes(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"item":{"OtherPatientIDs":["a","b\n"],"Updated":"2026-11-29T10:00:00Z"},"audit":[{"at":"x"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast, slow startView
		if !decodeStartFast(b, &fast) {
			return
		}
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatalf("decoded by hand, refused by encoding/json (%v):\n%q", err, b)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %+v\njson %+v", b, fast, slow)
		}
	})
}

func BenchmarkDecodeStart(b *testing.B) {
	rec, err := testRecord(1, provet.StatusRequested).Encode()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("hand", func(b *testing.B) {
		for b.Loop() {
			var v startView
			if err := decodeStart(rec, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var v startView
			if err := json.Unmarshal(rec, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
