package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/vetbridge/vetbridge/app"
)

func init() {
	register("login", "sign in to Provet Cloud (prints the address to open)", cmdLogin)
	register("logout", "sign out of Provet Cloud and forget the stored sign-in", cmdLogout)
}

func cmdLogin(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "login", "[--data DIR]")
	df := addDataFlags(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	return df.with(ctx, env, func(c app.Control) error {
		who, err := c.SignIn(ctx, printURL(env.Stdout))
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "Signed in to Provet Cloud as %s.\n", who)
		return nil
	})
}

func cmdLogout(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "logout", "[--data DIR]")
	df := addDataFlags(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	return df.with(ctx, env, func(c app.Control) error {
		if err := c.SignOut(ctx); err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, "Signed out of Provet Cloud.")
		return nil
	})
}
