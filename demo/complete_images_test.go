package demo

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app"
)

// completionProfile is a device profile with completion by images on or off.
func completionProfile(ae string, on bool, quiet time.Duration) app.DeviceProfile {
	return app.DeviceProfile{CallingAE: ae, Charset: "auto", DaysBefore: 1, DaysAfter: 7,
		CompleteByImages: on, QuietPeriod: app.Duration(quiet)}
}

// Completion by images PATCHes an order to completed exactly once, after
// the quiet period since the last image, and only for a device that has it
// on; the clock of the poller and of the quiet period is the test's.
func TestE2ECompleteByImages(t *testing.T) {
	dx := completionProfile("DX1", true, 10*time.Minute)
	us := completionProfile("US1", false, 10*time.Minute)
	o := startOrthanc(t)
	clock := newOffsetClock()
	p := startPACSDemo(t, clock, func(c *app.Config) { c.DICOM.Profiles = append(c.DICOM.Profiles, dx, us) })
	xray, ultrasound := p.referralToday(t, "X-ray"), p.referralToday(t, "Ultrasound")
	o.store(t, append(study("1.2.826.0.1.3680043.10.4.1", xray.AccessionNumber, xray.PatientID, "DX", 2),
		study("1.2.826.0.1.3680043.10.4.2", ultrasound.AccessionNumber, ultrasound.PatientID, "US", 3)...))
	p.setPACS(t, o.config("DICOM"))
	waitFor(t, 20*time.Second, "the images counted", func() bool {
		return imagesLine(t, p.App, xray.AccessionNumber) == xray.AccessionNumber+" studies=1 series=1 instances=2" &&
			imagesLine(t, p.App, ultrasound.AccessionNumber) == ultrasound.AccessionNumber+" studies=1 series=1 instances=3"
	})
	// round moves the clock on and waits for the poller's round at the new time.
	round := func(d time.Duration) {
		t.Helper()
		// Taken before the move: every reading after it is later.
		at := clock.Now().Add(d)
		clock.Advance(d)
		// The move fires the poller's wait; a round under way when it
		// came would set its next wait after it, so ask for one too.
		p.App.RefreshImages()
		waitFor(t, 30*time.Second, "a round after "+d.String(), func() bool {
			rep, err := p.App.ImagesReport(context.Background(), xray.AccessionNumber)
			return err == nil && len(rep.Referrals) == 1 && !rep.Referrals[0].CheckedAt.Before(at)
		})
	}
	round(9 * time.Minute)
	if got := patchesFor(p.Sim, xray.ProvetID); len(got) != 0 {
		t.Fatalf("PATCHed %v before the quiet period ended", got)
	}
	round(time.Minute)
	waitFor(t, 20*time.Second, "the completed PATCH", func() bool { return len(patchesFor(p.Sim, xray.ProvetID)) > 0 })
	for range 3 {
		round(time.Hour)
	}
	settle(t, &testDemo{Demo: p.Demo})
	if got := fmt.Sprint(patchesFor(p.Sim, xray.ProvetID)); got != "[3]" {
		t.Errorf("X-ray PATCHes %s, want one to completed (3)", got)
	}
	if got := patchesFor(p.Sim, ultrasound.ProvetID); len(got) != 0 {
		t.Errorf("the ultrasound, whose device has it off, was PATCHed: %v", got)
	}
	if r, _ := p.App.Referral(xray.Key); r.Status != "COMPLETED" {
		t.Errorf("the X-ray referral shows %s", r.Status)
	}
	rep, _ := p.App.ImagesReport(context.Background(), xray.AccessionNumber)
	if len(rep.Referrals) != 1 || !rep.Referrals[0].CompletedByImages {
		t.Errorf("images report %+v", rep)
	}
}
