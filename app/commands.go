package app

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/provetsim"
	"github.com/vetbridge/vetbridge/dicom/worklist"
	"github.com/vetbridge/vetbridge/store"
)

func init() {
	register("serve", "sync with Provet and serve the worklist, without a window", cmdServe)
	register("demo", "the Provet simulator, sign-in, sync and DICOM server in one process (--headless)", cmdDemo)
	register("simulator", "run the Provet Cloud simulator alone", cmdSimulator)
	register("login", "sign in to Provet Cloud without the desktop app", cmdLogin)
	register("logout", "sign out of Provet Cloud and forget the stored sign-in", cmdLogout)
	register("doctor", "check the Provet connection and show what VetBridge understands of its data", cmdDoctor)
	register("export-wl", "write every worklist item as a DICOM .wl file (DCMTK wlmscpfs, Orthanc)", cmdExportWL)
	register("import-wl", "read .wl files from a file-based worklist server into the worklist", cmdImportWL)
	register("explain", "say why a device does or does not see a referral", cmdExplain)
}

// dataFlags are the flags every command on the local installation takes.
type dataFlags struct {
	data  *string
	debug *bool
}

func addDataFlags(fs interface {
	String(string, string, string) *string
	Bool(string, bool, string) *bool
}) dataFlags {
	return dataFlags{
		data:  fs.String("data", "", "data directory (default: the per-user VetBridge directory)"),
		debug: fs.Bool("debug", false, "verbose logs, including patient names: for troubleshooting only"),
	}
}

// open opens the installation the flags name, logging to stderr.
func (df dataFlags) open(env cliEnv, openURL func(string) error) (*App, error) {
	return Open(Options{DataDir: *df.data, Logger: NewLogger(env.stderr, *df.debug), OpenURL: openURL})
}

func cmdServe(ctx context.Context, env cliEnv, args []string) error {
	fs := newFlags(env, "serve", "[--data DIR] [--dicom-port N] [--ae TITLE]")
	df := addDataFlags(fs)
	port := fs.Int("dicom-port", 0, "DICOM port (default from the configuration, 11112)")
	ae := fs.String("ae", "", "DICOM AE title (default from the configuration, VETBRIDGE)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	a, err := Open(Options{
		DataDir: *df.data,
		Logger:  NewLogger(env.stderr, *df.debug),
		Override: func(c *Config) {
			if *port > 0 {
				c.DICOM.Port = *port
			}
			if *ae != "" {
				c.DICOM.AETitle = *ae
			}
		},
		OpenURL: printURL(env),
	})
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Run(ctx)
}

func printURL(env cliEnv) func(string) error {
	return func(u string) error {
		fmt.Fprintf(env.stdout, "Open this address in a browser to sign in to Provet:\n%s\n", u)
		return nil
	}
}

func cmdDemo(ctx context.Context, env cliEnv, args []string) error {
	fs := newFlags(env, "demo", "--headless [--data DIR] [--referrals N] [--seed S] [--dicom-port N]")
	fs.Bool("headless", false, "run without a window")
	df := addDataFlags(fs)
	demo := AddDemoFlags(fs)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	dir := *df.data
	if dir == "" {
		d, err := DefaultDataDir()
		if err != nil {
			return err
		}
		dir = filepath.Join(d, "demo")
	}
	o := demo.Options(dir)
	o.Logger, o.Out = NewLogger(env.stderr, *df.debug), env.stdout
	d, err := StartDemo(ctx, o)
	if err != nil {
		return err
	}
	defer d.Close()
	runErr := make(chan error, 1)
	go func() { runErr <- d.App.Run(ctx) }()
	if addr := waitDICOMAddr(ctx, d.App); addr != "" {
		fmt.Fprintf(env.stdout, "dicom: %s\n", addr)
	}
	return <-runErr
}

// waitDICOMAddr waits until the DICOM server listens, so the printed line is
// true when a script reads it.
func waitDICOMAddr(ctx context.Context, a *App) string {
	for i := 0; i < 200; i++ {
		if s := a.Status().DICOMAddr; s != "" {
			return s
		}
		select {
		case <-ctx.Done():
			return ""
		case <-time.After(25 * time.Millisecond):
		}
	}
	return ""
}

