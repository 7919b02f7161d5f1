package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/records"
	"github.com/vetbridge/vetbridge/dicom/worklist"
	"github.com/vetbridge/vetbridge/store"
)

// The tenant the generated referrals pretend to come from.
const benchTenant = "4711"

type benchOwner struct{ first, last, org string }

// Owners and pets carry letters outside ASCII and Latin-1, as real clinics'
// do, so the folded names the index keeps are as large as in practice.
var (
	benchOwners = []benchOwner{
		{"Juhani", "Mäkinen", ""}, {"Søren", "Ødegård", ""}, {"Åsa", "Ström", ""},
		{"Zoë", "Fontaine", ""}, {"María José", "Ñúñez", ""}, {"Łukasz", "Wiśniewski", ""},
		{"Ólafur", "Þórsson", ""}, {"Γιώργος", "Παπαδόπουλος", ""}, {"Наталья", "Смирнова", ""},
		{"Jürgen", "Groß", ""}, {"Siobhán", "O'Brien", ""}, {"Aino", "Kärkkäinen", ""},
		{"Jean-Luc", "Lefèvre", ""}, {"Anna", "Virtanen", ""}, {"Mikko", "Korhonen", ""},
		{"", "", "Pohjolan Ratsastuskeskus Oy"}, {"", "", "Helsingin Eläinsuojeluyhdistys ry"},
	}
	benchSpecies = []struct {
		name   string
		code   int
		breeds []string
		pets   []string
	}{
		{"Dog (Canine - Domestic)", 1, []string{"Labrador Retriever", "Finnish Lapphund", "German Shepherd", "Dachshund", "Mixed breed"},
			[]string{"Musti", "Rölli", "Björn", "Frøya", "Max", "Señor Bigotes", "Nöpö", "Ярик"}},
		{"Cat (Feline - Domestic)", 2, []string{"Domestic Shorthair", "Maine Coon", "Norwegian Forest Cat", "Siamese"},
			[]string{"Mirri", "Åke", "Luna", "Piña", "Kisu", "Λέων"}},
		{"Horse (Equine)", 3, []string{"Finnhorse", "Icelandic horse", "Warmblood"},
			[]string{"Tähti", "Sleipnir", "Dúfa", "Hjalmar"}},
		{"Rabbit (Lagomorph)", 4, []string{"Netherland Dwarf", "Lionhead"}, []string{"Pupu", "Hoppsan"}},
	}
	benchModalities = []struct{ provet, mod, station string }{
		{"X-ray", "DX", "DX1"}, {"X-ray", "DX", "DX1"}, {"Ultrasound", "US", "US1"},
		{"Computed radiography", "CR", "CR1"}, {"CT", "CT", "CT1"},
	}
	benchAreas   = []string{"Thorax", "Abdomen", "Pelvis", "Skull", "Spine - cervical", "Left forelimb", "Right hindlimb", "Stifle", "Elbow", "Dental", "Heart"}
	benchVets    = [][2]string{{"Kaisa", "Lahti"}, {"Erik", "Lindqvist"}, {"Mari", "Nieminen"}}
	benchRemarks = []string{"", "", "Lame on left fore since Tuesday.", "Vomiting, rule out foreign body.",
		"Cough for two weeks; murmur grade II/VI.", "Post-op control 6 weeks after TPLO.",
		"Suspected fracture, handle gently — aggressive when in pain.", "Pregnancy check, day 45."}
)

