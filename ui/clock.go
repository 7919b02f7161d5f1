package ui

import "time"

// clock is the UI's source of time for anything it waits on (the undo window
// of Mark done, how long a sign-in still waits), so tests can move time on
// instead of sleeping.
type clock interface {
	Now() time.Time
	// AfterFunc runs f on its own goroutine after d; stop cancels it.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
