//go:build !linux && !windows

package store

// ReleaseMapped leaves the mapped pages to the system's own paging here.
func (s *Store) ReleaseMapped() {}
