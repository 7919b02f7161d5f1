//go:build !windows

package app

func isAddrInUse(error) bool { return false }
