package devices

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/app/records"
	"github.com/vetbridge/vetbridge/app/settings"
	"github.com/vetbridge/vetbridge/dicom/scp"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// Explanation says whether a device sees a referral and, if not, why, in
// words a technician understands.
type Explanation struct {
	CallingAE string
	Visible   bool
	Reasons   []string
}

// Explain says whether the device with callingAE sees the record, judged
// against the device's last logged query (or, when it never queried, a
// broad query shaped by its profile) with the same predicates the worklist
// server matches with.
func (r *Registry) Explain(cfg settings.DICOMConfig, rec records.Record, callingAE string, now time.Time) Explanation {
	ex := Explanation{CallingAE: callingAE}
	if !rec.OnWorklist() {
		ex.Reasons = []string{fmt.Sprintf("Provet marks this order %s, so it has left the worklist.", strings.ReplaceAll(rec.ProvetState, "_", " "))}
		return ex
	}
	if adm := Admit(cfg, callingAE, netip.Addr{}); adm.Refuse == scp.RefusedCallingAE {
		ex.Reasons = []string{fmt.Sprintf("%s is not a registered device, so it is refused; allow it in the Modalities view or with `vetbridge devices allow %s`.", callingAE, callingAE)}
		return ex
	}
	q, when, found := r.lastQuery(callingAE)
	if !found {
		p, _ := Profile(cfg, callingAE)
		q = WorklistProfile(p).Apply(worklist.Query{}, callingAE, now)
	}
	reasons := worklist.Explain(q, rec.Item)
	for _, r := range reasons {
		ex.Reasons = append(ex.Reasons, r.Text)
	}
	ex.Visible = len(reasons) == 0
	switch {
	case !found:
		ex.Reasons = append([]string{fmt.Sprintf("%s has not queried the worklist yet; judged by its profile.", callingAE)}, ex.Reasons...)
	case ex.Visible:
		ex.Reasons = []string{fmt.Sprintf("%s's last query (%s) matches this referral.", callingAE, when.Format("15:04:05"))}
	}
	return ex
}

// lastQuery finds the newest logged query from a device.
func (r *Registry) lastQuery(callingAE string) (worklist.Query, time.Time, bool) {
	recent, err := r.st.RecentQueries(1000)
	if err != nil {
		return worklist.Query{}, time.Time{}, false
	}
	for _, b := range recent {
		var qr worklist.QueryRecord
		if json.Unmarshal(b, &qr) == nil && strings.EqualFold(qr.CallingAE, callingAE) {
			return qr.Query, qr.Time, true
		}
	}
	return worklist.Query{}, time.Time{}, false
}

// WorklistProfile turns a configured device profile into the worklist's.
func WorklistProfile(p settings.DeviceProfile) worklist.Profile {
	cs := worklist.CharsetAuto
	if p.Charset != "" && p.Charset != "auto" {
		if c, err := worklist.ParseCharset(p.Charset); err == nil {
			cs = c
		}
	}
	return worklist.Profile{
		Charset:            cs,
		StationFromCalling: p.StationFromCalling,
		DaysBefore:         p.DaysBefore,
		DaysAfter:          p.DaysAfter,
		ShowStarted:        p.ShowStarted,
		Modalities:         slices.Clone(p.Modalities),
	}
}
