package ui

import (
	"fmt"
	"strings"
	"time"
)

// Worklist statuses as the backend names them, and as people read them.
var statusWords = []struct{ code, words string }{
	{"SCHEDULED", "Scheduled"},
	{"STARTED", "Started"},
	{"COMPLETED", "Completed"},
	{"DISCONTINUED", "Discontinued"},
}

func statusText(code string) string {
	for _, s := range statusWords {
		if s.code == code {
			return s.words
		}
	}
	if code == "" {
		return ""
	}
	return strings.ToUpper(code[:1]) + strings.ToLower(code[1:])
}

func statusCode(words string) string {
	for _, s := range statusWords {
		if s.words == words {
			return s.code
		}
	}
	return ""
}

func dateText(t time.Time) string { return t.Format("Mon 2 Jan 2006") }

func timeText(t time.Time) string { return t.Format("15:04") }

// waitText says how long is left until t, in whole minutes or seconds.
func waitText(d time.Duration) string {
	switch {
	case d >= 90*time.Second:
		return fmt.Sprintf("%d minutes", int((d+30*time.Second)/time.Minute))
	case d > time.Second:
		return fmt.Sprintf("%d seconds", int(d.Round(time.Second)/time.Second))
	default:
		return "a moment"
	}
}

// modalitySetupText is what a technician types on a modality to reach the
// worklist server, and the same as plain text for the clipboard.
func modalitySetupText(ae string, port int, addrs []string) (line, clip string) {
	addr := "this computer's network address (none found: is the network cable in?)"
	if len(addrs) > 0 {
		addr = strings.Join(addrs, " or ")
	}
	line = fmt.Sprintf("On each modality enter AE title %s, port %d, address %s", ae, port, addr)
	clip = fmt.Sprintf("AE title: %s\nPort: %d\nAddress: %s\n", ae, port, addr)
	return line, clip
}
