package cli

import (
	"context"

	"github.com/vetbridge/vetbridge/app"
)

func init() {
	register("doctor", "check the Provet connection as sync uses it, and what VetBridge understands of its data", cmdDoctor)
}

func cmdDoctor(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "doctor", "[--data DIR]")
	df := addDataFlags(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	return df.with(ctx, env, func(c app.Control) error { return c.Doctor(ctx, env.Stdout) })
}
