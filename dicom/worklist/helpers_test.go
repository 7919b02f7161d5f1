package worklist

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"
)

// dsBuilder hand-encodes data sets, so tests can send exactly the sloppy
// bytes real devices send (UN VRs, group lengths, private tags, odd charsets).
type dsBuilder struct {
	bo       byteOrder
	implicit bool
	b        []byte
}

func newBuilder(bigEndian, implicit bool) *dsBuilder {
	var bo byteOrder = binary.LittleEndian
	if bigEndian {
		bo = binary.BigEndian
	}
	return &dsBuilder{bo: bo, implicit: implicit}
}

func (d *dsBuilder) tag(t Tag) {
	d.b = d.bo.AppendUint16(d.b, t.group())
	d.b = d.bo.AppendUint16(d.b, t.element())
}

// el appends one element; value is padded to even length with pad.
func (d *dsBuilder) el(t Tag, vr string, value string) *dsBuilder {
	v := []byte(value)
	if len(v)%2 == 1 {
		if vr == "UI" {
			v = append(v, 0)
		} else {
			v = append(v, ' ')
		}
	}
	d.tag(t)
	if d.implicit {
		d.b = d.bo.AppendUint32(d.b, uint32(len(v)))
	} else {
		d.b = append(d.b, vr...)
		if longVL(vr) {
			d.b = append(d.b, 0, 0)
			d.b = d.bo.AppendUint32(d.b, uint32(len(v)))
		} else {
			d.b = d.bo.AppendUint16(d.b, uint16(len(v)))
		}
	}
	d.b = append(d.b, v...)
	return d
}

// seq appends an undefined-length sequence whose items the callbacks fill.
func (d *dsBuilder) seq(t Tag, items ...func(*dsBuilder)) *dsBuilder {
	d.tag(t)
	if d.implicit {
		d.b = d.bo.AppendUint32(d.b, undefinedLength)
	} else {
		d.b = append(d.b, 'S', 'Q', 0, 0)
		d.b = d.bo.AppendUint32(d.b, undefinedLength)
	}
	for _, fill := range items {
		d.tag(tagItem)
		d.b = d.bo.AppendUint32(d.b, undefinedLength)
		fill(d)
		d.tag(tagItemDelim)
		d.b = d.bo.AppendUint32(d.b, 0)
	}
	d.tag(tagSequenceDelim)
	d.b = d.bo.AppendUint32(d.b, 0)
	return d
}

func mustDecode(t *testing.T, b []byte, bigEndian, implicit bool) Query {
	t.Helper()
	q, err := DecodeQuery(b, bigEndian, implicit)
	if err != nil {
		t.Fatalf("DecodeQuery: %v", err)
	}
	return q
}

func keyValue(t *testing.T, q Query, tg Tag, inSPS bool) string {
	t.Helper()
	k, ok := q.Key(tg, inSPS)
	if !ok {
		t.Fatalf("key %v (SPS %v) missing from %+v", tg, inSPS, q.Keys)
	}
	return k.Value
}

// syntaxes are the three transfer syntaxes a device may negotiate.
var syntaxes = []struct {
	name                string
	bigEndian, implicit bool
}{
	{"ImplicitLE", false, true},
	{"ExplicitLE", false, false},
	{"ExplicitBE", true, false},
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// matches runs the predicates alone, without the index: the reference the
// index and Explain are checked against.
func matches(q Query, it Item) bool {
	c := compile(q)
	for i := range c.preds {
		if !c.preds[i].test(&it) {
			return false
		}
	}
	return true
}

// indexMatch returns what the index answers q with, in schedule order.
func indexMatch(x *Index, q Query) []Item {
	return sortedCopies(sortItems(x.match(compile(q))))
}

func indexGet(x *Index, key string) (Item, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.byKey[key]
	if !ok {
		return Item{}, false
	}
	return *cloneItem(e.Item), true
}

// encode is one answer encoded on its own, without a plan: the reference
// the answer plan is checked against.
func encode(item Item, q Query, cs Charset, bigEndian, implicit bool) ([]byte, error) {
	if bigEndian && implicit {
		return nil, fmt.Errorf("implicit VR big endian is not a DICOM transfer syntax")
	}
	out := answerElements(&item, &q)
	return encodeElements(out, resolveCharset(cs, q.CharacterSet, out), false, bigEndian, implicit)
}
