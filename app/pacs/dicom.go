package pacs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/vetbridge/vetbridge/dicom/pdu"
	"github.com/vetbridge/vetbridge/dicom/scu"
)

// dicomClient queries a PACS with Study Root C-FIND, one association per
// call: a PACS closes idle associations, and the poller calls rarely.
type dicomClient struct {
	cfg  Config
	opts Options
	log  *slog.Logger
}

func (c *dicomClient) String() string { return fmt.Sprintf("%s at %s", c.cfg.AETitle, c.cfg.Addr()) }

func (c *dicomClient) dial(ctx context.Context) (*scu.Assoc, error) {
	a, err := scu.Dial(ctx, c.cfg.Addr(), scu.Options{
		CallingAE: c.opts.CallingAE, CalledAE: c.cfg.AETitle, Contexts: scu.QueryContexts(),
		Timeout: c.opts.Timeout, Logger: c.log,
	})
	if err != nil {
		return nil, c.explain(err)
	}
	return a, nil
}

// explain turns an association failure into what the user can do.
func (c *dicomClient) explain(err error) error {
	addr := c.cfg.Addr()
	var rj *scu.RejectedError
	var ab *scu.AbortedError
	var ne net.Error
	var op *net.OpError
	switch {
	case errors.As(err, &rj):
		if rj.RJ.Source == pdu.RJSourceUser && rj.RJ.Reason == pdu.RJReasonCallingAENotRecog {
			return fmt.Errorf("the PACS at %s refused the association: it does not know our AE title %q; add it (with this computer's address) to the PACS's list of modalities (%w)", addr, c.opts.CallingAE, rj)
		}
		return fmt.Errorf("the PACS at %s refused the association: check its AE title (we called it %q) and that it accepts our AE title %q (%w)", addr, c.cfg.AETitle, c.opts.CallingAE, rj)
	case errors.As(err, &ab):
		return fmt.Errorf("the PACS at %s aborted the association: check its AE title (%q) and that it accepts our AE title %q (%w)", addr, c.cfg.AETitle, c.opts.CallingAE, ab)
	case errors.As(err, &op) && op.Op == "dial" && !op.Timeout():
		return fmt.Errorf("cannot connect to the PACS at %s: check host and port, and that the PACS is running (%w)", addr, op)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("the PACS at %s did not answer in time: %w", addr, err)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("the PACS at %s did not answer within %v: check host and port, and any firewall between: %w", addr, c.opts.Timeout, err)
	}
	return fmt.Errorf("the PACS at %s: %w", addr, err)
}

func (c *dicomClient) Ping(ctx context.Context) error {
	a, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer a.Release(ctx)
	if err := a.Echo(ctx); err != nil {
		return fmt.Errorf("%w (it accepted the association but not C-ECHO)", c.explain(err))
	}
	if _, ok := a.Syntax(scu.StudyRootFind); !ok {
		return fmt.Errorf("the PACS at %s answers C-ECHO but does not let us query studies (Study Root C-FIND); allow queries from our AE title %q", c.cfg.Addr(), c.opts.CallingAE)
	}
	// Many a PACS answers C-ECHO from anyone but refuses queries from AE
	// titles it does not know; a query for a study that cannot exist tests
	// that at the cost of one index lookup.
	if _, err := a.FindStudies(ctx, scu.StudyQuery{StudyInstanceUID: pingStudyUID}); err != nil {
		return fmt.Errorf("%w (it answers C-ECHO, but not our study query)", c.explain(err))
	}
	return nil
}

// pingStudyUID is a syntactically valid UID no study carries (the UUID-derived
// root with the nil UUID).
const pingStudyUID = "2.25.0"

func (c *dicomClient) Studies(ctx context.Context, q Query) ([]Study, error) {
	if q.empty() {
		return nil, ErrEmptyQuery
	}
	a, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	found, err := a.FindStudies(ctx, scu.StudyQuery{
		StudyInstanceUID: q.StudyUID, AccessionNumber: q.Accession, PatientID: q.PatientID, StudyDate: q.dateRange(),
	})
	if err != nil {
		a.Abort()
		return nil, c.explain(err)
	}
	if err := a.Release(ctx); err != nil {
		c.log.Debug("release after a study query failed", "err", err)
	}
	out := make([]Study, len(found))
	for i, s := range found {
		out[i] = Study{
			UID: s.StudyInstanceUID, Accession: s.AccessionNumber, PatientID: s.PatientID, PatientName: s.PatientName,
			Date: s.StudyDate, Time: s.StudyTime, Modalities: s.Modalities, Series: s.Series, Instances: s.Instances,
		}
	}
	return out, nil
}
