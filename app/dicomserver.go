package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/dicom/scp"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// runDICOM serves the worklist until ctx ends, restarting the listener when
// the DICOM settings change.
func (a *App) runDICOM(ctx context.Context) error {
	for {
		cfg := a.Effective().DICOM
		srvCtx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		addr := net.JoinHostPort(cfg.Listen, strconv.Itoa(cfg.Port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			cancel()
			a.setStatus(func(s *Status) {
				s.State = StateError
				s.Message = fmt.Sprintf("The DICOM server cannot listen on port %d (is another worklist server running?): %v", cfg.Port, err)
			})
			return fmt.Errorf("listen on %s for DICOM: %w", addr, err)
		}
		a.mu.Lock()
		a.dicomAddr = fmt.Sprintf("%s@%s", cfg.AETitle, dicomHostPort(ln.Addr()))
		a.mu.Unlock()
		a.log.Info("DICOM worklist server listening", "ae", cfg.AETitle, "addr", ln.Addr().String())
		a.hub.publish(Event{Kind: EventStatus})
		srv := scp.New(a.scpConfig(cfg))
		go func() { errc <- srv.Serve(srvCtx, ln) }()
		select {
		case <-ctx.Done():
			cancel()
			<-errc
			return nil
		case <-a.dicomReload:
			a.log.Info("DICOM settings changed; restarting the server")
			cancel()
			<-errc
		case err := <-errc:
			cancel()
			return fmt.Errorf("DICOM server: %w", err)
		}
	}
}

// dicomHostPort is the address to configure on modalities: the listener's
// port on this machine's LAN address when it listens on all interfaces.
func dicomHostPort(addr net.Addr) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = lanAddress()
	}
	return net.JoinHostPort(host, port)
}

// lanAddress guesses the address modalities reach this workstation on: the
// first private IPv4 address of an interface that is up.
func lanAddress() string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "localhost"
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, ad := range addrs {
			if ipn, ok := ad.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsPrivate() {
				return ipn.IP.String()
			}
		}
	}
	return "localhost"
}

func (a *App) scpConfig(cfg DICOMConfig) scp.Config {
	return scp.Config{
		AETitle:          cfg.AETitle,
		StrictCalledAE:   cfg.StrictCalledAE,
		MaxAssociations:  cfg.MaxAssociations,
		AllowAssociation: a.allowAssociation,
		Find: func(ctx context.Context, req scp.FindRequest, send func([]byte) error) uint16 {
			return a.wl.Find(ctx, worklist.Request{
				CallingAE: req.Peer.CallingAE, CalledAE: req.Peer.CalledAE, Addr: req.Peer.Addr,
				BigEndian: req.Syntax.BigEndian, Implicit: req.Syntax.Implicit, Identifier: req.Identifier,
			}, send)
		},
		MPPS: a.out,
		OnAssociation: func(ev scp.AssociationEvent) {
			if ev.Kind == scp.Rejected {
				a.log.Warn("association rejected", "calling_ae", ev.Peer.CallingAE, "called_ae", ev.Peer.CalledAE,
					"addr", ev.Peer.Addr, "reason", ev.Reason)
			}
		},
		Logger: a.log,
	}
}

// allowAssociation applies the allow-lists: with OnlyKnownDevices only
// calling AE titles that have a profile may connect, and a device whose
// profile names addresses may only connect from them.
func (a *App) allowAssociation(callingAE, calledAE string, ip netip.Addr) error {
	p, ok := a.deviceProfile(callingAE)
	if !ok && a.Effective().DICOM.OnlyKnownDevices {
		return fmt.Errorf("calling AE %q has no device profile and only known devices may connect; add it in Settings", callingAE)
	}
	if !ok || len(p.AllowedAddrs) == 0 {
		return nil
	}
	for _, s := range p.AllowedAddrs {
		if allowed, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil && allowed.Unmap() == ip.Unmap() {
			return nil
		}
	}
	return fmt.Errorf("calling AE %q is only allowed from %s, not %s", callingAE, strings.Join(p.AllowedAddrs, ", "), ip)
}

func (a *App) deviceProfile(callingAE string) (DeviceProfile, bool) {
	cfg := a.Effective().DICOM
	for _, p := range cfg.Profiles {
		if strings.EqualFold(strings.TrimSpace(p.CallingAE), strings.TrimSpace(callingAE)) {
			return p, true
		}
	}
	return cfg.Default, false
}

// profileFor turns the configured device profile into the worklist's.
func (a *App) profileFor(callingAE string) worklist.Profile {
	p, _ := a.deviceProfile(callingAE)
	return toWorklistProfile(p)
}

