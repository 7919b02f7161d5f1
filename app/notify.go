package app

import (
	"log/slog"
)

// Notifier shows a desktop notification. The app depends on this interface
// rather than beeep so tests can see what would have been shown and a
// headless server can log instead.
type Notifier interface {
	Notify(title, message string) error
}

// LogNotifier writes notifications to the log, for headless service mode and
// for machines without a notification service.
type LogNotifier struct{ Log *slog.Logger }

func (l LogNotifier) Notify(title, message string) error {
	l.Log.Info("notification", "title", title)
	return nil
}
