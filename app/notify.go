package app

import (
	"fmt"
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

// referralNotice is the text of one new-referral notification. The owner's
// name is personal data and appears only when the clinic allows it.
func referralNotice(r Referral, showOwner bool) (title, message string) {
	exam := r.Exam
	if exam == "" {
		exam = r.Modality
	}
	title = "New imaging referral: " + exam
	var b strings.Builder
	b.WriteString(nonEmpty(r.PetName, "Unnamed patient"))
	if animal := joinNonEmpty(", ", r.Species, r.Breed); animal != "" {
		b.WriteString(" (" + animal + ")")
	}
	if showOwner && r.OwnerName != "" {
		b.WriteString(", owner " + r.OwnerName)
	}
	if r.RequestingVet != "" {
		b.WriteString("\nRequested by " + r.RequestingVet)
	}
	if r.Modality != "" {
		b.WriteString("\n" + r.Modality)
		if r.StationAE != "" {
			b.WriteString(" on " + r.StationAE)
		}
	}
	return title, b.String()
}

// summaryNotice replaces a flood of notifications after the first sync or a
// long offline spell.
func summaryNotice(n int) (title, message string) {
	if n == 1 {
		return "1 new imaging referral", "Open the worklist to see it."
	}
	return fmt.Sprintf("%d new imaging referrals", n), "Open the worklist to see them."
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
