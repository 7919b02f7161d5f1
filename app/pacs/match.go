package pacs

import (
	"context"
	"time"
)

// Referral is what identifies a referral's exam in the PACS.
type Referral struct {
	// Key is the caller's identifier for the referral, returned unchanged.
	Key       string
	Accession string
	StudyUID  string
	PatientID string
	Date      time.Time // the calendar day the exam was scheduled
}

// MatchedBy says which key found a referral's studies.
type MatchedBy string

const (
	ByAccession      MatchedBy = "accession"
	ByStudyUID       MatchedBy = "study-uid"
	ByPatientAndDate MatchedBy = "patient-date"
	NotFound         MatchedBy = ""
)

// Match is a referral's studies in the PACS; Studies is empty when By is
// NotFound ("no images yet").
type Match struct {
	Referral Referral
	By       MatchedBy
	Studies  []Study
}

// Series and Instances sum the counts of the matched studies.
func (m Match) Series() int    { return sum(m.Studies, func(s Study) int { return s.Series }) }
func (m Match) Instances() int { return sum(m.Studies, func(s Study) int { return s.Instances }) }

func sum(ss []Study, f func(Study) int) int {
	n := 0
	for _, s := range ss {
		n += f(s)
	}
	return n
}

// Matcher finds a referral's studies. The keys are tried in this order, and
// the first that finds any study wins:
//
//  1. Accession Number: what the modality copied from our worklist item;
//     the most specific key.
//  2. Study Instance UID: what the worklist item carried, for modalities
//     that keep it but drop the accession.
//  3. Patient ID and the referral's day: for images taken without the
//     worklist (typed at the console) under Provet's patient id. This can
//     claim a study of another exam of the same patient that day; the
//     technician sees the match kind and can correct it.
//
// An empty key is skipped.
type Matcher struct{ Client Client }

// Match asks the PACS, at most three queries, for r's studies.
func (m Matcher) Match(ctx context.Context, r Referral) (Match, error) {
	for _, step := range steps(r) {
		studies, err := m.Client.Studies(ctx, step.q)
		if err != nil {
			return Match{Referral: r}, err
		}
		if len(studies) > 0 {
			return Match{Referral: r, By: step.by, Studies: studies}, nil
		}
	}
	return Match{Referral: r}, nil
}

type step struct {
	by MatchedBy
	q  Query
}

func steps(r Referral) []step {
	var out []step
	if r.Accession != "" {
		out = append(out, step{ByAccession, Query{Accession: r.Accession}})
	}
	if r.StudyUID != "" {
		out = append(out, step{ByStudyUID, Query{StudyUID: r.StudyUID}})
	}
	if r.PatientID != "" && !r.Date.IsZero() {
		out = append(out, step{ByPatientAndDate, Query{PatientID: r.PatientID, From: r.Date, To: r.Date}})
	}
	return out
}

// Assign applies the Matcher's rules to studies already fetched (a day's
// list) without asking the PACS: it returns one Match per referral, in
// order, and the studies no referral claims.
func Assign(studies []Study, refs []Referral) (matches []Match, unmatched []Study) {
	claimed := make([]bool, len(studies))
	matches = make([]Match, len(refs))
	for i, r := range refs {
		matches[i] = Match{Referral: r}
		for _, st := range steps(r) {
			var found []Study
			for j, s := range studies {
				if st.matches(s) {
					found = append(found, s)
					claimed[j] = true
				}
			}
			if len(found) > 0 {
				matches[i].By, matches[i].Studies = st.by, found
				break
			}
		}
	}
	for j, s := range studies {
		if !claimed[j] {
			unmatched = append(unmatched, s)
		}
	}
	return matches, unmatched
}

func (st step) matches(s Study) bool {
	switch st.by {
	case ByAccession:
		return s.Accession == st.q.Accession
	case ByStudyUID:
		return s.UID == st.q.StudyUID
	case ByPatientAndDate:
		return s.PatientID == st.q.PatientID && s.Date == dicomDate(st.q.From)
	}
	return false
}

// DayResult is a day's studies assigned to referrals.
type DayResult struct {
	Matches   []Match // one per referral, in the order given
	Unmatched []Study // the day's studies that no referral claims
}

// Day lists the studies of day's calendar date in one query and assigns
// them to refs with the Matcher's rules. A study is unmatched when no
// referral given claims it by accession, study UID, or patient ID and date
// (for a referral that no accession or UID found). Referrals whose study
// is dated another day are left NotFound here; Match them on their own.
func (m Matcher) Day(ctx context.Context, day time.Time, refs []Referral) (DayResult, error) {
	studies, err := m.Client.Studies(ctx, Day(day))
	if err != nil {
		return DayResult{}, err
	}
	matches, unmatched := Assign(studies, refs)
	return DayResult{Matches: matches, Unmatched: unmatched}, nil
}
