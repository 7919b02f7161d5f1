package app

import (
	"log/slog"
	"strings"
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

func nonEmpty(s, fallback string) string {
	if strings.TrimSpace(s) == "" {
		return fallback
	}
	return s
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
