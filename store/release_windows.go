package store

import (
	"errors"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/windows"
)

// ReleaseMapped takes the database pages read so far out of the working
// set: unlocking pages that were never locked does that (VirtualUnlock's
// documented side effect). They come back on the next read.
func (s *Store) ReleaseMapped() {
	_ = s.db.View(func(tx *bolt.Tx) error {
		err := windows.VirtualUnlock(s.db.Info().Data, uintptr(tx.Size()))
		if errors.Is(err, windows.ERROR_NOT_LOCKED) {
			return nil
		}
		return err
	})
}
