//go:build !windows

package platform

func isAddrInUse(error) bool { return false }
