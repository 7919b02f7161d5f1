package worklist

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Reason says, in a technician's words, why one key excluded an item.
type Reason struct {
	Key  string `json:"key"`  // e.g. "SPS>Modality"
	Want string `json:"want"` // what the device (or its profile) asked for
	Have string `json:"have"` // what the item holds
	Text string `json:"text"`
}

// Explain lists the keys of q that exclude item, and why. An empty result
// means the item matches. It runs the very predicates matching runs, so the two
// can never disagree.
func Explain(q Query, item Item) []Reason {
	c := compile(q)
	var out []Reason
	for i := range c.preds {
		if !c.preds[i].test(&item) {
			out = append(out, c.preds[i].reason(&item, &q))
		}
	}
	return out
}

type predKind uint8

const (
	predKey        predKind = iota // a key the device sent
	predWhen                       // SPS start date and time as one period
	predModalities                 // profile: the device's modalities
	predHidden                     // profile: statuses not listed
)

type pred struct {
	kind predKind
	key  *Key
	a    *attr
	vals []string // prepared patterns, any of which may match
	alt  []string // for names: each pattern with the implicit ^*
	// predWhen: bounds as YYYYMMDD, HHMMSS.ffffff or both concatenated; "" is open.
	lo, hi           string
	useDate, useTime bool
	numLo, numHi     float64
}

// compiled is a query prepared for matching many items.
type compiled struct {
	preds []pred
	// For the index: the date span to visit ("" = open) and a single modality.
	hasDate        bool
	dateLo, dateHi string
	modality       string
}

// matchesEntry runs the predicates on an indexed item, using what Put
// precomputed.
func (c *compiled) matchesEntry(e *entry) bool {
	for i := range c.preds {
		p := &c.preds[i]
		if p.kind == predKey && p.a.kind == matchName && p.a.nameSlot >= 0 {
			if !p.testNameGroups(e.names[p.a.nameSlot]) {
				return false
			}
			continue
		}
		if !p.test(&e.Item) {
			return false
		}
	}
	return true
}

