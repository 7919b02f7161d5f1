package cli

import (
	"context"
	"fmt"

	"github.com/vetbridge/vetbridge/app"
)

func init() {
	register("explain", "say why a device does or does not see a referral", cmdExplain)
}

func cmdExplain(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "explain", "[--data DIR] --accession A [--ae TITLE]")
	df := addDataFlags(fs)
	acc := fs.String("accession", "", "the referral's accession number (shown in the worklist window)")
	ae := fs.String("ae", "", "the device's calling AE title; default: every device seen")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *acc == "" {
		fs.Usage()
		return errUsage
	}
	return df.with(ctx, env, func(c app.Control) error {
		exs, err := c.Explain(ctx, *acc, *ae)
		if err != nil {
			return err
		}
		for _, ex := range exs {
			verdict := "does NOT see"
			if ex.Visible {
				verdict = "sees"
			}
			fmt.Fprintf(env.Stdout, "%s %s referral %s:\n", ex.CallingAE, verdict, *acc)
			for _, r := range ex.Reasons {
				fmt.Fprintf(env.Stdout, "  - %s\n", r)
			}
		}
		return nil
	})
}
