package app

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/scu"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

func init() {
	register("echo", "C-ECHO a DICOM server: HOST PORT", cmdEcho)
	register("find", "query a modality worklist server like a modality: HOST PORT [-k Key=Value ...]", cmdFind)
}

func dicomClientFlags(env cliEnv, name, usage string) (fs *flagSet, aet, aec *string, timeout *time.Duration) {
	f := newFlags(env, name, usage)
	aet = f.String("aet", "VBTEST", "our (calling) AE title")
	aec = f.String("aec", "VETBRIDGE", "the server's (called) AE title")
	timeout = f.Duration("timeout", 30*time.Second, "give up after this long")
	return &flagSet{f}, aet, aec, timeout
}

func cmdEcho(ctx context.Context, env cliEnv, args []string) error {
	fs, aet, aec, timeout := dicomClientFlags(env, "echo", "HOST PORT [--aet TITLE] [--aec TITLE]")
	pos, err := parseInterspersed(fs.FlagSet, args)
	if err != nil || len(pos) != 2 {
		fs.Usage()
		return errUsage
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
	fmt.Fprintf(env.stdout, "C-ECHO %s@%s:%s ok (%s)\n", *aec, pos[0], pos[1], time.Since(start).Round(time.Millisecond))
	return nil
}

func cmdFind(ctx context.Context, env cliEnv, args []string) error {
	fs, aet, aec, timeout := dicomClientFlags(env, "find", "HOST PORT [-k Key=Value ...] [--aet TITLE] [--aec TITLE]")
	var keys multiFlag
	fs.Var(&keys, "k", "a matching key Keyword=Value, or a return key Keyword (repeatable); "+
		"Scheduled Procedure Step attributes such as Modality go into its sequence by themselves")
	pos, err := parseInterspersed(fs.FlagSet, args)
	if err != nil || len(pos) != 2 {
		fs.Usage()
		return errUsage
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
	ident, err := BuildIdentifier(keys, ts.BigEndian, ts.Implicit)
	if err != nil {
		return err
	}
	n := 0
	status, err := as.Find(ctx, dimse.ModalityWorklistFind, ident, func(b []byte) error {
		n++
		fmt.Fprintf(env.stdout, "# item %d\n", n)
		return PrintDataSet(env.stdout, b, ts.BigEndian, ts.Implicit)
	})
	if err != nil {
		return fmt.Errorf("C-FIND: %w", err)
	}
	fmt.Fprintf(env.stdout, "# %d items, status 0x%04X\n", n, status)
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

// spsKeys belong inside the Scheduled Procedure Step Sequence.
var spsKeys = map[tag.Tag]bool{
	tag.ScheduledStationAETitle: true, tag.ScheduledProcedureStepStartDate: true,
	tag.ScheduledProcedureStepStartTime: true, tag.Modality: true,
	tag.ScheduledPerformingPhysicianName: true, tag.ScheduledProcedureStepDescription: true,
	tag.ScheduledProcedureStepID: true, tag.ScheduledStationName: true,
	tag.ScheduledProcedureStepLocation: true, tag.ScheduledProcedureStepStatus: true,
}

// BuildIdentifier encodes a worklist query from findscu-style keys
// ("Modality=DX", "PatientName"), in UTF-8 with (0008,0005) when needed.
func BuildIdentifier(keys []string, bigEndian, implicit bool) ([]byte, error) {
	var top, sps []*dicom.Element
	nonASCII := false
	for _, k := range keys {
		name, value, _ := strings.Cut(k, "=")
		name = strings.TrimSpace(name)
		if i := strings.LastIndexAny(name, ".>"); i >= 0 {
			name = name[i+1:]
		}
		info, err := tag.FindByName(name)
		if err != nil {
			return nil, fmt.Errorf("unknown key %q: use a DICOM keyword such as PatientName or Modality", name)
		}
		if info.Tag == tag.SpecificCharacterSet || info.Tag == tag.ScheduledProcedureStepSequence {
			continue
		}
		for _, r := range value {
			if r > 0x7e {
				nonASCII = true
			}
		}
		if len(value)%2 == 1 && info.VRs[0] != "UI" {
			// PS3.5 6.2: text pads with a space. The library pads with NUL,
			// which DCMTK's wlmscpfs reads as part of a date range and then
			// matches nothing.
			value += " "
		}
		el, err := dicom.NewElement(info.Tag, []string{value})
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", name, err)
		}
		if spsKeys[info.Tag] {
			sps = append(sps, el)
		} else {
			top = append(top, el)
		}
	}
	if nonASCII {
		cs, _ := dicom.NewElement(tag.SpecificCharacterSet, []string{"ISO_IR 192"})
		top = append(top, cs)
	}
	seq, err := dicom.NewElement(tag.ScheduledProcedureStepSequence, [][]*dicom.Element{sortElements(sps)})
	if err != nil {
		return nil, err
	}
	top = append(top, seq)
	var buf bytes.Buffer
	w, err := dicom.NewWriter(&buf, dicom.SkipVRVerification())
	if err != nil {
		return nil, err
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		bo = binary.BigEndian
	}
	w.SetTransferSyntax(bo, implicit)
	for _, el := range sortElements(top) {
		if err := w.WriteElement(el); err != nil {
			return nil, fmt.Errorf("encode the query: %w", err)
		}
	}
	return buf.Bytes(), nil
}

func sortElements(es []*dicom.Element) []*dicom.Element {
	sort.Slice(es, func(i, j int) bool {
		a, b := es[i].Tag, es[j].Tag
		return a.Group < b.Group || (a.Group == b.Group && a.Element < b.Element)
	})
	return es
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
