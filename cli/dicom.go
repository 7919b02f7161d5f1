package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/scu"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

func init() {
	register("echo", "C-ECHO a DICOM server: HOST PORT", cmdEcho)
	register("find", "query a modality worklist server like a modality: HOST PORT [-k Key=Value ...]", cmdFind)
}

func dicomClientFlags(env Env, name, usage string) (fs *flag.FlagSet, aet, aec *string, timeout *time.Duration) {
	fs = newFlags(env, name, usage)
	aet = fs.String("aet", "VBTEST", "our (calling) AE title")
	aec = fs.String("aec", "VETBRIDGE", "the server's (called) AE title")
	timeout = fs.Duration("timeout", 30*time.Second, "give up after this long")
	return fs, aet, aec, timeout
}

func cmdEcho(ctx context.Context, env Env, args []string) error {
	fs, aet, aec, timeout := dicomClientFlags(env, "echo", "HOST PORT [--aet TITLE] [--aec TITLE]")
	pos, err := parse(fs, args, 2)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()
	as, err := scu.Dial(ctx, net.JoinHostPort(pos[0], pos[1]), scu.Options{CallingAE: *aet, CalledAE: *aec})
	if err != nil {
		return fmt.Errorf("associate with %s:%s as %s → %s: %w", pos[0], pos[1], *aet, *aec, err)
	}
	defer as.Release(ctx)
	if err := as.Echo(ctx); err != nil {
		return fmt.Errorf("C-ECHO: %w", err)
	}
	fmt.Fprintf(env.Stdout, "C-ECHO %s@%s:%s ok (%s)\n", *aec, pos[0], pos[1], time.Since(start).Round(time.Millisecond))
	return nil
}

func cmdFind(ctx context.Context, env Env, args []string) error {
	fs, aet, aec, timeout := dicomClientFlags(env, "find", "HOST PORT [-k Key=Value ...] [--aet TITLE] [--aec TITLE]")
	var keys multiFlag
	fs.Var(&keys, "k", "a matching key Keyword=Value, or a return key Keyword (repeatable); "+
		"Scheduled Procedure Step attributes such as Modality go into its sequence by themselves")
	pos, err := parse(fs, args, 2)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		keys = defaultFindKeys
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	as, err := scu.Dial(ctx, net.JoinHostPort(pos[0], pos[1]), scu.Options{CallingAE: *aet, CalledAE: *aec})
	if err != nil {
		return fmt.Errorf("associate with %s:%s as %s → %s: %w", pos[0], pos[1], *aet, *aec, err)
	}
	defer as.Release(ctx)
	ts, ok := as.Syntax(dimse.ModalityWorklistFind)
	if !ok {
		return errors.New("the server does not offer the Modality Worklist (it accepted no worklist presentation context)")
	}
	ident, err := scu.EncodeWorklistQuery(keys, ts.BigEndian, ts.Implicit)
	if err != nil {
		return err
	}
	n := 0
	status, err := as.Find(ctx, dimse.ModalityWorklistFind, ident, func(b []byte) error {
		n++
		fmt.Fprintf(env.Stdout, "# item %d\n", n)
		return PrintDataSet(env.Stdout, b, ts.BigEndian, ts.Implicit)
	})
	if err != nil {
		return fmt.Errorf("C-FIND: %w", err)
	}
	fmt.Fprintf(env.Stdout, "# %d items, status 0x%04X\n", n, status)
	if status != 0 {
		return fmt.Errorf("the server ended the query with status 0x%04X", status)
	}
	return nil
}

// defaultFindKeys is a broad query returning what a veterinary modality shows.
var defaultFindKeys = multiFlag{
	"SpecificCharacterSet", "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
	"PatientSpeciesDescription", "PatientBreedDescription", "PatientSexNeutered",
	"ResponsiblePerson", "ResponsibleOrganization", "PatientWeight", "AccessionNumber",
	"StudyInstanceUID", "RequestedProcedureID", "RequestedProcedureDescription",
	"Modality", "ScheduledStationAETitle", "ScheduledProcedureStepStartDate",
	"ScheduledProcedureStepStartTime", "ScheduledProcedureStepID", "ScheduledProcedureStepDescription",
}

// PrintDataSet writes an answer as "Keyword=Value" lines, Scheduled
// Procedure Step attributes as "SPS>Keyword". It reads through the worklist
// decoder, which bounds every length: a misbehaving server must not make a
// diagnostic tool allocate gigabytes.
func PrintDataSet(w io.Writer, b []byte, bigEndian, implicit bool) error {
	q, err := worklist.DecodeQuery(b, bigEndian, implicit)
	if err != nil && !errors.Is(err, worklist.ErrNotWorklistQuery) {
		return fmt.Errorf("read the answer: %w", err)
	}
	if q.CharacterSet != "" {
		fmt.Fprintf(w, "SpecificCharacterSet=%s\n", q.CharacterSet)
	}
	for _, k := range q.Keys {
		name := k.Name
		if k.InSPS {
			name = "SPS>" + name
		}
		v := k.Value
		if k.Code != nil {
			v = strings.Join([]string{k.Code.Value, k.Code.Scheme, k.Code.Meaning}, "/")
		}
		fmt.Fprintf(w, "%s=%s\n", name, v)
	}
	return nil
}
