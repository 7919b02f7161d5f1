package app

import (
	"io"
	"log/slog"
	"strings"
)

// sensitiveKeys are log attribute keys whose values identify a patient, an
// owner or a credential. They are replaced unless the log level is Debug,
// because clinic logs end up in support tickets.
var sensitiveKeys = map[string]bool{
	"patient": true, "patient_name": true, "pet": true, "owner": true, "owner_name": true,
	"responsible_person": true, "name": true, "email": true, "phone": true,
	"token": true, "access_token": true, "refresh_token": true, "code": true,
	"code_verifier": true, "verifier": true, "client_secret": true, "password": true,
	"authorization": true,
}

// Redacted replaces sensitive values in logs.
const Redacted = "[redacted]"

// NewLogger returns the application's logger: text to w, sensitive attributes
// redacted unless debug is set.
func NewLogger(w io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if !debug {
		opts.ReplaceAttr = redactAttr
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func redactAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
		return a
	}
	if sensitiveKeys[strings.ToLower(a.Key)] && a.Value.Kind() != slog.KindGroup {
		return slog.String(a.Key, Redacted)
	}
	return a
}