func toWorklistProfile(p DeviceProfile) worklist.Profile {
	cs := worklist.CharsetAuto
	if p.Charset != "" && p.Charset != "auto" {
		if c, err := worklist.ParseCharset(p.Charset); err == nil {
			cs = c
		}
	}
	return worklist.Profile{
		Charset:            cs,
		StationFromCalling: p.StationFromCalling,
		DaysBefore:         p.DaysBefore,
		DaysAfter:          p.DaysAfter,
		ShowStarted:        p.ShowStarted,
		Modalities:         slices.Clone(p.Modalities),
	}
}

// deviceRecord is what the Modalities view shows about one device.
type deviceRecord struct {
	CallingAE string    `json:"calling_ae"`
	Addr      string    `json:"addr"`
	LastQuery time.Time `json:"last_query"`
	Keys      []string  `json:"keys"`
	Returned  int       `json:"returned"`
	Charset   string    `json:"charset"`
	Status    uint16    `json:"status"`
}

// recordQuery keeps every query in the bounded query log and remembers the
// device, so "why doesn't my modality see it?" can be answered later.
func (a *App) recordQuery(q worklist.QueryRecord) {
	b, err := json.Marshal(q)
	if err == nil {
		if err := a.store.AppendQuery(b); err != nil {
			a.log.Warn("query log", "err", err)
		}
	}
	d := deviceRecord{CallingAE: q.CallingAE, Addr: q.Addr, LastQuery: q.Time, Keys: q.Keys,
		Returned: q.Matches, Charset: q.Charset, Status: q.Status}
	if b, err := json.Marshal(d); err == nil {
		if err := a.store.PutDevice(q.CallingAE, b); err != nil {
			a.log.Warn("devices seen", "err", err)
		}
	}
	// Debug, not Info: a modality polls all day, and a flood of queries
	// must not fill the disk with log lines.
	a.log.Debug("worklist query", "calling_ae", q.CallingAE, "addr", q.Addr, "matches", q.Matches,
		"status", fmt.Sprintf("0x%04X", q.Status), "took", q.Duration.Round(time.Microsecond))
	a.hub.publish(Event{Kind: EventDevices})
}

// Devices lists every device that has queried the worklist, most recent first.
func (a *App) Devices() []Device {
	var out []Device
	_ = a.store.Devices(func(ae string, data []byte) error {
		var d deviceRecord
		if json.Unmarshal(data, &d) != nil {
			return nil
		}
		_, known := a.deviceProfile(ae)
		out = append(out, Device{CallingAE: d.CallingAE, Addr: d.Addr, LastQuery: d.LastQuery,
			LastKeys: d.Keys, Returned: d.Returned, Charset: d.Charset, Known: known})
		return nil
	})
	slices.SortFunc(out, func(x, y Device) int { return y.LastQuery.Compare(x.LastQuery) })
	return out
}

// Explain says whether the device with callingAE sees the referral, judged
// against the device's last logged query (or, when it never queried, a
// broad query shaped by its profile).
func (a *App) Explain(key, callingAE string) Explanation {
	ex := Explanation{CallingAE: callingAE}
	rec, ok := a.repo.Get(key)
	if !ok {
		ex.Reasons = []string{"This referral is no longer stored."}
		return ex
	}
	if !rec.OnWorklist() {
		ex.Reasons = []string{fmt.Sprintf("Provet marks this order %s, so it has left the worklist.", strings.ReplaceAll(rec.ProvetState, "_", " "))}
		return ex
	}
	q, when, found := a.lastQuery(callingAE)
	if !found {
		q = a.profileFor(callingAE).Apply(worklist.Query{}, callingAE, a.now())
	}
	reasons := worklist.Explain(q, rec.Item)
	for _, r := range reasons {
		ex.Reasons = append(ex.Reasons, r.Text)
	}
	ex.Visible = len(reasons) == 0
	switch {
	case !found:
		ex.Reasons = append([]string{fmt.Sprintf("%s has not queried the worklist yet; judged by its profile.", callingAE)}, ex.Reasons...)
	case ex.Visible:
		ex.Reasons = []string{fmt.Sprintf("%s's last query (%s) matches this referral.", callingAE, when.Format("15:04:05"))}
	}
	return ex
}

// lastQuery finds the newest logged query from a device.
func (a *App) lastQuery(callingAE string) (worklist.Query, time.Time, bool) {
	recent, err := a.store.RecentQueries(1000)
	if err != nil {
		return worklist.Query{}, time.Time{}, false
	}
	for _, b := range recent {
		var qr worklist.QueryRecord
		if json.Unmarshal(b, &qr) == nil && strings.EqualFold(qr.CallingAE, callingAE) {
			return qr.Query, qr.Time, true
		}
	}
	return worklist.Query{}, time.Time{}, false
}
