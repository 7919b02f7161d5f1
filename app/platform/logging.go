package platform

import (
	"io"
	"log/slog"
	"strings"
)

// personalKeys are log attribute keys whose values identify a patient or an
// owner: replaced unless the log level is Debug, because clinic logs end
// up in support tickets.
var personalKeys = map[string]bool{
	"patient": true, "patient_name": true, "pet": true, "owner": true, "owner_name": true,
	"responsible_person": true, "name": true, "email": true, "phone": true,
}

// secretKeys are credentials: replaced always, --debug included, since a
// token in a log is a sign-in anyone with the log can use.
var secretKeys = map[string]bool{
	"token": true, "access_token": true, "refresh_token": true, "code": true,
	"code_verifier": true, "verifier": true, "client_secret": true, "password": true,
	"authorization": true, "secret": true,
}

// Redacted replaces sensitive values in logs.
const Redacted = "[redacted]"

// NewLogger returns VetBridge's logger: text to w, personal data
// redacted unless debug is set, credentials always.
func NewLogger(w io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: redactor(debug)}))
}

func redactor(debug bool) func([]string, slog.Attr) slog.Attr {
	return func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
			return a
		}
		k := strings.ToLower(a.Key)
		if a.Value.Kind() != slog.KindGroup && (secretKeys[k] || (!debug && personalKeys[k])) {
			return slog.String(a.Key, Redacted)
		}
		return a
	}
}