// genRecords makes n referrals shaped as the Provet sync stores them, over
// the days retention keeps (a week back to three weeks ahead), so the
// running server removes none of them while it is measured. Most are
// waiting; past ones are mostly finished, as in a clinic.
func genRecords(n int, now time.Time) []records.Record {
	r := rand.New(rand.NewPCG(uint64(n), 0x5e4e))
	patients := max(n/3, 1)
	out := make([]records.Record, n)
	for i := range out {
		id := int64(100000 + i)
		p := r.IntN(patients)
		o := benchOwners[p%len(benchOwners)]
		sp := benchSpecies[(p/len(benchOwners))%len(benchSpecies)]
		pet := sp.pets[(p/7)%len(sp.pets)]
		breed := sp.breeds[p%len(sp.breeds)]
		m := benchModalities[r.IntN(len(benchModalities))]
		vet := benchVets[r.IntN(len(benchVets))]
		day := now.AddDate(0, 0, r.IntN(28)-6)
		start := time.Date(day.Year(), day.Month(), day.Day(), 8+r.IntN(9), 15*r.IntN(4), 0, 0, time.Local)
		exam := m.provet + " " + benchAreas[r.IntN(len(benchAreas))]
		remarks := benchRemarks[r.IntN(len(benchRemarks))]
		key := "provet:" + benchTenant + ":" + strconv.FormatInt(id, 10)
		it := worklist.Item{
			Key:                           key,
			PatientID:                     strconv.Itoa(50000 + p),
			OtherPatientIDs:               []string{fmt.Sprintf("246098%09d", p)},
			PatientBirthDate:              now.AddDate(-1-p%14, -(p % 12), 0).Format("20060102"),
			PatientSex:                    []string{"M", "F"}[p%2],
			PatientSexNeutered:            []string{"ALTERED", "UNALTERED"}[(p/2)%2],
			PatientWeightKg:               float64(2+p%40) + 0.5,
			SpeciesDescription:            sp.name[:strings.Index(sp.name, " (")],
			SpeciesCode:                   &worklist.Code{Value: strconv.Itoa(sp.code), Scheme: "99PROVET", Meaning: sp.name},
			BreedDescription:              breed,
			BreedCode:                     &worklist.Code{Value: strconv.Itoa(100 + p%len(sp.breeds)), Scheme: "99PROVET", Meaning: breed},
			AccessionNumber:               benchTenant + "-" + strconv.FormatInt(id, 10),
			RequestedProcedureID:          "RP" + strconv.FormatInt(id, 10),
			RequestedProcedureDescription: exam,
			RequestedProcedurePriority:    []string{"ROUTINE", "ROUTINE", "ROUTINE", "HIGH"}[r.IntN(4)],
			RequestedProcedureComments:    remarks,
			StudyInstanceUID:              worklist.DerivedStudyInstanceUID(key),
			ReferringPhysician:            vet[1] + "^" + vet[0],
			RequestingPhysician:           vet[1] + "^" + vet[0],
			PerformingPhysician:           vet[1] + "^" + vet[0],
			AdmissionID:                   strconv.FormatInt(700000+id, 10),
			StationAETitle:                m.station,
			Modality:                      m.mod,
			StartDate:                     start.Format("20060102"),
			StartTime:                     start.Format("150405"),
			SPSID:                         "SPS" + strconv.FormatInt(id, 10),
			SPSDescription:                exam,
			SPSStatus:                     "SCHEDULED",
			Updated:                       now,
		}
		owner := o.last
		ownerName := o.first + " " + o.last
		if o.org != "" {
			owner, ownerName = o.org, o.org
			it.ResponsibleOrganization = o.org
		} else {
			it.ResponsiblePerson = o.last + "^" + o.first
			it.ResponsiblePersonRole = "OWNER"
		}
		it.PatientName = owner + "^" + pet
		status := provet.StatusRequested
		if start.Before(now) && r.IntN(4) > 0 {
			status, it.SPSStatus = provet.StatusCompleted, "COMPLETED"
		}
		out[i] = records.Record{
			Item: it, Source: records.SourceProvet, ProvetID: int(id),
			ProvetStatus: strconv.Itoa(int(status)), ProvetState: status.String(), ProvetModified: now,
			PetName: pet, OwnerName: ownerName, RequestingVet: vet[0] + " " + vet[1],
			Exam: exam, Remarks: remarks, Arrived: now,
		}
	}
	return out
}

// fillStore writes the referrals through the repository the app uses, in
// batches the size a reconcile writes.
func fillStore(ctx context.Context, dir string, recs []records.Record) error {
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		return err
	}
	err = applyAll(ctx, st, recs)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return err
}

func applyAll(ctx context.Context, st *store.Store, recs []records.Record) error {
	repo, err := records.Open(st, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		return err
	}
	for len(recs) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(len(recs), 1000)
		if err := repo.Apply(recs[:n], nil); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}
