package app

import (
	"context"

	"github.com/vetbridge/vetbridge/app/webhook"
)

// runWebhook receives Provet's worklist webhooks when the settings name an
// address; each hook asks the sync engine to read the order it names.
func (a *App) runWebhook(ctx context.Context) error {
	secret := func() string { return a.Effective().Webhook.Secret }
	return webhook.Run(ctx, a.Effective().Webhook, secret, a.sync.Hook, a.log)
}
