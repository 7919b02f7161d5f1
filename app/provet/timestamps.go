package provet

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Layouts Provet has been seen to emit, after a space separator has been
// normalised to 'T'. Go accepts fractional seconds after the seconds field
// even when the layout has none, so microseconds need no layout of their own.
var timeLayouts = []string{
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05Z07",
	"2006-01-02T15:04Z07:00",
}

// maxTimeLen bounds the input before any parsing work: the longest valid form
// is a nanosecond timestamp with an offset (35 bytes).
const maxTimeLen = 40

// ParseTime parses a Provet timestamp: ISO-8601 with a UTC offset or "Z",
// with or without (micro)seconds, with 'T' or a space between date and time,
// or a date alone (YYYY-MM-DD), which yields midnight UTC of that date.
// The offset is kept in the result's location, so callers can show the
// clinic's wall-clock time. A timestamp without an offset is rejected: its
// meaning would depend on a time zone we cannot know.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxTimeLen {
		return time.Time{}, fmt.Errorf("timestamp %.40q… is too long", s)
	}
	if len(s) == len("2006-01-02") {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("date %q is not YYYY-MM-DD: %w", s, err)
		}
		return t, nil
	}
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	var firstErr error
	for _, layout := range timeLayouts {
		t, err := time.Parse(layout, s)
		if err == nil {
			return t, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if len(s) >= 16 && !hasZone(s) {
		return time.Time{}, fmt.Errorf("timestamp %q has no UTC offset", s)
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not ISO-8601: %w", s, firstErr)
}

func hasZone(s string) bool {
	tail := s[11:] // after the date and 'T'
	return strings.ContainsAny(tail, "Zz+-")
}

// FilterTime formats t the way Provet's datetime filters expect it:
// "YYYY-MM-DD hh:mm+HH:MM", in t's own offset. The format has minute
// precision, so t is truncated down to the minute: a __gte filter then returns
// a little more than asked, never less.
func FilterTime(t time.Time) string {
	return t.Truncate(time.Minute).Format("2006-01-02 15:04-07:00")
}

// encodeQuery is url.Values.Encode with spaces as %20: Provet's filter
// datetimes contain both a space and a '+', and only %2B vs %20 keeps them
// unambiguous to every decoder.
func encodeQuery(v map[string][]string) string {
	var b strings.Builder
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, val := range v[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(queryEscape(k))
			b.WriteByte('=')
			b.WriteString(queryEscape(val))
		}
	}
	return b.String()
}

func queryEscape(s string) string {
	// QueryEscape writes a literal '+' as %2B, so every '+' left is a space.
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
