package cli

import (
	"context"
	"fmt"

	"github.com/vetbridge/vetbridge/app"
)

func init() {
	register("unmatched", "exams that belong to no referral, one line each; unmatched link ID ACCESSION | dismiss ID", cmdUnmatched)
}

func cmdUnmatched(ctx context.Context, env Env, args []string) error {
	sub := ""
	if len(args) > 0 && (args[0] == "link" || args[0] == "dismiss") {
		sub, args = args[0], args[1:]
	}
	fs := newFlags(env, "unmatched", "[list] | link ID ACCESSION | dismiss ID  [--data DIR]")
	df := addDataFlags(fs)
	pos, err := parse(fs, args, map[string]int{"": 0, "link": 2, "dismiss": 1}[sub])
	if err != nil {
		return err
	}
	return df.with(ctx, env, func(c app.Control) error {
		switch sub {
		case "link":
			if err := c.LinkUnmatched(ctx, pos[0], pos[1]); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s is linked to %s.\n", pos[0], pos[1])
			return nil
		case "dismiss":
			if err := c.DismissUnmatched(ctx, pos[0]); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s is dismissed.\n", pos[0])
			return nil
		}
		rep, err := c.Unmatched(ctx)
		if err != nil {
			return err
		}
		if rep.Note != "" {
			fmt.Fprintf(env.Stderr, "vetbridge unmatched: %s\n", rep.Note)
		}
		for _, l := range rep.Lines() {
			fmt.Fprintln(env.Stdout, l)
		}
		return nil
	})
}
