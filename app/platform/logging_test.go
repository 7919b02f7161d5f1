package platform

import (
	"bytes"
	"strings"
	"testing"
)

func TestLoggerRedactsPatientDataAndTokens(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, false)
	log.Info("new referral", "patient_name", "Mäkinen^Pörri", "token", "secret-token-value", "modality", "DX")
	out := buf.String()
	for _, leak := range []string{"Mäkinen", "secret-token-value"} {
		if strings.Contains(out, leak) {
			t.Errorf("log leaks %q: %s", leak, out)
		}
	}
	if !strings.Contains(out, "modality=DX") {
		t.Errorf("non-sensitive attributes must stay: %s", out)
	}
	buf.Reset()
	NewLogger(&buf, true).Debug("x", "patient_name", "Mäkinen^Pörri", "refresh_token", "rt-secret-42")
	if strings.Contains(buf.String(), "rt-secret-42") {
		t.Errorf("--debug must never show a token: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "Mäkinen") {
		t.Errorf("debug logging should show names for troubleshooting: %s", buf.String())
	}
}
