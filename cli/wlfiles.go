package cli

import (
	"context"
	"fmt"

	"github.com/vetbridge/vetbridge/app"
)

func init() {
	register("export-wl", "write every worklist item as a DICOM .wl file (DCMTK wlmscpfs, Orthanc)", cmdExportWL)
	register("import-wl", "read .wl files from a file-based worklist server into the worklist", cmdImportWL)
}

func cmdExportWL(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "export-wl", "[--data DIR] OUTDIR")
	df := addDataFlags(fs)
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	return df.with(ctx, env, func(c app.Control) error {
		n, err := c.ExportWL(ctx, pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "wrote %d worklist files to %s\n", n, pos[0])
		return nil
	})
}

func cmdImportWL(ctx context.Context, env Env, args []string) error {
	fs := newFlags(env, "import-wl", "[--data DIR] INDIR")
	df := addDataFlags(fs)
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	return df.with(ctx, env, func(c app.Control) error {
		n, bad, err := c.ImportWL(ctx, pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "imported %d worklist items from %s", n, pos[0])
		if bad > 0 {
			fmt.Fprintf(env.Stdout, " (%d files were not worklist items; see the log)", bad)
		}
		fmt.Fprintln(env.Stdout)
		return nil
	})
}
