//go:build linux

package store

import (
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// ReleaseMapped tells the kernel that the process no longer needs the
// database pages it has read through bbolt's memory map: Open's checks read
// every page and the worklist load most. They stay in the page cache and
// come back on the next read, but stop counting in the process's resident
// memory, which matters for a server that idles for days. The read
// transaction keeps bbolt from remapping meanwhile.
func (s *Store) ReleaseMapped() {
	_ = s.db.View(func(tx *bolt.Tx) error {
		_, _, errno := unix.Syscall(unix.SYS_MADVISE, s.db.Info().Data, uintptr(tx.Size()), unix.MADV_DONTNEED)
		if errno != 0 {
			return errno
		}
		return nil
	})
}
