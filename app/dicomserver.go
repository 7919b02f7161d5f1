package app

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/app/devices"
	"github.com/vetbridge/vetbridge/app/platform"
	"github.com/vetbridge/vetbridge/dicom/scp"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// Device is a modality as the Modalities view shows it.
type Device = devices.Device

// dicomServer is one listening worklist server.
type dicomServer struct {
	addr   string
	cancel context.CancelFunc
	errc   chan error
}

func (s *dicomServer) stop() {
	s.cancel()
	<-s.errc
}

// runDICOM serves the worklist until ctx ends. Nothing listens on the LAN
// before first run is done. When the DICOM settings change, a server on a
// new address starts before the old one stops, so a port already in use
// leaves the working server in place.
func (a *App) runDICOM(ctx context.Context) error {
	for !a.Effective().SetupDone {
		select {
		case <-ctx.Done():
			return nil
		case <-a.dicomReload:
		}
	}
	cur, err := a.startDICOM(ctx, a.Effective().DICOM)
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			cur.stop()
			return nil
		case err := <-cur.errc:
			return fmt.Errorf("DICOM server: %w", err)
		case <-a.dicomReload:
			cfg := a.Effective().DICOM
			a.log.Info("DICOM settings changed; restarting the server")
			if listenAddr(cfg) == cur.addr {
				cur.stop()
				if cur, err = a.startDICOM(ctx, cfg); err != nil {
					return err
				}
				continue
			}
			next, err := a.startDICOM(ctx, cfg)
			if err != nil {
				continue // the status line says why; the old server stays
			}
			cur.stop()
			cur = next
		}
	}
}

func listenAddr(cfg DICOMConfig) string {
	return net.JoinHostPort(cfg.Listen, strconv.Itoa(cfg.Port))
}

func (a *App) startDICOM(ctx context.Context, cfg DICOMConfig) (*dicomServer, error) {
	return a.listenDICOM(ctx, cfg, true)
}

// listenDICOM starts a worklist server with cfg; announce makes it the
// one the status line names (first run's device listener is not).
func (a *App) listenDICOM(ctx context.Context, cfg DICOMConfig, announce bool) (*dicomServer, error) {
	addr := listenAddr(cfg)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		werr := platform.PortError(cfg.Port, err)
		a.setStatus(func(s *Status) {
			s.State = StateError
			s.Message = "The worklist server cannot start: " + werr.Error() + "."
		})
		return nil, werr
	}
	if announce {
		a.mu.Lock()
		a.dicomAddr = fmt.Sprintf("%s@%s", cfg.AETitle, dicomHostPort(ln.Addr()))
		a.dicomPort = ln.Addr().(*net.TCPAddr).Port
		a.mu.Unlock()
		a.log.Info("DICOM worklist server listening", "ae", cfg.AETitle, "addr", ln.Addr().String())
		a.hub.publish(Event{Kind: EventStatus})
	}
	srvCtx, cancel := context.WithCancel(ctx)
	s := &dicomServer{addr: addr, cancel: cancel, errc: make(chan error, 1)}
	sc := a.scpConfig(cfg)
	if !announce {
		// First run: the devices' profiles are still being set up, so the
		// admission reads the configuration as first run saves it, closed.
		sc.Admit = func(callingAE, _ string, ip netip.Addr) scp.Admission {
			d := a.Effective().DICOM
			d.OnlyKnownDevices = true
			return devices.Admit(d, callingAE, ip)
		}
	}
	srv := scp.New(sc)
	go func() { s.errc <- srv.Serve(srvCtx, ln) }()
	return s, nil
}

// dicomHostPort is the address to configure on modalities: the listener's
// port on this machine's LAN address when it listens on all interfaces.
func dicomHostPort(addr net.Addr) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
		if lan := platform.LANAddresses(); len(lan) > 0 {
			host = lan[0]
		}
	}
	return net.JoinHostPort(host, port)
}

func (a *App) scpConfig(cfg DICOMConfig) scp.Config {
	return scp.Config{
		AETitle:         cfg.AETitle,
		StrictCalledAE:  cfg.StrictCalledAE,
		MaxAssociations: cfg.MaxAssociations,
		// The policy answers from the configuration in memory: it runs for
		// every association request, strangers' included.
		Admit: func(callingAE, _ string, ip netip.Addr) scp.Admission {
			return devices.Admit(a.Effective().DICOM, callingAE, ip)
		},
		OnRefused: func(r scp.Refusal) {
			a.devices.Refused(r)
			a.hub.publish(Event{Kind: EventDevices})
		},
		Find: func(ctx context.Context, req scp.FindRequest, send func([]byte) error) uint16 {
			return a.wl.Find(ctx, worklist.Request{
				CallingAE: req.Peer.CallingAE, CalledAE: req.Peer.CalledAE, Addr: req.Peer.Addr,
				BigEndian: req.Syntax.BigEndian, Implicit: req.Syntax.Implicit, Identifier: req.Identifier,
			}, send)
		},
		MPPS:   a.out,
		Logger: a.log,
	}
}

// profileFor turns the configured device profile into the worklist's.
func (a *App) profileFor(callingAE string) worklist.Profile {
	p, _ := devices.Profile(a.Effective().DICOM, callingAE)
	return devices.WorklistProfile(p)
}

// recordQuery remembers the device and its query; the log line is Debug
// because a modality polls all day and a flood must not fill the disk.
func (a *App) recordQuery(q worklist.QueryRecord) {
	a.devices.Queried(q)
	a.log.Debug("worklist query", "calling_ae", q.CallingAE, "addr", q.Addr, "matches", q.Matches,
		"status", fmt.Sprintf("0x%04X", q.Status), "took", q.Duration.Round(time.Microsecond))
	a.hub.publish(Event{Kind: EventDevices})
}

// Devices lists the registered devices, those that queried and those
// refused; refused strangers first.
func (a *App) Devices() []Device { return a.devices.List(a.Effective().DICOM) }

// AllowDevice registers a calling AE title, from the given addresses or
// any; it may query at once.
func (a *App) AllowDevice(ctx context.Context, callingAE string, addrs []string) error {
	cfg := a.Config()
	d, err := devices.Allow(cfg.DICOM, callingAE, addrs)
	if err != nil {
		return err
	}
	cfg.DICOM = d
	if err := a.SaveConfig(ctx, cfg); err != nil {
		return err
	}
	a.devices.Forget(callingAE)
	a.log.Info("device allowed", "calling_ae", callingAE, "addrs", strings.Join(addrs, ","))
	a.hub.publish(Event{Kind: EventDevices})
	return nil
}

// RemoveDevice unregisters a calling AE title.
func (a *App) RemoveDevice(ctx context.Context, callingAE string) error {
	cfg := a.Config()
	d, err := devices.Remove(cfg.DICOM, callingAE)
	if err != nil {
		return err
	}
	cfg.DICOM = d
	if err := a.SaveConfig(ctx, cfg); err != nil {
		return err
	}
	a.hub.publish(Event{Kind: EventDevices})
	return nil
}

// Explain says whether the device with callingAE sees the referral.
func (a *App) Explain(key, callingAE string) Explanation {
	rec, ok := a.repo.Get(key)
	if !ok {
		return Explanation{CallingAE: callingAE, Reasons: []string{"This referral is no longer stored."}}
	}
	return a.devices.Explain(a.Effective().DICOM, rec, callingAE, a.now())
}