func cmdSimulator(ctx context.Context, env cliEnv, args []string) error {
	fs := newFlags(env, "simulator", "--listen 127.0.0.1:PORT [--referrals N] [--seed S] [--auto-approve]")
	listen := fs.String("listen", "127.0.0.1:8085", "address to listen on (keep it on loopback)")
	n := fs.Int("referrals", 40, "referrals generated at start")
	seed := fs.Uint64("seed", 1, "seed of the generated data")
	auto := fs.Bool("auto-approve", false, "approve sign-ins without the consent page")
	every := fs.Duration("new-referral-every", 0, "add a referral this often (0: never)")
	debug := fs.Bool("debug", false, "verbose logs")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	sim := provetsim.New(provetsim.Options{Referrals: *n, Seed: *seed, AutoApprove: *auto, Logger: NewLogger(env.stderr, *debug)})
	if err := sim.Start(*listen); err != nil {
		return fmt.Errorf("start the simulator on %s: %w", *listen, err)
	}
	defer sim.Close()
	if *every > 0 {
		sim.SetDemo(true, *every)
	}
	fmt.Fprintf(env.stdout, "simulator: %s client_id=%s\n", sim.URL(), sim.ClientID())
	<-ctx.Done()
	return nil
}

func cmdLogin(ctx context.Context, env cliEnv, args []string) error {
	fs := newFlags(env, "login", "[--data DIR]")
	df := addDataFlags(fs)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	a, err := df.open(env, openAndPrint(env))
	if err != nil {
		return err
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	who, err := a.SignIn(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Signed in to Provet Cloud as %s.\n", who)
	return nil
}

// openAndPrint prints the sign-in address and also tries the system browser,
// so `vetbridge login` works on a desktop and over SSH alike.
func openAndPrint(env cliEnv) func(string) error {
	return func(u string) error {
		fmt.Fprintf(env.stdout, "Open this address in a browser to sign in to Provet:\n%s\n", u)
		_ = OpenBrowser(u)
		return nil
	}
}

func cmdLogout(ctx context.Context, env cliEnv, args []string) error {
	fs := newFlags(env, "logout", "[--data DIR]")
	df := addDataFlags(fs)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	a, err := df.open(env, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	a.restoreSession(ctx)
	if err := a.SignOut(ctx); err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, "Signed out of Provet Cloud.")
	return nil
}

func cmdDoctor(ctx context.Context, env cliEnv, args []string) error {
	fs := newFlags(env, "doctor", "[--data DIR]")
	df := addDataFlags(fs)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	a, err := df.open(env, openAndPrint(env))
	if err != nil {
		return err
	}
	defer a.Close()
	a.restoreSession(ctx)
	if a.provetClient() == nil {
		fmt.Fprintln(env.stdout, "No stored Provet sign-in; signing in first.")
		if _, err := a.SignIn(ctx); err != nil {
			return err
		}
	}
	return provet.Diagnose(ctx, a.provetClient(), env.stdout)
}

// wlFileName names a .wl file after a hash of the item key: keys and AE
// titles come from outside and are never used as file names.
func wlFileName(key string) string {
	sum := sha1.Sum([]byte(key))
	return "vb-" + hex.EncodeToString(sum[:10]) + ".wl"
}

func cmdExportWL(ctx context.Context, env cliEnv, args []string) error {
	fs := newFlags(env, "export-wl", "[--data DIR] OUTDIR")
	df := addDataFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil || len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	st, err := openStoreOnly(*df.data)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := os.MkdirAll(pos[0], 0o755); err != nil {
		return fmt.Errorf("create %s: %w", pos[0], err)
	}
	n := 0
	err = st.AllItems(func(si store.Item) error {
		rec, err := decodeRecord(si.Data)
		if err != nil || !rec.onWorklist() {
			return nil
		}
		path := filepath.Join(pos[0], wlFileName(si.Key))
		if err := writeWLFile(path, rec.Item); err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %d worklist files to %s\n", n, pos[0])
	return nil
}

func writeWLFile(path string, it worklist.Item) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := worklist.WriteFile(f, it); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

func cmdImportWL(ctx context.Context, env cliEnv, args []string) error {
	fs := newFlags(env, "import-wl", "[--data DIR] INDIR")
	df := addDataFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil || len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	a, err := df.open(env, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	n, bad, err := a.ImportWL(pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "imported %d worklist items from %s", n, pos[0])
	if bad > 0 {
		fmt.Fprintf(env.stdout, " (%d files were not worklist items; see the log)", bad)
	}
	fmt.Fprintln(env.stdout)
	return nil
}

// ImportWL reads every .wl file under dir into the worklist. Items are keyed
// by their Study Instance UID (or the file's content) so importing twice
// replaces rather than duplicates.
func (a *App) ImportWL(dir string) (imported, bad int, err error) {
	var recs []record
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(path), ".wl") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		it, rerr := worklist.ReadFile(f)
		f.Close()
		if rerr != nil {
			a.log.Warn("not a worklist file; skipped", "file", path, "err", rerr)
			bad++
			return nil
		}
		id := it.StudyInstanceUID
		if id == "" {
			id = it.AccessionNumber + "/" + it.PatientID + "/" + it.SPSID
		}
		sum := sha1.Sum([]byte(id))
		it.Key = "import:" + hex.EncodeToString(sum[:12])
		it.Updated = a.now()
		fillImportedIdentifiers(&it, strings.ToUpper(hex.EncodeToString(sum[:4])))
		recs = append(recs, record{Item: it, Source: "import", Arrived: a.now()})
		return nil
	})
	if err != nil {
		return 0, bad, fmt.Errorf("read %s: %w", dir, err)
	}
	if err := a.putRecords(recs, nil); err != nil {
		return 0, bad, err
	}
	return len(recs), bad, nil
}

// fillImportedIdentifiers stores the Type 1 identifiers a file-based server
// left empty, so what the modality receives can also be queried for and
// linked by MPPS; the encoder would otherwise invent them per answer.
func fillImportedIdentifiers(it *worklist.Item, short string) {
	if it.StudyInstanceUID == "" {
		it.StudyInstanceUID = worklist.DerivedStudyInstanceUID(it.Key)
	}
	if it.RequestedProcedureID == "" {
		it.RequestedProcedureID = nonEmpty(it.AccessionNumber, "IMP"+short)
	}
	if it.SPSID == "" {
		it.SPSID = it.RequestedProcedureID
	}
	if it.PatientID == "" {
		it.PatientID = "IMP" + short
	}
}

func openStoreOnly(dir string) (*store.Store, error) {
	if dir == "" {
		d, err := DefaultDataDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return store.Open(dir, store.Options{})
}

func cmdExplain(ctx context.Context, env cliEnv, args []string) error {
	fs := newFlags(env, "explain", "[--data DIR] --accession A [--ae TITLE]")
	df := addDataFlags(fs)
	acc := fs.String("accession", "", "the referral's accession number (shown in the worklist window)")
	ae := fs.String("ae", "", "the device's calling AE title; default: every device seen")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *acc == "" {
		fs.Usage()
		return errUsage
	}
	a, err := df.open(env, nil)
	if err != nil {
		if errors.Is(err, store.ErrAlreadyRunning) {
			return fmt.Errorf("%w (the Modalities view of the running VetBridge shows the same explanation)", err)
		}
		return err
	}
	defer a.Close()
	var key string
	for _, r := range a.Referrals(ReferralFilter{AllDays: true}) {
		if strings.EqualFold(r.AccessionNumber, *acc) {
			key = r.Key
		}
	}
	if key == "" {
		return fmt.Errorf("no referral with accession number %q is stored", *acc)
	}
	devices := []string{*ae}
	if *ae == "" {
		devices = nil
		for _, d := range a.Devices() {
			devices = append(devices, d.CallingAE)
		}
		if len(devices) == 0 {
			return fmt.Errorf("no device has queried the worklist yet; pass --ae with the device's AE title")
		}
	}
	for _, dev := range devices {
		ex := a.Explain(key, dev)
		verdict := "does NOT see"
		if ex.Visible {
			verdict = "sees"
		}
		fmt.Fprintf(env.stdout, "%s %s referral %s:\n", dev, verdict, *acc)
		for _, r := range ex.Reasons {
			fmt.Fprintf(env.stdout, "  - %s\n", r)
		}
	}
	return nil
}
