package provetsim

import (
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Worklist status values as the simulator serves them (see docs/design.md).
const (
	StatusRequested  = 1
	StatusInProgress = 2
	StatusCompleted  = 3
	StatusCancelled  = 4
)

// The records below are the simulator's own model; JSON is produced from them
// by render.go so that the wire shape lives in one place.

type user struct {
	ID        int
	Email     string
	FirstName string
	LastName  string
}

type phone struct {
	ID          int
	Number      string
	Description string
}

type client struct {
	ID           int
	Title        string
	FirstName    string
	LastName     string
	Organization string
	CustomerType int // 0 person, 1 company, 3 charity
	Email        string
	Phones       []phone
	Street       string
	Zip          string
	City         string
	Created      time.Time
	Modified     time.Time
}

type patient struct {
	ID          int
	ClientID    int
	Name        string
	Species     string
	SpeciesCode int
	Breed       string
	BreedCode   int
	Gender      string
	DateOfBirth time.Time // zero: unknown
	Weight      *float64
	Microchip   string
	Created     time.Time
	Modified    time.Time
}

type consultation struct {
	ID         int
	ClientID   int
	PatientIDs []int
	Status     int
	Created    time.Time
	Modified   time.Time
}

type appointment struct {
	ID             int
	ConsultationID int
	Start          time.Time
	End            time.Time
	Created        time.Time
	Modified       time.Time
}

type named struct {
	ID   int
	Name string
}

type worklistItem struct {
	ID               int
	ReferralID       int
	ConsultationID   int
	PatientID        int
	ClientID         int
	ModalityID       int
	TargetAreaIDs    []int
	RequestingUserID int
	SupervisingVetID int
	DepartmentID     int
	Status           int
	Created          time.Time
	Modified         time.Time
}

type referral struct {
	ID             int
	WorklistID     int
	ConsultationID int
	AppointmentID  int // 0: no appointment
	Remarks        string
	InternalNotes  string
	Urgent         bool
	Created        time.Time
	Modified       time.Time
}

// dataset is the whole tenant. It is guarded by Server.mu.
type dataset struct {
	users         map[int]*user
	clients       map[int]*client
	patients      map[int]*patient
	consultations map[int]*consultation
	appointments  map[int]*appointment
	worklist      map[int]*worklistItem
	referrals     map[int]*referral
	modalities    []named
	targetAreas   []named
	departments   []named

	nextID map[string]int
	rng    *rand.Rand
	now    time.Time // the generator's notion of "now"; mutations use the server clock
	loc    *time.Location
}

func (d *dataset) id(kind string) int {
	d.nextID[kind]++
	return d.nextID[kind]
}

// The reference lists are fixed so that ids are stable across seeds.
var (
	modalityNames   = []string{"X-ray", "Ultrasound", "CT", "Computed radiography"}
	targetAreaNames = []string{"Thorax", "Abdomen", "Pelvis", "Skull", "Spine - cervical",
		"Spine - thoracolumbar", "Left forelimb", "Right forelimb", "Left hindlimb",
		"Right hindlimb", "Stifle", "Elbow", "Dental", "Heart"}
	departmentNames = []string{"Small animal clinic", "Equine clinic"}
)

type owner struct {
	title, first, last, org string
	customerType            int
	city, zip, street       string
}

// Owners deliberately include letters outside Latin-1 (Ł, Ś, Greek, Cyrillic)
// and outside ASCII so that character-set handling downstream is exercised.
var owners = []owner{
	{"Mr", "Juhani", "Mäkinen", "", 0, "Tampere", "33100", "Hämeenkatu 12"},
	{"Mr", "Søren", "Ødegård", "", 0, "Bergen", "5003", "Bryggen 7"},
	{"Ms", "Åsa", "Ström", "", 0, "Göteborg", "411 05", "Vasagatan 3"},
	{"Ms", "Zoë", "Fontaine", "", 0, "Lyon", "69002", "Rue de la République 18"},
	{"Sra", "María José", "Ñúñez", "", 0, "Sevilla", "41001", "Calle Sierpes 44"},
	{"Mr", "Łukasz", "Wiśniewski", "", 0, "Kraków", "31-001", "ul. Floriańska 9"},
	{"Mr", "Ólafur", "Þórsson", "", 0, "Reykjavík", "101", "Laugavegur 21"},
	{"Mr", "Γιώργος", "Παπαδόπουλος", "", 0, "Αθήνα", "105 57", "Ερμού 30"},
	{"Ms", "Наталья", "Смирнова", "", 0, "Helsinki", "00100", "Mannerheimintie 5"},
	{"Mr", "Jürgen", "Groß", "", 0, "München", "80331", "Marienplatz 1"},
	{"Ms", "Siobhán", "O'Brien", "", 0, "Cork", "T12 X", "Oliver Plunkett St 2"},
	{"Ms", "Aino", "Kärkkäinen", "", 0, "Oulu", "90100", "Kirkkokatu 4"},
	{"Mr", "Jean-Luc", "Lefèvre", "", 0, "Genève", "1204", "Rue du Rhône 8"},
	{"", "", "", "Pohjolan Ratsastuskeskus Oy", 1, "Nurmijärvi", "01900", "Tallitie 1"},
	{"", "", "", "Hundegården AS", 1, "Drammen", "3015", "Kennelveien 2"},
	{"", "", "", "Helsingin Eläinsuojeluyhdistys ry", 3, "Helsinki", "00880", "Tattariharjuntie 22"},
	{"", "", "", "Djurskyddet Göteborg", 3, "Göteborg", "417 05", "Hamnvägen 6"},
}

type speciesDef struct {
	display string
	code    int
	breeds  []string
	weight  [2]float64 // kg range
	names   []string
}

var species = []speciesDef{
	{"Dog (Canine - Domestic)", 1, []string{"Labrador Retriever", "Finnish Lapphund", "German Shepherd", "Dachshund", "Mixed breed", "Norwegian Elkhound"}, [2]float64{4, 45},
		[]string{"Musti", "Rölli", "Björn", "Frøya", "Max", "Señor Bigotes", "Nöpö", "Ярик"}},
	{"Cat (Feline - Domestic)", 2, []string{"Domestic Shorthair", "Maine Coon", "Norwegian Forest Cat", "Siamese", "British Shorthair"}, [2]float64{2.5, 8},
		[]string{"Mirri", "Åke", "Luna", "Piña", "Kisu", "Λέων"}},
	{"Horse (Equine)", 3, []string{"Finnhorse", "Icelandic horse", "Fjord horse", "Warmblood", "Shetland pony"}, [2]float64{180, 650},
		[]string{"Tähti", "Sleipnir", "Dúfa", "Hjalmar"}},
	{"Rabbit (Lagomorph)", 4, []string{"Netherland Dwarf", "Lionhead", "Mixed breed"}, [2]float64{0.9, 3},
		[]string{"Pupu", "Hoppsan", "Zoë"}},
	{"Bearded dragon (Reptile)", 5, []string{"Central bearded dragon"}, [2]float64{0.3, 0.6},
		[]string{"Drago", "Ödla"}},
	{"Budgerigar (Avian)", 6, []string{"Budgerigar"}, [2]float64{0.03, 0.04},
		[]string{"Pipsa", "Kiwi"}},
	{"Guinea pig (Rodent)", 7, []string{"Abyssinian", "Peruvian"}, [2]float64{0.7, 1.2},
		[]string{"Nappi", "Cuy"}},
}

var genders = []string{"Male", "Female", "Castrated male", "Sterilised female", "Unknown"}

var remarks = []string{
	"", "", "Lame on left fore since Tuesday.", "Vomiting, rule out foreign body.",
	"Cough for two weeks; murmur grade II/VI.", "Pre-purchase examination.",
	"Post-op control 6 weeks after TPLO.", "Suspected fracture, handle gently — aggressive when in pain.",
	"Pregnancy check, day 45.", "Dental disease, extraction planned.",
}

// newDataset builds a tenant from (n, seed, now). Everything derives from the
// seeded generator and now, so the same inputs give the same tenant.
func newDataset(n int, seed uint64, now time.Time, loc *time.Location) *dataset {
	now = now.In(loc)
	d := &dataset{
		users:         map[int]*user{},
		clients:       map[int]*client{},
		patients:      map[int]*patient{},
		consultations: map[int]*consultation{},
		appointments:  map[int]*appointment{},
		worklist:      map[int]*worklistItem{},
		referrals:     map[int]*referral{},
		nextID:        map[string]int{},
		rng:           rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now:           now,
		loc:           loc,
	}
	for i, name := range modalityNames {
		d.modalities = append(d.modalities, named{i + 1, name})
	}
	for i, name := range targetAreaNames {
		d.targetAreas = append(d.targetAreas, named{i + 1, name})
	}
	for i, name := range departmentNames {
		d.departments = append(d.departments, named{i + 1, name})
	}
	for _, u := range [][2]string{{"Tiina", "Tekninen"}, {"Kaisa", "Lindqvist"}, {"Henrik", "Ødegaard"}, {"Anna", "Nowak"}, {"Mikael", "Öhman"}} {
		id := d.id("user")
		d.users[id] = &user{ID: id, FirstName: u[0], LastName: u[1],
			Email: strings.ToLower(asciiFold(u[0])+"."+asciiFold(u[1])) + "@clinic.example"}
	}
	for range n {
		d.addRandomReferral(now, referralSpec{})
	}
	return d
}

// asciiFold keeps e-mail addresses plain ASCII, as mail systems mostly expect.
func asciiFold(s string) string {
	r := strings.NewReplacer("ä", "a", "ö", "o", "å", "a", "ø", "o", "Ø", "O", "Ö", "O", "Ä", "A", "Å", "A")
	return r.Replace(s)
}

// referralSpec carries the fields a caller fixed; zero values are chosen at random.
type referralSpec struct {
	PatientID   int
	Modality    string
	TargetAreas []string
	Remarks     *string
	Urgent      *bool
	Start       *time.Time // appointment start; nil: random
	NoStart     bool       // no appointment at all
	Status      int
}

func (d *dataset) pick(n int) int { return d.rng.IntN(n) }

// addClientAndPatient creates a new owner with one animal. Owners repeat
// (same person, another visit) so that the owner list stays recognisable.
func (d *dataset) addClientAndPatient(ts time.Time) *patient {
	o := owners[d.pick(len(owners))]
	cid := d.id("client")
	c := &client{ID: cid, Title: o.title, FirstName: o.first, LastName: o.last,
		Organization: o.org, CustomerType: o.customerType, City: o.city, Zip: o.zip,
		Street: o.street, Created: ts.Add(-time.Duration(30+d.pick(900)) * 24 * time.Hour)}
	c.Modified = c.Created.Add(time.Duration(d.pick(86400)) * time.Second)
	local := o.last
	if local == "" {
		local = "office"
	}
	c.Email = strings.ToLower(strings.ReplaceAll(asciiFold(local), " ", "")) + "@example.net"
	c.Phones = []phone{{ID: d.id("phone"), Number: "+358 40 " + itoaPad(d.pick(10000000), 7), Description: "Mobile"}}
	if d.pick(3) == 0 {
		c.Phones = append(c.Phones, phone{ID: d.id("phone"), Number: "+358 9 " + itoaPad(d.pick(1000000), 6), Description: "Work"})
	}
	d.clients[cid] = c

	sp := species[d.pick(len(species))]
	if d.pick(2) == 0 { // dogs and cats dominate a real clinic's imaging
		sp = species[d.pick(2)]
	}
	pid := d.id("patient")
	p := &patient{ID: pid, ClientID: cid, Name: sp.names[d.pick(len(sp.names))],
		Species: sp.display, SpeciesCode: sp.code, Gender: genders[d.pick(len(genders))],
		Created: c.Created.Add(time.Hour), Modified: c.Modified.Add(time.Hour)}
	bi := d.pick(len(sp.breeds))
	p.Breed, p.BreedCode = sp.breeds[bi], sp.code*100+bi+1
	if d.pick(8) != 0 {
		w := sp.weight[0] + d.rng.Float64()*(sp.weight[1]-sp.weight[0])
		w = float64(int(w*100+0.5)) / 100
		p.Weight = &w
	}
	if d.pick(6) != 0 {
		p.DateOfBirth = time.Date(ts.Year()-1-d.pick(14), time.Month(1+d.pick(12)), 1+d.pick(28), 0, 0, 0, 0, time.UTC)
	}
	if sp.code <= 3 && d.pick(4) != 0 {
		p.Microchip = "246" + itoaPad(d.pick(1_000_000_000), 12)
	}
	d.patients[pid] = p
	return p
}

func itoaPad(v, width int) string {
	b := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b)
}