func compile(q Query) *compiled {
	c := &compiled{}
	var dateKey, timeKey *Key
	modalityUniversal := true
	for i := range q.Keys {
		k := &q.Keys[i]
		a := lookupAttr(k.Tag, k.InSPS)
		if a == nil || a.kind == matchNone || k.Note != "" || k.Universal() {
			continue
		}
		switch a.kind {
		case matchWhen:
			if k.Tag == tagSPSStartDate {
				dateKey = k
			} else {
				timeKey = k
			}
			continue
		case matchCodeSeq:
			c.preds = append(c.preds, pred{kind: predKey, key: k, a: a})
			continue
		}
		p := pred{kind: predKey, key: k, a: a}
		switch a.kind {
		case matchDate:
			lo, hi := splitRange(k.Value)
			p.lo, p.hi = lo, hi
		case matchNumber:
			lo, hi, ok := parseNumberRange(k.Value)
			if !ok {
				continue
			}
			p.numLo, p.numHi = lo, hi
		default:
			for _, v := range strings.Split(k.Value, `\`) {
				v = strings.TrimSpace(v)
				if v == "" {
					continue
				}
				if a.kind != matchName {
					p.vals = append(p.vals, preparePattern(a.kind, v))
					continue
				}
				// Each component group of a name (alphabetic=ideographic=
				// phonetic) may find the animal on its own.
				for _, g := range strings.Split(v, "=") {
					if g = strings.TrimSpace(g); g != "" {
						pat := preparePattern(a.kind, g)
						p.vals = append(p.vals, pat)
						p.alt = append(p.alt, pat+"^*")
					}
				}
			}
		}
		if a.tag == tagModality && a.inSPS {
			modalityUniversal = false
			if len(p.vals) == 1 && !strings.ContainsAny(p.vals[0], "*?") {
				c.modality = p.vals[0]
			}
		}
		c.preds = append(c.preds, p)
	}
	switch {
	case dateKey != nil && dateKey.Profile && timeKey != nil:
		// The device asked for a time of day; the profile's window only
		// bounds the days. Joining them into one period would change what the
		// device asked for.
		c.addWhen(dateKey, nil)
		c.addWhen(nil, timeKey)
	case dateKey != nil || timeKey != nil:
		c.addWhen(dateKey, timeKey)
	}
	if modalityUniversal && len(q.Modalities) > 0 {
		p := pred{kind: predModalities}
		for _, m := range q.Modalities {
			p.vals = append(p.vals, strings.ToUpper(strings.TrimSpace(m)))
		}
		if len(p.vals) == 1 {
			c.modality = p.vals[0]
		}
		c.preds = append(c.preds, p)
	}
	if len(q.HiddenStatuses) > 0 {
		p := pred{kind: predHidden}
		for _, s := range q.HiddenStatuses {
			p.vals = append(p.vals, strings.ToUpper(strings.TrimSpace(s)))
		}
		c.preds = append(c.preds, p)
	}
	return c
}

func (c *compiled) addWhen(dateKey, timeKey *Key) {
	p := pred{kind: predWhen, key: dateKey, a: lookupAttr(tagSPSStartDate, true)}
	if p.key == nil {
		p.key, p.a = timeKey, lookupAttr(tagSPSStartTime, true)
	}
	var dlo, dhi, tlo, thi string
	if dateKey != nil {
		p.useDate = true
		dlo, dhi = splitRange(dateKey.Value)
		c.hasDate, c.dateLo, c.dateHi = true, dlo, dhi
	}
	if timeKey != nil {
		p.useTime = true
		tlo, thi = splitRange(timeKey.Value)
		if tlo != "" {
			tlo = padTime(tlo, false)
		}
		if thi != "" {
			thi = padTime(thi, true)
		}
	}
	switch {
	case p.useDate && p.useTime:
		// PS3.4 C.2.2.2.5: a date range plus a time range is one period.
		if dlo != "" {
			p.lo = dlo + orDefault(tlo, "000000.000000")
		}
		if dhi != "" {
			p.hi = dhi + orDefault(thi, "235959.999999")
		}
	case p.useDate:
		p.lo, p.hi = dlo, dhi
	default:
		p.lo, p.hi = tlo, thi
	}
	c.preds = append(c.preds, p)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// preparePattern folds a query value the way item values are folded for its
// kind, so comparison is a plain glob.
func preparePattern(kind matchKind, v string) string {
	switch kind {
	case matchText:
		return fold(v)
	case matchName:
		return fold(trimName(v))
	case matchCode, matchAE:
		return strings.ToUpper(v)
	}
	return v
}

// fold makes text case- and accent-insensitive: Mäkinen, MAKINEN and makinen
// all fold to MAKINEN; Иванов folds to IVANOV, so a device that only types
// ASCII still finds it.
func fold(s string) string {
	if isPlainASCII(s) {
		return strings.ToUpper(s)
	}
	return strings.ToUpper(transliterate(s, true))
}

// trimName drops empty trailing components: "Smith^Rex^^^" is "Smith^Rex".
func trimName(s string) string { return strings.TrimRight(s, "^ ") }

func (p *pred) test(it *Item) bool {
	switch p.kind {
	case predWhen:
		return p.testWhen(it)
	case predModalities:
		m := strings.ToUpper(strings.TrimSpace(it.Modality))
		for _, v := range p.vals {
			if m == v {
				return true
			}
		}
		return false
	case predHidden:
		s := strings.ToUpper(strings.TrimSpace(it.SPSStatus))
		for _, v := range p.vals {
			if s == v {
				return false
			}
		}
		return true
	}
	a := p.a
	switch a.kind {
	case matchCodeSeq:
		return matchCodeValue(p.key.Code, *a.code(it))
	case matchOtherIDs:
		for _, id := range *a.list(it) {
			if id != "" && glob(p.key.Value, id) {
				return true
			}
		}
		return false
	case matchNumber:
		w := it.PatientWeightKg
		if w <= 0 {
			return false
		}
		const eps = 1e-6
		return w >= p.numLo-eps && w <= p.numHi+eps
	case matchDate:
		v := strings.TrimSpace(a.get(it))
		return v != "" && inRange(v, p.lo, p.hi)
	}
	have := strings.TrimSpace(a.get(it))
	if have == "" {
		return false
	}
	switch a.kind {
	case matchUID:
		for _, v := range p.vals {
			if v == have {
				return true
			}
		}
		return false
	case matchName:
		return p.testName(have)
	}
	folded := a.kind == matchText || a.kind == matchCode || a.kind == matchAE
	// A stored multi-valued item (AE titles "US1\US2") matches if any does.
	for have != "" {
		h, rest, _ := strings.Cut(have, `\`)
		have = rest
		h = strings.TrimSpace(h)
		for _, v := range p.vals {
			if (folded && globFolded(v, h)) || (!folded && glob(v, h)) {
				return true
			}
		}
	}
	return false
}

// testName implements the lenient name rule of Orthanc and dcm4chee: each
// name group (alphabetic=ideographic=phonetic) is tried, and a pattern without
// components also matches any given names after it (MAKINEN finds
// Mäkinen^Pörri).
func (p *pred) testName(have string) bool {
	for have != "" {
		group, rest, _ := strings.Cut(have, "=")
		have = rest
		g := trimName(group)
		if g == "" {
			continue
		}
		for i, v := range p.vals {
			if globFolded(v, g) || globFolded(p.alt[i], g) {
				return true
			}
		}
	}
	return false
}

// foldNameGroups prepares a name value for testNameGroups: the groups
// testName would try, trimmed and folded as globFolded folds them.
func foldNameGroups(v string) []string {
	have := strings.TrimSpace(v)
	var out []string
	for have != "" {
		group, rest, _ := strings.Cut(have, "=")
		have = rest
		if g := trimName(group); g != "" {
			out = append(out, fold(g))
		}
	}
	return out
}

// testNameGroups is testName over groups already folded by foldNameGroups:
// globFolded(v, g) is globCase(v, fold(g), false), so the answer is the same.
func (p *pred) testNameGroups(groups []string) bool {
	for _, g := range groups {
		for i, v := range p.vals {
			if globCase(v, g, false) || globCase(p.alt[i], g, false) {
				return true
			}
		}
	}
	return false
}

func matchCodeValue(want, have *Code) bool {
	if want == nil {
		return true
	}
	if have == nil {
		return false
	}
	if !isUniversal(want.Value) && (have.Value == "" || !glob(strings.TrimSpace(want.Value), have.Value)) {
		return false
	}
	if !isUniversal(want.Scheme) && (have.Scheme == "" || !glob(strings.ToUpper(strings.TrimSpace(want.Scheme)), strings.ToUpper(have.Scheme))) {
		return false
	}
	if !isUniversal(want.Meaning) && (have.Meaning == "" || !glob(fold(strings.TrimSpace(want.Meaning)), fold(have.Meaning))) {
		return false
	}
	return true
}

func (p *pred) testWhen(it *Item) bool {
	d := strings.TrimSpace(it.StartDate)
	t := strings.TrimSpace(it.StartTime)
	if p.useDate && !validDate(d) {
		return false
	}
	if p.useTime && t == "" {
		return false
	}
	switch {
	case p.useDate && p.useTime:
		return inRange(d+padTime(t, false), p.lo, p.hi)
	case p.useDate:
		return inRange(d, p.lo, p.hi)
	default:
		return inRange(padTime(t, false), p.lo, p.hi)
	}
}

func inRange(v, lo, hi string) bool {
	return (lo == "" || v >= lo) && (hi == "" || v <= hi)
}

// glob matches DICOM wildcards: * any run, ? one character.
func glob(pattern, s string) bool { return globCase(pattern, s, false) }

// globFolded matches a folded pattern against unfolded text, folding ASCII on
// the fly so the common case allocates nothing.
func globFolded(pattern, s string) bool {
	if isPlainASCII(s) {
		return globCase(pattern, s, true)
	}
	return globCase(pattern, fold(s), false)
}

func upperASCII(r rune) rune {
	if r >= 'a' && r <= 'z' {
		return r - 'a' + 'A'
	}
	return r
}

func globCase(pattern, s string, upper bool) bool {
	if !upper && !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		if px < len(pattern) {
			switch pattern[px] {
			case '*':
				starP, starS = px, sx
				px++
				continue
			case '?':
				_, n := utf8.DecodeRuneInString(s[sx:])
				px++
				sx += n
				continue
			default:
				pr, pn := utf8.DecodeRuneInString(pattern[px:])
				sr, sn := utf8.DecodeRuneInString(s[sx:])
				if upper {
					sr = upperASCII(sr)
				}
				if pr == sr {
					px += pn
					sx += sn
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		px, sx = starP+1, starS
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

// normalizeRange checks a DA or TM matching value (single or range) and
// returns it in canonical digits, forgiving ACR-NEMA dots in dates, ISO
// dashes in dates and colons in times.
func normalizeRange(v string, isTime bool) (string, bool) {
	if isUniversal(v) {
		return v, true
	}
	if !isTime && len(v) == 10 && v[4] == '-' && v[7] == '-' {
		v = v[:4] + v[5:7] + v[8:]
	}
	lo, hi, isRange := strings.Cut(v, "-")
	norm := func(s string) (string, bool) {
		s = strings.TrimSpace(s)
		if isTime {
			s = strings.ReplaceAll(s, ":", "")
			return s, s == "" || validTime(s)
		}
		s = strings.ReplaceAll(s, ".", "")
		return s, s == "" || validDate(s)
	}
	lo, ok1 := norm(lo)
	if !isRange {
		return lo, ok1 && lo != ""
	}
	hi, ok2 := norm(hi)
	if !ok1 || !ok2 || (lo == "" && hi == "") {
		return "", false
	}
	return lo + "-" + hi, true
}

func splitRange(v string) (lo, hi string) {
	lo, hi, isRange := strings.Cut(v, "-")
	if !isRange {
		return lo, lo
	}
	return lo, hi
}

func validDate(s string) bool {
	if len(s) != 8 || !allDigits(s) {
		return false
	}
	m, _ := strconv.Atoi(s[4:6])
	d, _ := strconv.Atoi(s[6:8])
	return m >= 1 && m <= 12 && d >= 1 && d <= 31
}

func validTime(s string) bool {
	whole, frac, hasFrac := strings.Cut(s, ".")
	if hasFrac && (len(whole) != 6 || len(frac) == 0 || len(frac) > 6 || !allDigits(frac)) {
		return false
	}
	if (len(whole) != 2 && len(whole) != 4 && len(whole) != 6) || !allDigits(whole) {
		return false
	}
	h, _ := strconv.Atoi(whole[:2])
	return h < 24
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// padTime widens a TM to HHMMSS.ffffff: the start of what it names, or the
// end when upper is set ("10" as an upper bound means until 10:59:59.999999).
func padTime(t string, upper bool) string {
	t = strings.ReplaceAll(strings.TrimSpace(t), ":", "")
	whole, frac, _ := strings.Cut(t, ".")
	fill := "000000"
	ffill := "000000"
	if upper {
		fill, ffill = "595959", "999999"
	}
	if len(whole) < 6 {
		whole += fill[len(whole):]
		frac = ""
	}
	if len(whole) > 6 {
		whole = whole[:6]
	}
	if len(frac) > 6 {
		frac = frac[:6]
	}
	return whole + "." + frac + ffill[len(frac):]
}

// parseNumberRange reads a DS matching value: one number or a range.
func parseNumberRange(v string) (lo, hi float64, ok bool) {
	v = strings.TrimSpace(v)
	// A leading minus is a sign, not an open range: weights are never negative
	// so only "a-b", "a-" and "-b" with positive numbers are ranges.
	a, b, isRange := strings.Cut(v, "-")
	parse := func(s string, def float64) (float64, bool) {
		s = strings.TrimSpace(s)
		if s == "" {
			return def, true
		}
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	if !isRange {
		f, ok := parse(a, 0)
		return f, f, ok && a != ""
	}
	lo, ok1 := parse(a, math.Inf(-1))
	hi, ok2 := parse(b, math.Inf(1))
	return lo, hi, ok1 && ok2 && (a != "" || b != "")
}

// reason words why p rejects it. Only called for a failing predicate.
func (p *pred) reason(it *Item, q *Query) Reason {
	switch p.kind {
	case predModalities:
		want := strings.Join(p.vals, ", ")
		return Reason{Key: "SPS>Modality", Want: want, Have: it.Modality,
			Text: fmt.Sprintf("this device is set up for modality %s; this referral is %s", want, orNone(it.Modality))}
	case predHidden:
		st := strings.ToUpper(it.SPSStatus)
		return Reason{Key: "SPS>ScheduledProcedureStepStatus", Want: "not " + strings.Join(p.vals, ", "), Have: st,
			Text: fmt.Sprintf("status %s is hidden for this device", st)}
	case predWhen:
		return p.whenReason(it, q)
	}
	a := p.a
	name := a.keyword
	if a.inSPS {
		name = "SPS>" + name
	}
	want := p.key.Value
	var have string
	switch a.kind {
	case matchCodeSeq:
		want = describeCode(p.key.Code)
		if c := *a.code(it); c != nil {
			have = describeCode(c)
		}
	case matchOtherIDs:
		have = strings.Join(*a.list(it), ", ")
	default:
		have = a.get(it)
	}
	r := Reason{Key: name, Want: want, Have: have}
	switch {
	case strings.TrimSpace(have) == "":
		r.Text = fmt.Sprintf("the device asked for %s %s; this referral has no %s", a.label, want, a.label)
	case a.tag == tagStationAE:
		r.Text = fmt.Sprintf("the device asked for station %s; this referral is scheduled on %s", want, have)
	case p.key.Profile:
		r.Text = fmt.Sprintf("this device is set up to see %s %s; this referral is %s", a.label, want, have)
	default:
		r.Text = fmt.Sprintf("the device asked for %s %s; this referral is %s", a.label, want, have)
	}
	if p.key.Profile && a.tag == tagStationAE {
		r.Text = fmt.Sprintf("this device sees only station %s (its own AE title); this referral is scheduled on %s", want, have)
	}
	return r
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "none"
	}
	return s
}

func describeCode(c *Code) string {
	if c == nil {
		return ""
	}
	var parts []string
	for _, s := range []string{c.Meaning, c.Value, c.Scheme} {
		if !isUniversal(s) {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " / ")
}

func (p *pred) whenReason(it *Item, q *Query) Reason {
	r := Reason{Key: "SPS>ScheduledProcedureStepStartDate"}
	var dk, tk *Key
	if k, ok := q.Key(tagSPSStartDate, true); ok && p.useDate {
		dk = k
	}
	if k, ok := q.Key(tagSPSStartTime, true); ok && p.useTime {
		tk = k
	}
	switch {
	case dk != nil && tk != nil:
		// One continuous period, so say it as one.
		dlo, dhi := splitRange(dk.Value)
		tlo, thi := splitRange(tk.Value)
		var lo, hi string
		if dlo != "" {
			lo = formatDate(dlo) + " " + formatTime(orDefault(tlo, "0000"))
		}
		if dhi != "" {
			hi = formatDate(dhi) + " " + formatTime(orDefault(thi, "2359"))
		}
		r.Want = describeSpan(lo, hi)
	case dk != nil:
		r.Want = describeDateRange(dk.Value)
	case tk != nil:
		lo, hi := splitRange(tk.Value)
		r.Want = "times " + describeSpan(formatTime(lo), formatTime(hi))
	}
	d, t := strings.TrimSpace(it.StartDate), strings.TrimSpace(it.StartTime)
	var have string
	switch {
	case p.useDate && !validDate(d):
		have = "not scheduled on any date"
	case p.useTime && t == "":
		have = "scheduled with no time"
	case !p.useDate:
		have = "scheduled at " + formatTime(t)
	default:
		have = "scheduled " + relativeDay(d, q.Today)
		if t != "" && p.useTime {
			have += " at " + formatTime(t)
		}
	}
	r.Have = strings.TrimSpace(d + " " + t)
	who := "the device asked for"
	if dk != nil && dk.Profile {
		who = "the device sent no date, patient or order number; its default window is"
	}
	r.Text = fmt.Sprintf("%s; %s %s", have, who, r.Want)
	return r
}

// relativeDay says "today (2026-11-22)", "tomorrow (...)" or "on 2026-11-25".
func relativeDay(d, today string) string {
	iso := formatDate(d)
	if !validDate(today) || !validDate(d) {
		return "on " + iso
	}
	td, err1 := parseDay(today)
	dd, err2 := parseDay(d)
	if err1 != nil || err2 != nil {
		return "on " + iso
	}
	switch int(dd.Sub(td).Hours() / 24) {
	case 0:
		return "today (" + iso + ")"
	case 1:
		return "tomorrow (" + iso + ")"
	case -1:
		return "yesterday (" + iso + ")"
	}
	return "on " + iso
}

func parseDay(d string) (time.Time, error) { return time.Parse("20060102", d) }

func formatDate(d string) string {
	if len(d) != 8 {
		return d
	}
	return d[:4] + "-" + d[4:6] + "-" + d[6:]
}

func formatTime(t string) string {
	t = strings.ReplaceAll(t, ":", "")
	if len(t) >= 4 {
		return t[:2] + ":" + t[2:4]
	}
	if len(t) == 2 {
		return t + ":00"
	}
	return t
}

func describeDateRange(v string) string {
	lo, hi := splitRange(v)
	return describeSpan(formatDate(lo), formatDate(hi))
}

// describeSpan words a range whose ends are already formatted; "" is open.
func describeSpan(lo, hi string) string {
	switch {
	case lo == hi:
		return lo
	case lo == "":
		return "up to " + hi
	case hi == "":
		return "from " + lo
	}
	return lo + " to " + hi
}
