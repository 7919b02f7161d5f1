package cli

import (
	"context"
	"fmt"

	"github.com/vetbridge/vetbridge/app"
)

func init() {
	register("images", "today's referrals' images in the PACS, one line each: ACCESSION studies=S series=R instances=I", cmdImages)
}

func cmdImages(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "images", "[--data DIR] [--accession A]")
	df := addDataFlags(fs)
	accession := fs.String("accession", "", "only the referral with this accession number (of any day)")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	return df.with(ctx, env, func(c app.Control) error {
		rep, err := c.Images(ctx, *accession)
		if err != nil {
			return err
		}
		if rep.Note != "" {
			fmt.Fprintf(env.Stderr, "vetbridge images: %s; the counts are as last seen\n", rep.Note)
		}
		for _, l := range rep.Lines() {
			fmt.Fprintln(env.Stdout, l)
		}
		return nil
	})
}
