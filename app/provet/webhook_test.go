package provet

import (
	"strings"
	"testing"
)

func TestParseWebhook(t *testing.T) {
	for _, tc := range []struct {
		name, ctype, body string
		want              WebhookEvent
	}{
		{"form", "application/x-www-form-urlencoded", "diagnosticimagingworklist_id=42&provet_id=4&provet_url=https%3A%2F%2Fprovetcloud.com%2F4%2F",
			WebhookEvent{WorklistID: 42, ProvetID: "4", ProvetURL: "https://provetcloud.com/4/"}},
		{"form with charset and event", "application/x-www-form-urlencoded; charset=utf-8", "event=diagnosticimagingworklist_delete&diagnosticimagingworklist_id=7",
			WebhookEvent{WorklistID: 7, Event: "diagnosticimagingworklist_delete", Kind: WebhookDeleted}},
		{"json", "application/json", `{"diagnosticimagingworklist_id": 9, "provet_id": 4, "event_type": "update"}`,
			WebhookEvent{WorklistID: 9, ProvetID: "4", Event: "update", Kind: WebhookUpdated}},
		{"json id as text", "application/json; charset=utf-8", `{"diagnosticimagingworklist_id":"12","action":"created"}`,
			WebhookEvent{WorklistID: 12, Event: "created", Kind: WebhookCreated}},
		{"json id as URL", "", ` {"diagnosticimagingworklist_id":"https://provetcloud.com/4/api/0.1/diagnosticimaging_worklist/15/"}`,
			WebhookEvent{WorklistID: 15}},
		{"sniffed form", "", "diagnosticimagingworklist_id=3", WebhookEvent{WorklistID: 3}},
	} {
		got, err := ParseWebhook(tc.ctype, []byte(tc.body))
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ name, ctype, body, msg string }{
		{"no id", "application/x-www-form-urlencoded", "provet_id=4", "names no diagnosticimagingworklist_id"},
		{"zero id", "application/json", `{"diagnosticimagingworklist_id":0}`, "not a positive whole number"},
		{"bad json", "application/json", `{"diagnosticimagingworklist_id":`, "JSON"},
		{"array", "application/json", `[1]`, "JSON"},
		{"xml", "application/xml", `<id>1</id>`, "form-encoded or JSON"},
		{"object id", "application/json", `{"diagnosticimagingworklist_id":{"id":1}}`, "expected a string or number"},
		{"huge", "", strings.Repeat("a", MaxWebhookBody+1), "over"},
	} {
		if _, err := ParseWebhook(tc.ctype, []byte(tc.body)); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.msg)
		}
	}
}
