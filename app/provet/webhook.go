package provet

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"
)

// MaxWebhookBody bounds a webhook body; Provet's are a few fields.
const MaxWebhookBody = 64 << 10

// WebhookKind is what happened to the order, when the body says.
type WebhookKind int

const (
	WebhookUnknown WebhookKind = iota // the body names no event: treat as "changed"
	WebhookCreated
	WebhookUpdated
	WebhookDeleted
)

var webhookKindNames = [...]string{"unknown", "created", "updated", "deleted"}

func (k WebhookKind) String() string {
	if k < 0 || int(k) >= len(webhookKindNames) {
		return "unknown"
	}
	return webhookKindNames[k]
}

// WebhookEvent is what a Provet worklist webhook says.
type WebhookEvent struct {
	WorklistID int64  // diagnosticimagingworklist_id
	ProvetID   string // the tenant, when sent
	ProvetURL  string // when sent
	Event      string // the raw event name, when sent
	Kind       WebhookKind
}

// webhook keys: Provet documents diagnosticimagingworklist_id, provet_id and
// provet_url; how the event is named is not published, so a few plausible
// keys are read.
var (
	webhookIDKeys    = []string{"diagnosticimagingworklist_id", "diagnosticimaging_worklist_id", "worklist_id"}
	webhookEventKeys = []string{"event", "event_type", "type", "action", "hook", "webhook"}
)

// ParseWebhook reads a worklist webhook body, form-encoded (Provet's
// default) or JSON, as the Content-Type says; without one the body is
// sniffed. It fails when the body names no worklist order.
func ParseWebhook(contentType string, body []byte) (WebhookEvent, error) {
	if len(body) > MaxWebhookBody {
		return WebhookEvent{}, fmt.Errorf("webhook body of %d bytes is over %d", len(body), MaxWebhookBody)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	trimmed := bytes.TrimSpace(body)
	var fields func(key string) (string, error)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json") || (mt == "" && len(trimmed) > 0 && trimmed[0] == '{'):
		o, err := parseObject(trimmed)
		if err != nil {
			return WebhookEvent{}, fmt.Errorf("webhook JSON body: %w", err)
		}
		fields = o.str
	case mt == "" || mt == "application/x-www-form-urlencoded" || mt == "text/plain":
		v, err := url.ParseQuery(string(trimmed))
		if err != nil {
			return WebhookEvent{}, fmt.Errorf("webhook form body: %w", err)
		}
		fields = func(key string) (string, error) { return v.Get(key), nil }
	default:
		return WebhookEvent{}, fmt.Errorf("webhook body of type %q: Provet sends form-encoded or JSON bodies", mt)
	}
	first := func(keys []string) (string, error) {
		for _, k := range keys {
			s, err := fields(k)
			if err != nil {
				return "", err
			}
			if s = strings.TrimSpace(s); s != "" {
				return s, nil
			}
		}
		return "", nil
	}
	var ev WebhookEvent
	idText, err := first(webhookIDKeys)
	if err != nil {
		return ev, fmt.Errorf("webhook: %w", err)
	}
	if idText == "" {
		return ev, errors.New("webhook names no diagnosticimagingworklist_id: is it a worklist webhook?")
	}
	if ev.WorklistID, err = webhookID(idText); err != nil {
		return ev, err
	}
	if ev.ProvetID, err = fields("provet_id"); err != nil {
		return ev, fmt.Errorf("webhook: %w", err)
	}
	if ev.ProvetURL, err = fields("provet_url"); err != nil {
		return ev, fmt.Errorf("webhook: %w", err)
	}
	if ev.Event, err = first(webhookEventKeys); err != nil {
		return ev, fmt.Errorf("webhook: %w", err)
	}
	ev.Kind = webhookKindOf(ev.Event)
	return ev, nil
}

func webhookID(s string) (int64, error) {
	if strings.Contains(s, "/") {
		id, err := IDFromURL(s)
		if err != nil {
			return 0, fmt.Errorf("webhook diagnosticimagingworklist_id: %w", err)
		}
		return id, nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("webhook diagnosticimagingworklist_id %.40q is not a positive whole number", s)
	}
	return id, nil
}

func webhookKindOf(event string) WebhookKind {
	e := strings.ToLower(event)
	switch {
	case strings.Contains(e, "delete"), strings.Contains(e, "remove"):
		return WebhookDeleted
	case strings.Contains(e, "create"), strings.Contains(e, "add"), strings.Contains(e, "new"):
		return WebhookCreated
	case strings.Contains(e, "update"), strings.Contains(e, "change"), strings.Contains(e, "modif"):
		return WebhookUpdated
	}
	return WebhookUnknown
}
