package app

import "runtime/debug"

// ReleaseMemory gives start-up memory back to the system once the app has
// settled: the garbage of the first load and sync, and the database pages
// read meanwhile through the store's map (they stay in the page cache and
// come back on the next read). A workstation app and a server idle for
// days; their resident memory should be what they need, not what start-up
// touched.
func (a *App) ReleaseMemory() {
	debug.FreeOSMemory()
	a.store.ReleaseMapped()
}
