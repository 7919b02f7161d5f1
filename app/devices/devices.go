// Package devices is what VetBridge knows of the modalities on the LAN:
// which are registered (have a profile), which have queried and with what,
// and which were refused, so a new modality is allowed with one click. It
// also decides, per association request, who may connect: strangers get
// nothing unless the clinic has opened the worklist to every device.
package devices

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vetbridge/vetbridge/app/settings"
	"github.com/vetbridge/vetbridge/dicom/scp"
	"github.com/vetbridge/vetbridge/dicom/worklist"
	"github.com/vetbridge/vetbridge/store"
)

// Device is one modality as the Modalities view and `vetbridge devices`
// show it.
type Device struct {
	CallingAE string
	Addr      string    // where it last came from
	LastQuery time.Time // zero when it never got to query
	LastKeys  []string  // the matching keys of its last query, e.g. "Modality=DX"
	Returned  int       // items in its last answer
	Charset   string    // character set its answers are sent in
	Known     bool      // registered: has a profile of its own
	// Addrs are the addresses a registered device may come from; empty
	// means any.
	Addrs []string
	// Refused attempts: how often, last when, and why, since the device
	// was last allowed.
	Refused     int
	LastRefused time.Time
	RefusedWhy  string
}

// maxRefused bounds the refused devices remembered: a host cycling through
// made-up AE titles must not grow memory or the store without end.
const maxRefused = 256

// metaRefused is where refused attempts are kept across restarts.
const metaRefused = "devices.refused"

// refusal is one (calling AE, address) that was turned away.
type refusal struct {
	CallingAE string    `json:"ae"`
	Addr      string    `json:"addr"`
	Count     int       `json:"count"`
	Last      time.Time `json:"last"`
	Why       string    `json:"why"`
}

// Registry remembers devices. Refusals are kept in memory and written to
// the store by Run now and then: a stranger can knock many times a second.
type Registry struct {
	st  *store.Store
	log *slog.Logger

	mu      sync.Mutex
	refused map[string]*refusal // key: upper-case AE \x00 address
	dirty   bool
}

// Open loads what is remembered of refused devices.
func Open(st *store.Store, log *slog.Logger) *Registry {
	r := &Registry{st: st, log: log, refused: map[string]*refusal{}}
	if b, ok, err := st.GetMeta(metaRefused); err == nil && ok {
		var list []refusal
		if json.Unmarshal(b, &list) == nil {
			for i := range list {
				r.refused[refusalKey(list[i].CallingAE, list[i].Addr)] = &list[i]
			}
		}
	}
	return r
}

func refusalKey(ae, addr string) string {
	return strings.ToUpper(strings.TrimSpace(ae)) + "\x00" + addr
}

// Profile returns the registered profile for a calling AE title, or the
// default profile and false.
func Profile(cfg settings.DICOMConfig, callingAE string) (settings.DeviceProfile, bool) {
	for _, p := range cfg.Profiles {
		if strings.EqualFold(strings.TrimSpace(p.CallingAE), strings.TrimSpace(callingAE)) {
			return p, true
		}
	}
	return cfg.Default, false
}

// Admit is the admission policy: a registered device is admitted from its
// allowed addresses (any, when none are listed); a stranger only when the
// worklist is open to every device.
func Admit(cfg settings.DICOMConfig, callingAE string, ip netip.Addr) scp.Admission {
	p, known := Profile(cfg, callingAE)
	if !known {
		if cfg.OnlyKnownDevices {
			return scp.Admission{Refuse: scp.RefusedCallingAE, Detail: "not a registered device"}
		}
		return scp.Admission{}
	}
	if len(p.AllowedAddrs) == 0 {
		return scp.Admission{Registered: true}
	}
	for _, s := range p.AllowedAddrs {
		if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil && a.Unmap() == ip.Unmap() {
			return scp.Admission{Registered: true}
		}
	}
	return scp.Admission{Refuse: scp.RefusedAddress,
		Detail: fmt.Sprintf("registered only from %s", strings.Join(p.AllowedAddrs, ", "))}
}

// Refused remembers a refused attempt.
func (r *Registry) Refused(ev scp.Refusal) {
	addr := ev.IP.String()
	if !ev.IP.IsValid() {
		addr = ev.Addr
	}
	k := refusalKey(ev.CallingAE, addr)
	r.mu.Lock()
	defer r.mu.Unlock()
	rf, ok := r.refused[k]
	if !ok {
		if len(r.refused) >= maxRefused {
			r.evictOldest()
		}
		rf = &refusal{CallingAE: ev.CallingAE, Addr: addr}
		r.refused[k] = rf
	}
	rf.Count++
	rf.Last = ev.Time
	rf.Why = nonEmpty(ev.Detail, ev.Reason.String())
	r.dirty = true
}

func (r *Registry) evictOldest() {
	var oldest string
	for k, v := range r.refused {
		if oldest == "" || v.Last.Before(r.refused[oldest].Last) {
			oldest = k
		}
	}
	delete(r.refused, oldest)
}

// Forget drops what is remembered of refusals of a calling AE, as when it
// is allowed.
func (r *Registry) Forget(callingAE string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, v := range r.refused {
		if strings.EqualFold(v.CallingAE, callingAE) {
			delete(r.refused, k)
			r.dirty = true
		}
	}
}

// Run writes refusals to the store once a minute while they change, until
// ctx ends (and once more then).
func (r *Registry) Run(ctx context.Context) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.save()
			return nil
		case <-t.C:
			r.save()
		}
	}
}

