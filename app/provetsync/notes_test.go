package provetsync

import "testing"

// A round's notes count the orders left off in one sentence with the right
// grammar, and name the refused permissions; a clean round says nothing.
func TestResultNotes(t *testing.T) {
	if n := (Result{}).Notes(); n != "" {
		t.Errorf("clean round: %q", n)
	}
	one := Result{UnknownStatuses: map[string]int{"9": 1}}.Notes()
	if want := "1 order in Provet has a status VetBridge does not know, so it is not on the worklist: check Provet's status values in Settings (or `vetbridge statuses`)."; one != want {
		t.Errorf("one order:\n%s\nwant\n%s", one, want)
	}
	both := Result{UnknownStatuses: map[string]int{"9": 2, "11": 1}, Missing: []string{"Patients", "Clients"}}.Notes()
	if want := "3 orders in Provet have a status VetBridge does not know, so they are not on the worklist: check Provet's status values in Settings (or `vetbridge statuses`). " +
		"Provet did not allow reading everything; some fields stay empty. Ask the clinic's Provet administrator to grant: Patients; Clients."; both != want {
		t.Errorf("both:\n%s\nwant\n%s", both, want)
	}
}
