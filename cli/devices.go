package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vetbridge/vetbridge/app"
)

func init() {
	register("devices", "list, allow or remove the modalities that may use the worklist: devices list|allow AE [--addr IP]...|remove AE", cmdDevices)
}

func cmdDevices(ctx context.Context, env Env, args []string) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	fs := newFlags(env, "devices "+sub, "list | allow AE [--addr IP]... | remove AE  [--data DIR]")
	df := addDataFlags(fs)
	var addrs multiFlag
	if sub == "allow" {
		fs.Var(&addrs, "addr", "an address the device may connect from (repeatable); none: any")
	}
	want := map[string]int{"list": 0, "allow": 1, "remove": 1}
	n, ok := want[sub]
	if !ok {
		fs.Usage()
		return errUsage
	}
	pos, err := parse(fs, args, n)
	if err != nil {
		return err
	}
	return df.with(ctx, env, func(c app.Control) error {
		switch sub {
		case "allow":
			if err := c.AllowDevice(ctx, pos[0], addrs); err != nil {
				return err
			}
			from := "any address"
			if len(addrs) > 0 {
				from = strings.Join(addrs, ", ")
			}
			fmt.Fprintf(env.Stdout, "%s may now use the worklist, from %s.\n", pos[0], from)
		case "remove":
			if err := c.RemoveDevice(ctx, pos[0]); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s is no longer registered.\n", pos[0])
		default:
			ds, err := c.Devices(ctx)
			if err != nil {
				return err
			}
			printDevices(env.Stdout, ds)
		}
		return nil
	})
}

func printDevices(w io.Writer, ds []app.Device) {
	if len(ds) == 0 {
		fmt.Fprintln(w, "No device is registered and none has tried to query yet.")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "AE TITLE\tREGISTERED\tFROM\tLAST QUERY\tREFUSED")
	for _, d := range ds {
		reg := "no"
		if d.Known {
			reg = "yes"
			if len(d.Addrs) > 0 {
				reg = "yes, from " + strings.Join(d.Addrs, ", ")
			}
		}
		refused := "-"
		if d.Refused > 0 {
			refused = fmt.Sprintf("%d times, last %s (%s)", d.Refused, d.LastRefused.Local().Format("2006-01-02 15:04"), d.RefusedWhy)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.CallingAE, reg, orDash(d.Addr), when(d.LastQuery), refused)
	}
	tw.Flush()
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04")
}
