package app

import (
	"context"
	"time"
)

// runRetention removes referrals past the retention period once an hour:
// finished orders and those whose day is long gone.
func (a *App) runRetention(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := a.prune(); err != nil {
			a.log.Warn("retention", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (a *App) prune() error {
	cutoff := a.now().Add(-time.Duration(a.Effective().Retention)).Format("20060102")
	n, err := a.repo.PruneBefore(cutoff)
	if n > 0 {
		a.log.Info("removed referrals past retention", "count", n)
	}
	return err
}
