package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/vetbridge/vetbridge/app"
)

func init() {
	register("walkin", "an exam without a Provet order: walkin search TEXT | walkin --patient ID --modality DX [--exam TEXT]", cmdWalkIn)
}

func cmdWalkIn(ctx context.Context, env Env, args []string) error {
	search := len(args) > 0 && args[0] == "search"
	if search {
		args = args[1:]
	}
	fs := newFlags(env, "walkin", "search TEXT | --patient ID --modality DX [--exam TEXT]  [--data DIR]")
	df := addDataFlags(fs)
	patient := fs.Int64("patient", 0, "Provet's patient id (from walkin search)")
	modality := fs.String("modality", "", "DICOM modality code (DX, US, ...) or Provet's modality name")
	exam := fs.String("exam", "", "what is to be imaged, e.g. \"Thorax, 2 views\"")
	n := 0
	if search {
		n = 1
	}
	pos, err := parse(fs, args, n)
	if err != nil {
		return err
	}
	if !search && (*patient == 0 || *modality == "") {
		fs.Usage()
		return errUsage
	}
	return df.with(ctx, env, func(c app.Control) error {
		if search {
			hits, err := c.SearchPatients(ctx, pos[0])
			if err != nil {
				return err
			}
			for _, h := range hits {
				fmt.Fprintf(env.Stdout, "%d\t%s\t%s\t%s\t%s\n", h.ID, h.Name, orDash(strings.TrimSpace(h.Species+" "+h.Breed)), orDash(h.Owner), orDash(h.Microchip))
			}
			return nil
		}
		res, err := c.NewWalkIn(ctx, app.WalkIn{PatientID: *patient, Modality: *modality, Exam: *exam})
		if err != nil {
			return err
		}
		r, where := res.Referral, "a walk-in: no order in Provet"
		if res.InProvet {
			where = fmt.Sprintf("order %d created in Provet", r.ProvetID)
		}
		fmt.Fprintf(env.Stdout, "On the worklist: accession %s, patient id %s, %s at %s (%s).\n",
			r.AccessionNumber, r.PatientID, r.Modality, orDash(r.StationAE), where)
		if res.Note != "" {
			fmt.Fprintln(env.Stderr, res.Note)
		}
		return nil
	})
}
