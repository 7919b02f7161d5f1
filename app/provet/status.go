package provet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Writing a wrong status into the clinic's record is the worst thing
// VetBridge can do, and Provet has not published its status values. So a
// status is only written when (1) someone has confirmed the mapping's status
// values against Provet's own screens (Options.StatusesConfirmed, keyed by
// StatusFingerprint so that changing the mapping withdraws the confirmation)
// and (2) the order's current raw status is one the mapping knows.

var (
	// ErrStatusesUnconfirmed: nobody has confirmed the status mapping yet,
	// or it changed since; the update must wait.
	ErrStatusesUnconfirmed = errors.New("Provet's status values are not confirmed")
	// ErrStatusUnknown: the order's current status is a raw value the
	// mapping does not know, so the mapping does not fit this tenant.
	ErrStatusUnknown = errors.New("the order's status value is not in the mapping")
)

// StatusFingerprint identifies the status part of the mapping: the status
// key and every state's raw values in order (the first is the one written).
// A confirmation recorded against one fingerprint does not hold for another.
func (m *Mapping) StatusFingerprint() string {
	var b strings.Builder
	b.WriteString("v1\x00")
	b.WriteString(m.Worklist.Status)
	for s := StatusRequested; s <= StatusCancelled; s++ {
		b.WriteString("\x00" + s.String() + "=")
		for i, v := range m.StatusValues[s] {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(strings.ToLower(strings.TrimSpace(v)))
		}
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}

// StatusFilterForm is how the worklist's status__in filter is spelt for this
// tenant; Provet documents field__in=[v1,v2] but whether the brackets are
// literal is unknown. Doctor finds out (Report.StatusFilter).
type StatusFilterForm int

const (
	StatusFilterComma    StatusFilterForm = iota // status__in=1,2 (the default)
	StatusFilterBrackets                         // status__in=[1,2]
	// StatusFilterNone: the tenant honours neither; no status filter is
	// sent and the items are filtered on our side only.
	StatusFilterNone
)

var filterFormNames = [...]string{"comma", "brackets", "none"}

func (f StatusFilterForm) String() string {
	if f < 0 || int(f) >= len(filterFormNames) {
		return "comma"
	}
	return filterFormNames[f]
}

// ParseStatusFilterForm reads what String wrote; "" is the default comma form.
func ParseStatusFilterForm(s string) (StatusFilterForm, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "comma":
		return StatusFilterComma, nil
	case "brackets":
		return StatusFilterBrackets, nil
	case "none":
		return StatusFilterNone, nil
	}
	return StatusFilterComma, fmt.Errorf("status filter form %q: use comma, brackets or none", s)
}

// spell writes the status__in value in this form.
func (f StatusFilterForm) spell(vals []string) string {
	v := strings.Join(vals, ",")
	if f == StatusFilterBrackets {
		return "[" + v + "]"
	}
	return v
}

// checkConfirmed applies the confirmation gate.
func (c *Client) checkConfirmed() error {
	if c.confirmed == nil {
		return nil
	}
	if fp := c.mapping.StatusFingerprint(); !c.confirmed(fp) {
		return fmt.Errorf("%w (mapping %s): run `vetbridge statuses`, compare the values with Provet's screens and confirm them; status updates wait until then", ErrStatusesUnconfirmed, fp)
	}
	return nil
}

// StatusOutcome says what AdvanceStatus did.
type StatusOutcome int

const (
	StatusSent    StatusOutcome = iota // PATCHed; After is Provet's answer
	StatusAlready                      // the order already had the target status
	StatusClosed                       // completed or cancelled in Provet: never reopened
	StatusBehind                       // Provet already has a later state: never moved backwards
)

var outcomeNames = [...]string{"sent", "already", "closed", "behind"}

func (o StatusOutcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return "unknown"
	}
	return outcomeNames[o]
}

// StatusChange is the result of AdvanceStatus.
type StatusChange struct {
	Outcome StatusOutcome
	Before  *WorklistItem // the order as read before deciding
	After   *WorklistItem // Provet's answer to the PATCH; nil unless sent (or on 204)
}

// stage orders the states; cancelled is terminal like completed.
func stage(s Status) int {
	switch s {
	case StatusRequested:
		return 1
	case StatusInProgress:
		return 2
	case StatusCompleted, StatusCancelled:
		return 3
	}
	return 0
}

// AdvanceStatus moves an order forward to target, reading it first: it never
// PATCHes when the status mapping is unconfirmed (ErrStatusesUnconfirmed),
// when the order's current raw status is unknown to the mapping
// (ErrStatusUnknown), when Provet closed the order (StatusClosed) or when it
// already holds a later state (StatusBehind). A deleted order answers
// ErrNotFound.
func (c *Client) AdvanceStatus(ctx context.Context, id int64, target Status) (StatusChange, error) {
	if err := c.checkConfirmed(); err != nil {
		return StatusChange{}, err
	}
	if stage(target) == 0 {
		return StatusChange{}, fmt.Errorf("status %s cannot be written to Provet", target)
	}
	before, err := c.WorklistItem(ctx, id)
	if err != nil {
		return StatusChange{}, err
	}
	ch := StatusChange{Before: before}
	switch {
	case before.Status == StatusUnknown:
		return ch, fmt.Errorf("order %d: %w: Provet says %q; run `vetbridge statuses` and fix the status mapping before any update is sent", id, ErrStatusUnknown, before.StatusRaw)
	case before.Status == target:
		ch.Outcome = StatusAlready
		return ch, nil
	case before.Status == StatusCompleted || before.Status == StatusCancelled:
		ch.Outcome = StatusClosed
		return ch, nil
	case stage(before.Status) > stage(target):
		ch.Outcome = StatusBehind
		return ch, nil
	}
	ch.After, err = c.SetWorklistStatus(ctx, id, target)
	ch.Outcome = StatusSent
	return ch, err
}

// MarshalText and UnmarshalText let configuration and the local API keep the
// form as its name.
func (f StatusFilterForm) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

func (f *StatusFilterForm) UnmarshalText(b []byte) error {
	v, err := ParseStatusFilterForm(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// MarshalText writes the outcome's name.
func (o StatusOutcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }
