package platform

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"syscall"
)

// PortError words a failed listen for a technician.
func PortError(port int, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE) || isAddrInUse(err):
		return fmt.Errorf("port %d is used by another program; choose another or close that program", port)
	case errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EACCES):
		return fmt.Errorf("port %d needs administrator rights on this computer; choose a port above 1023, such as 11112", port)
	}
	return fmt.Errorf("the worklist server cannot listen on port %d: %w", port, err)
}

// LANAddresses lists the addresses a modality on the LAN can reach this
// computer on: every private IPv4 address of an interface that is up.
func LANAddresses() []string {
	var out []string
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, ad := range addrs {
			if ipn, ok := ad.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsPrivate() {
				out = append(out, ipn.IP.String())
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
