// Package webhook receives Provet's worklist webhooks, for a deployment
// Provet can reach. A hook only names an order for the sync engine to read:
// the sync reads the truth from the API, which makes create and update
// hooks, duplicates and hooks for deleted orders all harmless.
package webhook

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/settings"
)

// Run receives hooks on cfg's address until ctx ends, handing each named
// order to hook; without an address it only waits. secret is asked at
// every request, so a changed secret applies at once.
func Run(ctx context.Context, cfg settings.WebhookConfig, secret func() string, hook func(worklistID int64), log *slog.Logger) error {
	if strings.TrimSpace(cfg.Listen) == "" {
		<-ctx.Done()
		return nil
	}
	listen := cfg.Address()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("webhook receiver cannot listen on %s: %w", listen, err)
	}
	srv := &http.Server{Handler: Handler(secret, hook, log), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	log.Info("Provet webhook receiver listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Handler answers one hook at once: it checks the sender's token, reads
// the order the body names and hands it to hook, which must not block.
func Handler(secret func() string, hook func(worklistID int64), log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		// The token travels in the URL (Provet can be given only a URL): it
		// is compared in constant time and never logged.
		if s := secret(); s != "" && subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("token")), []byte(s)) != 1 {
			http.Error(w, "unknown sender", http.StatusForbidden)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, provet.MaxWebhookBody+1))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		ev, err := provet.ParseWebhook(r.Header.Get("Content-Type"), body)
		if err != nil {
			// A 4xx, not a 5xx: Provet would retry a body that cannot
			// get better; the next poll finds the change anyway.
			log.Warn("Provet webhook not understood; the next poll catches up", "err", err)
			http.Error(w, "not a worklist webhook", http.StatusBadRequest)
			return
		}
		hook(ev.WorklistID)
		w.WriteHeader(http.StatusOK)
	})
}
