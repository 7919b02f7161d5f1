package app

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/vetbridge/vetbridge/app/provet"
	"time"
)

// runWebhook receives Provet's worklist webhooks when a deployment can be
// reached by Provet. A hook only triggers a delta sync: its body names an
// order but the sync reads the truth from the API, which makes create and
// update hooks, duplicates and hooks for deleted orders all harmless.
func (a *App) runWebhook(ctx context.Context) error {
	wh := a.Effective().Webhook
	if strings.TrimSpace(wh.Listen) == "" {
		<-ctx.Done()
		return nil
	}
	listen := wh.Address()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("webhook receiver cannot listen on %s: %w", listen, err)
	}
	srv := &http.Server{Handler: a.webhookHandler(a.sync.Hook), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second}
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

func (a *App) webhookHandler(hook func(worklistID int64)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		// The token travels in the URL (Provet can be given only a URL): it
		// is compared in constant time and never logged.
		if secret := a.Effective().Webhook.Secret; secret != "" &&
			subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("token")), []byte(secret)) != 1 {
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
			a.log.Warn("Provet webhook not understood; the next poll catches up", "err", err)
			http.Error(w, "not a worklist webhook", http.StatusBadRequest)
			return
		}
		// The sync reads the truth from the API: create and update hooks,
		// duplicates and hooks for deleted orders are all harmless.
		hook(ev.WorklistID)
		w.WriteHeader(http.StatusOK)
	})
}
