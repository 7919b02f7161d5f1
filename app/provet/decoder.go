package provet

import "time"

// decoder reads fields from one object and keeps the first error, so a
// decoding function reads as a list of fields.
type decoder struct {
	o   object
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// id reads the integer id, falling back to the object's own URL.
func (d *decoder) id(idKey, urlKey string) int64 {
	id, err := d.o.int(idKey)
	if err != nil {
		d.fail(err)
		return 0
	}
	if id == 0 && urlKey != "" {
		if u, _ := d.o.str(urlKey); u != "" {
			id, _ = IDFromURL(u)
		}
	}
	return id
}

func (d *decoder) str(key string) string {
	s, err := d.o.str(key)
	d.fail(err)
	return s
}

func (d *decoder) int(key string) int64 {
	n, err := d.o.int(key)
	d.fail(err)
	return n
}

func (d *decoder) float(key string) *float64 {
	f, err := d.o.float(key)
	d.fail(err)
	return f
}

func (d *decoder) boolean(key string) bool {
	b, err := d.o.boolean(key)
	d.fail(err)
	return b
}

func (d *decoder) time(key string) time.Time {
	t, err := d.o.time(key)
	d.fail(err)
	return t
}

func (d *decoder) ref(key string) Ref {
	r, err := d.o.ref(key)
	d.fail(err)
	return r
}

func (d *decoder) refs(key string) []Ref {
	r, err := d.o.refs(key)
	d.fail(err)
	return r
}
