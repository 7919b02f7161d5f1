package app

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/vetbridge/vetbridge/store"
)

// runWebhook receives Provet's worklist webhooks when a deployment can be
// reached by Provet. A hook only triggers a delta sync: its body names an
// order but the sync reads the truth from the API, which makes create and
// update hooks, duplicates and hooks for deleted orders all harmless.
func (a *App) runWebhook(ctx context.Context) error {
	listen := a.Config().Webhook.Listen
	if listen == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("webhook receiver cannot listen on %s: %w", listen, err)
	}
	srv := &http.Server{Handler: a.webhookHandler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	a.log.Info("Provet webhook receiver listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (a *App) webhookHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if secret := a.Config().Webhook.Secret; secret != "" &&
			subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("token")), []byte(secret)) != 1 {
			http.Error(w, "unknown sender", http.StatusForbidden)
			return
		}
		// Provet retries anything but a quick 200; the body is not needed.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10))
		signal(a.syncNow)
		w.WriteHeader(http.StatusOK)
	})
}

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
	cutoff := a.now().Add(-time.Duration(a.Config().Retention)).Format("20060102")
	var old []string
	err := a.store.ItemsByDate("00000101", cutoff, func(si store.Item) error {
		if si.Date < cutoff {
			old = append(old, si.Key)
		}
		return nil
	})
	if err != nil || len(old) == 0 {
		return err
	}
	a.log.Info("removing referrals past retention", "count", len(old))
	return a.putRecords(nil, old)
}
