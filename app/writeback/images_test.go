package writeback

import (
	"context"
	"testing"
)

// Completion by images PATCHes once, however often the PACS side asks, and
// never for an order that is no longer open.
func TestCompleteByImagesOnce(t *testing.T) {
	r := newRig(t, true)
	r.tenant.patchOK = true
	for i := range 3 {
		queued, err := r.w.CompleteByImages("provet:4:7", "images in the PACS")
		if err != nil {
			t.Fatal(err)
		}
		if queued != (i == 0) {
			t.Fatalf("call %d queued=%v", i, queued)
		}
		r.w.drain(context.Background())
	}
	if r.tenant.sent() != 1 || r.tenant.patches[0] != `{"status":3}` {
		t.Fatalf("PATCHes %q, want one to completed", r.tenant.patches)
	}
	rec, _ := r.w.o.Repo.Get("provet:4:7")
	if rec.Item.SPSStatus != "COMPLETED" || len(rec.Audit) != 1 || rec.Audit[0].By != "images in the PACS" {
		t.Fatalf("local record %+v", rec)
	}
	if _, err := r.w.CompleteByImages("provet:4:404", "x"); err == nil {
		t.Error("an unknown referral must be an error")
	}
}
