package cli

import (
	"context"
	"fmt"

	"github.com/vetbridge/vetbridge/app"
)

func init() {
	register("statuses", "list the status values in Provet's worklist and what VetBridge takes them to mean (--confirm after checking them in Provet)", cmdStatuses)
}

func cmdStatuses(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "statuses", "[--data DIR] [--confirm]")
	df := addDataFlags(fs)
	confirm := fs.Bool("confirm", false, "record that you checked these meanings against Provet's own screens; status updates are sent from then on")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	return df.with(ctx, env, func(c app.Control) error {
		rep, err := c.Statuses(ctx)
		if err != nil {
			return err
		}
		if err := rep.Survey.WriteText(env.Stdout); err != nil {
			return err
		}
		switch {
		case *confirm:
			if err := c.ConfirmStatuses(ctx, rep.Survey); err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, "\nConfirmed: VetBridge sends status updates to Provet with these meanings.")
		case rep.Confirmed:
			fmt.Fprintln(env.Stdout, "\nThese meanings are confirmed; status updates are sent to Provet.")
		default:
			fmt.Fprintln(env.Stdout, "\nNot confirmed yet: status updates wait. Look up the example orders in Provet, and when every meaning is right run `vetbridge statuses --confirm`.")
		}
		return nil
	})
}
