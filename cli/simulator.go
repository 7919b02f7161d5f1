package cli

import (
	"context"
	"fmt"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/app/provetsim"
)

func init() {
	register("simulator", "run the Provet Cloud simulator alone", cmdSimulator)
}

func cmdSimulator(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "simulator", "--listen 127.0.0.1:PORT [--referrals N] [--seed S] [--auto-approve]")
	listen := fs.String("listen", "127.0.0.1:8085", "address to listen on (keep it on loopback)")
	n := fs.Int("referrals", 40, "referrals generated at start")
	seed := fs.Uint64("seed", 1, "seed of the generated data")
	auto := fs.Bool("auto-approve", false, "approve sign-ins without the consent page")
	every := fs.Duration("new-referral-every", 0, "add a referral this often (0: never)")
	debug := fs.Bool("debug", false, "verbose logs")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	sim := provetsim.New(provetsim.Options{Referrals: *n, Seed: *seed, AutoApprove: *auto, Logger: app.NewLogger(env.Stderr, *debug)})
	if err := sim.Start(*listen); err != nil {
		return fmt.Errorf("start the simulator on %s: %w", *listen, err)
	}
	defer sim.Close()
	if *every > 0 {
		sim.SetDemo(true, *every)
	}
	fmt.Fprintf(env.Stdout, "simulator: %s client_id=%s\n", sim.URL(), sim.ClientID())
	<-ctx.Done()
	return nil
}