func (r *Registry) save() {
	r.mu.Lock()
	if !r.dirty {
		r.mu.Unlock()
		return
	}
	list := make([]refusal, 0, len(r.refused))
	for _, v := range r.refused {
		list = append(list, *v)
	}
	r.dirty = false
	r.mu.Unlock()
	b, err := json.Marshal(list)
	if err == nil {
		err = r.st.PutMeta(metaRefused, b)
	}
	if err != nil {
		r.log.Warn("remember refused devices", "err", err)
	}
}

// seen is the stored record of a device's last query.
type seen struct {
	CallingAE string    `json:"calling_ae"`
	Addr      string    `json:"addr"`
	LastQuery time.Time `json:"last_query"`
	Keys      []string  `json:"keys"`
	Returned  int       `json:"returned"`
	Charset   string    `json:"charset"`
	Status    uint16    `json:"status"`
}

// Queried keeps every query in the bounded query log and remembers the
// device, so "why doesn't my modality see it?" can be answered later.
func (r *Registry) Queried(q worklist.QueryRecord) {
	if b, err := json.Marshal(q); err == nil {
		if err := r.st.AppendQuery(b); err != nil {
			r.log.Warn("query log", "err", err)
		}
	}
	d := seen{CallingAE: q.CallingAE, Addr: q.Addr, LastQuery: q.Time, Keys: q.Keys,
		Returned: q.Matches, Charset: q.Charset, Status: q.Status}
	if b, err := json.Marshal(d); err == nil {
		if err := r.st.PutDevice(q.CallingAE, b); err != nil {
			r.log.Warn("devices seen", "err", err)
		}
	}
}

// List is every device: registered ones, those that queried, and those
// refused; refused ones first, then the most recent.
func (r *Registry) List(cfg settings.DICOMConfig) []Device {
	byAE := map[string]*Device{}
	get := func(ae string) *Device {
		k := strings.ToUpper(strings.TrimSpace(ae))
		if d, ok := byAE[k]; ok {
			return d
		}
		d := &Device{CallingAE: ae}
		if p, known := Profile(cfg, ae); known {
			d.Known, d.Addrs = true, slices.Clone(p.AllowedAddrs)
		}
		byAE[k] = d
		return d
	}
	for _, p := range cfg.Profiles {
		get(p.CallingAE)
	}
	_ = r.st.Devices(func(ae string, data []byte) error {
		var s seen
		if json.Unmarshal(data, &s) == nil {
			d := get(s.CallingAE)
			d.Addr, d.LastQuery, d.LastKeys, d.Returned, d.Charset = s.Addr, s.LastQuery, s.Keys, s.Returned, s.Charset
		}
		return nil
	})
	r.mu.Lock()
	for _, rf := range r.refused {
		d := get(rf.CallingAE)
		d.Refused += rf.Count
		if rf.Last.After(d.LastRefused) {
			d.LastRefused, d.RefusedWhy = rf.Last, rf.Why
			if d.Addr == "" || rf.Last.After(d.LastQuery) {
				d.Addr = rf.Addr
			}
		}
	}
	r.mu.Unlock()
	out := make([]Device, 0, len(byAE))
	for _, d := range byAE {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(x, y Device) int {
		return cmp.Or(cmp.Compare(waitsForAllow(y), waitsForAllow(x)),
			latest(y).Compare(latest(x)), strings.Compare(x.CallingAE, y.CallingAE))
	})
	return out
}

// waitsForAllow ranks a refused stranger first: it is what the technician
// came to the Modalities view for.
func waitsForAllow(d Device) int {
	if d.Refused > 0 && !d.Known {
		return 1
	}
	return 0
}

func latest(d Device) time.Time {
	if d.LastRefused.After(d.LastQuery) {
		return d.LastRefused
	}
	return d.LastQuery
}

// Allow registers a calling AE (from the addresses given, or any), keeping
// its profile when it has one; the default profile's behaviour is copied
// for a new one. It returns the changed configuration.
func Allow(cfg settings.DICOMConfig, callingAE string, addrs []string) (settings.DICOMConfig, error) {
	callingAE = strings.TrimSpace(callingAE)
	if callingAE == "" || len(callingAE) > 16 {
		return cfg, fmt.Errorf("a device is named by its calling AE title: 1 to 16 characters")
	}
	for _, a := range addrs {
		if _, err := netip.ParseAddr(strings.TrimSpace(a)); err != nil {
			return cfg, fmt.Errorf("%q is not an IP address such as 192.168.1.20", a)
		}
	}
	for i, p := range cfg.Profiles {
		if strings.EqualFold(strings.TrimSpace(p.CallingAE), callingAE) {
			cfg.Profiles[i].AllowedAddrs = slices.Clone(addrs)
			return cfg, nil
		}
	}
	p := cfg.Default.Clone()
	p.CallingAE, p.AllowedAddrs = callingAE, slices.Clone(addrs)
	cfg.Profiles = append(cfg.Profiles, p)
	return cfg, nil
}

// Remove unregisters a calling AE; it is refused from then on when only
// registered devices may connect.
func Remove(cfg settings.DICOMConfig, callingAE string) (settings.DICOMConfig, error) {
	for i, p := range cfg.Profiles {
		if strings.EqualFold(strings.TrimSpace(p.CallingAE), strings.TrimSpace(callingAE)) {
			cfg.Profiles = slices.Delete(slices.Clone(cfg.Profiles), i, i+1)
			return cfg, nil
		}
	}
	return cfg, fmt.Errorf("no registered device is called %q; `vetbridge devices list` shows them", callingAE)
}

func nonEmpty(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
