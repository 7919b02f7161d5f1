// Package supervise runs an installation's background services, restarting
// a failed one with capped backoff, so one broken loop (a panicking sync, a
// port briefly in use) never takes the DICOM server or the others down
// with it.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Service is one background loop. It runs until ctx ends; an error return
// means it failed and should be restarted.
type Service struct {
	Name string
	Run  func(ctx context.Context) error
}

// Run runs every service until ctx ends, and returns when all have stopped.
func Run(ctx context.Context, log *slog.Logger, services ...Service) {
	run(ctx, log, time.Second, services)
}

func run(ctx context.Context, log *slog.Logger, first time.Duration, services []Service) {
	var wg sync.WaitGroup
	for _, s := range services {
		wg.Go(func() {
			backoff := first
			for {
				started := time.Now()
				err := runRecovered(ctx, s)
				if ctx.Err() != nil {
					return
				}
				if time.Since(started) > time.Minute {
					backoff = first
				}
				log.Error("background service stopped; restarting", "service", s.Name, "err", err, "in", backoff)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(backoff*2, time.Minute)
			}
		})
	}
	wg.Wait()
}

func runRecovered(ctx context.Context, s Service) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in %s: %v", s.Name, r)
		}
	}()
	err = s.Run(ctx)
	if err == nil && ctx.Err() == nil {
		err = errors.New("returned early")
	}
	return err
}