// addRandomReferral creates a worklist item with its referral and, for most,
// a consultation and appointment, around ts (yesterday to three days ahead).
func (d *dataset) addRandomReferral(ts time.Time, spec referralSpec) *worklistItem {
	var p *patient
	if spec.PatientID != 0 {
		p = d.patients[spec.PatientID]
	}
	if p == nil {
		if len(d.patients) > 0 && d.pick(5) == 0 {
			p = d.patients[1+d.pick(len(d.patients))]
		}
		if p == nil {
			p = d.addClientAndPatient(ts)
		}
	}
	day := startOfDay(ts).AddDate(0, 0, d.pick(5)-1) // yesterday .. +3 days
	created := ts.Add(-time.Duration(d.pick(72*60)) * time.Minute)
	if created.After(day.Add(20 * time.Hour)) {
		created = day.Add(7 * time.Hour)
	}
	created = created.Truncate(time.Microsecond).Add(time.Duration(d.pick(1_000_000)) * time.Microsecond)

	cons := &consultation{ID: d.id("consultation"), ClientID: p.ClientID, PatientIDs: []int{p.ID},
		Status: []int{0, 8, 8, 5}[d.pick(4)], Created: created, Modified: created}
	d.consultations[cons.ID] = cons

	modID := 1 + d.pick(len(d.modalities))
	if spec.Modality != "" {
		if m := findNamed(d.modalities, spec.Modality); m != 0 {
			modID = m
		}
	}
	var areas []int
	if spec.TargetAreas != nil {
		for _, name := range spec.TargetAreas {
			if a := findNamed(d.targetAreas, name); a != 0 {
				areas = append(areas, a)
			}
		}
	} else {
		for k := 1 + d.pick(2); len(areas) < k; {
			a := 1 + d.pick(len(d.targetAreas))
			if !slices.Contains(areas, a) {
				areas = append(areas, a)
			}
		}
	}

	w := &worklistItem{ID: d.id("worklist"), ConsultationID: cons.ID, PatientID: p.ID,
		ClientID: p.ClientID, ModalityID: modID, TargetAreaIDs: areas,
		RequestingUserID: 2 + d.pick(3), SupervisingVetID: 2 + d.pick(3),
		DepartmentID: 1, Status: StatusRequested, Created: created, Modified: created}
	if p.SpeciesCode == 3 {
		w.DepartmentID = 2
	}
	if d.pick(5) == 0 {
		w.SupervisingVetID = 0 // served as null: not every order names a supervisor
	}
	if day.Before(startOfDay(ts)) {
		// Yesterday's orders have mostly been dealt with.
		w.Status = []int{StatusCompleted, StatusCompleted, StatusCancelled, StatusRequested}[d.pick(4)]
	} else if d.pick(10) == 0 {
		w.Status = StatusInProgress
	}
	if spec.Status != 0 {
		w.Status = spec.Status
	}
	d.worklist[w.ID] = w

	r := &referral{ID: d.id("referral"), WorklistID: w.ID, ConsultationID: cons.ID,
		Remarks: remarks[d.pick(len(remarks))], Urgent: d.pick(7) == 0,
		Created: created, Modified: created}
	if d.pick(5) == 0 {
		r.InternalNotes = "Owner prefers a call after 16:00."
	}
	if spec.Remarks != nil {
		r.Remarks = *spec.Remarks
	}
	if spec.Urgent != nil {
		r.Urgent = *spec.Urgent
	}
	switch {
	case spec.Start != nil:
		r.AppointmentID = d.addAppointment(cons.ID, spec.Start.In(d.loc), created)
	case !spec.NoStart && d.pick(10) < 6:
		start := day.Add(8*time.Hour + time.Duration(d.pick(36))*15*time.Minute)
		r.AppointmentID = d.addAppointment(cons.ID, start, created)
	}
	w.ReferralID = r.ID
	d.referrals[r.ID] = r
	return w
}

func (d *dataset) addAppointment(consID int, start, created time.Time) int {
	a := &appointment{ID: d.id("appointment"), ConsultationID: consID, Start: start,
		End: start.Add(30 * time.Minute), Created: created, Modified: created}
	d.appointments[a.ID] = a
	return a.ID
}

func findNamed(list []named, name string) int {
	for _, n := range list {
		if strings.EqualFold(n.Name, name) {
			return n.ID
		}
	}
	return 0
}

func startOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}
