package provet

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const simWorklistJSON = `{
  "id": 101,
  "url": "https://provetcloud.com/4/api/0.1/diagnosticimaging_worklist/101/",
  "referral": "https://provetcloud.com/4/api/0.1/diagnosticimaging_referral/55/",
  "consultation": "https://provetcloud.com/4/api/0.1/consultation/900/",
  "patient": "https://provetcloud.com/4/api/0.1/patient/7/",
  "client": "https://provetcloud.com/4/api/0.1/client/3/",
  "modality": "https://provetcloud.com/4/api/0.1/modality/2/",
  "target_areas": ["https://provetcloud.com/4/api/0.1/targetarea/11/", "https://provetcloud.com/4/api/0.1/targetarea/12/"],
  "requesting_user": "https://provetcloud.com/4/api/0.1/user/8/",
  "supervising_veterinarian": null,
  "department": "https://provetcloud.com/4/api/0.1/department/1/",
  "status": 2,
  "created": "2026-11-20T09:00:00.123456+02:00",
  "modified": "2026-11-21T10:30:00+02:00"
}`

func TestDecodeWorklistDefaults(t *testing.T) {
	m := DefaultMapping()
	it, err := m.DecodeWorklist([]byte(simWorklistJSON))
	if err != nil {
		t.Fatal(err)
	}
	if it.ID != 101 || it.Status != StatusInProgress || it.StatusRaw != "2" {
		t.Errorf("id/status = %d %v %q", it.ID, it.Status, it.StatusRaw)
	}
	if it.Patient.ID != 7 || it.Client.ID != 3 || it.Modality.ID != 2 || it.Referral.ID != 55 ||
		it.Consultation.ID != 900 || it.RequestingUser.ID != 8 || it.Department.ID != 1 {
		t.Errorf("relations = %+v", it)
	}
	if !it.SupervisingVet.IsZero() || !it.Appointment.IsZero() || it.Remarks != "" || it.Urgent {
		t.Errorf("null/absent relations should be zero: %+v %+v", it.SupervisingVet, it.Appointment)
	}
	if len(it.TargetAreas) != 2 || it.TargetAreas[1].ID != 12 {
		t.Errorf("target areas = %+v", it.TargetAreas)
	}
	want := time.Date(2026, 11, 21, 8, 30, 0, 0, time.UTC)
	if !it.Modified.Equal(want) || it.Created.Nanosecond() != 123456000 {
		t.Errorf("times = %v %v", it.Created, it.Modified)
	}
	if string(it.Raw) != simWorklistJSON {
		t.Error("raw JSON not kept verbatim")
	}
}

func TestDecodeWorklistStatusForms(t *testing.T) {
	m := DefaultMapping()
	for raw, want := range map[string]Status{
		`1`: StatusRequested, `"1"`: StatusRequested, `1.0`: StatusRequested, `3e0`: StatusCompleted,
		`4`: StatusCancelled, `9`: StatusUnknown, `"done"`: StatusUnknown,
	} {
		it, err := m.DecodeWorklist([]byte(`{"id":1,"patient":5,"status":` + raw + `}`))
		if err != nil {
			t.Errorf("status %s: %v", raw, err)
			continue
		}
		if it.Status != want {
			t.Errorf("status %s = %v, want %v", raw, it.Status, want)
		}
	}
}

func TestDecodeWorklistInlinedAndIDRelations(t *testing.T) {
	m := DefaultMapping()
	if err := m.ApplyOverrides(map[string]string{"worklist.urgent": "urgent"}); err != nil {
		t.Fatal(err)
	}
	it, err := m.DecodeWorklist([]byte(`{"id":"12","patient":{"id":7,"name":"Rex"},"modality":{"url":"https://h/1/api/0.1/modality/3/","name":"X-ray"},"client":44,"urgent":"yes","target_areas":"https://h/1/api/0.1/targetarea/2/"}`))
	if err != nil {
		t.Fatal(err)
	}
	if it.ID != 12 || it.Patient.ID != 7 || it.Patient.Name != "Rex" || it.Modality.ID != 3 || it.Modality.Name != "X-ray" || it.Client.ID != 44 || !it.Urgent {
		t.Errorf("decoded %+v", it)
	}
	if len(it.TargetAreas) != 1 || it.TargetAreas[0].ID != 2 {
		t.Errorf("single target area = %+v", it.TargetAreas)
	}
	it, err = m.DecodeWorklist([]byte(`{"id":13,"modality":"X-ray","target_areas":["Thorax","Abdomen"]}`))
	if err != nil || it.Modality.Name != "X-ray" || it.Modality.ID != 0 || len(it.TargetAreas) != 2 || it.TargetAreas[1].Name != "Abdomen" {
		t.Errorf("relations by name: %+v %v", it, err)
	}
}

func TestDecodeWorklistErrorsNameTheKey(t *testing.T) {
	m := DefaultMapping()
	if err := m.ApplyOverrides(map[string]string{"worklist.urgent": "urgent"}); err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		`[]`:                                 "JSON object",
		`{"patient":1}`:                      `worklist.id`,
		`{"id":1,"modified":"last tuesday"}`: `"modified"`,
		`{"id":1,"patient":"https://h/x/"}`:  `"patient"`,
		`{"id":1,"status":{"a":1}}`:          `"status"`,
		`{"id":1,"urgent":"perhaps"}`:        `"urgent"`,
		`{"id":1,"target_areas":[true]}`:     `"target_areas"`,
	}
	for in, want := range tests {
		_, err := m.DecodeWorklist([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeWorklist(%s) error = %v, want mention of %s", in, err, want)
		}
	}
}

func TestDecodeReferral(t *testing.T) {
	m := DefaultMapping()
	r, err := m.DecodeReferral([]byte(`{"id":55,"url":"https://h/4/api/0.1/diagnosticimaging_referral/55/","worklist":"https://h/4/api/0.1/diagnosticimaging_worklist/101/","consultation":"https://h/4/api/0.1/consultation/900/","appointment":null,"remarks":"Left hind leg, lame since Monday","internal_notes":"","urgent":true,"created":"2026-11-20","modified":"2026-11-21T10:30:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != 55 || r.Worklist.ID != 101 || r.Consultation.ID != 900 || !r.Appointment.IsZero() || !r.Urgent || r.Remarks != "Left hind leg, lame since Monday" {
		t.Errorf("decoded %+v", r)
	}
	if !r.Created.Equal(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date-only created = %v", r.Created)
	}
}

func TestApplyOverrides(t *testing.T) {
	m := DefaultMapping()
	err := m.ApplyOverrides(map[string]string{
		"worklist.status":           "state",
		"Worklist.Remarks":          "",
		"status.completed":          "done, finished",
		"status.requested":          "open",
		"status.in_progress":        "in_progress",
		"status.cancelled":          "cancelled",
		"referral.appointment":      "appointment_id",
		"worklist.requesting_user ": "ordered_by",
	})
	if err != nil {
		t.Fatal(err)
	}
	it, err := m.DecodeWorklist([]byte(`{"id":3,"state":"finished","status":1,"remarks":"ignored","ordered_by":"https://h/1/api/0.1/user/9/"}`))
	if err != nil {
		t.Fatal(err)
	}
	if it.Status != StatusCompleted || it.Remarks != "" || it.RequestingUser.ID != 9 {
		t.Errorf("after overrides: %+v", it)
	}
	body, err := m.statusPatch(StatusCompleted)
	if err != nil || string(body) != `{"state":"done"}` {
		t.Errorf("patch body = %s, %v (the first configured value must be written)", body, err)
	}
	body, _ = DefaultMapping().statusPatch(StatusInProgress)
	if string(body) != `{"status":2}` {
		t.Errorf("default patch body = %s, want a JSON number", body)
	}
	r, err := m.DecodeReferral([]byte(`{"id":1,"appointment_id":77}`))
	if err != nil || r.Appointment.ID != 77 {
		t.Errorf("referral override: %+v %v", r, err)
	}
}

func TestApplyOverridesRejects(t *testing.T) {
	tests := []struct {
		o    map[string]string
		want string
	}{
		{map[string]string{"worklist.colour": "x"}, `"worklist.colour" is not known`},
		{map[string]string{"worklist.id": ""}, "required"},
		{map[string]string{"worklist.status": " "}, "required"},
		{map[string]string{"status.paused": "7"}, `unknown status "paused"`},
		{map[string]string{"status.completed": " , "}, "at least one status value"},
		{map[string]string{"status.completed": "1"}, `status value "1" is given for both`},
		{map[string]string{"worklist.modality": "patient"}, `both read the JSON key "patient"`},
		{map[string]string{"worklist.remarks": "re\nmarks"}, "control characters"},
	}
	for _, tt := range tests {
		m := DefaultMapping()
		before := *m.Clone()
		err := m.ApplyOverrides(tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `"mapping" section`) {
			t.Errorf("ApplyOverrides(%v) error = %v, want mention of %q", tt.o, err, tt.want)
		}
		if m.Worklist != before.Worklist || m.StatusValues[StatusCompleted][0] != "3" {
			t.Errorf("ApplyOverrides(%v) changed the mapping despite the error", tt.o)
		}
	}
	// Several mistakes are all reported at once.
	err := DefaultMapping().ApplyOverrides(map[string]string{"a": "1", "b": "2"})
	if err == nil || !strings.Contains(err.Error(), `"a"`) || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("errors not joined: %v", err)
	}
}

func TestOverrideNamesAllAccepted(t *testing.T) {
	for _, n := range OverrideNames() {
		v := "k_" + strings.ReplaceAll(n, ".", "_")
		if strings.HasPrefix(n, "status.") {
			v = "v_" + n
		}
		if err := DefaultMapping().ApplyOverrides(map[string]string{n: v}); err != nil {
			t.Errorf("listed override %q rejected: %v", n, err)
		}
	}
}

func TestStatusString(t *testing.T) {
	if StatusCompleted.String() != "completed" || Status(99).String() != "unknown" {
		t.Error("Status.String")
	}
}

func TestKnownObjects(t *testing.T) {
	p, err := DecodePatient([]byte(`{"id":7,"url":"https://h/1/api/0.1/patient/7/","client":"https://h/1/api/0.1/client/3/","name":"Rex","species":"Dog (Canine - Domestic)","breed":"Beagle","gender":"Castrated male","species_code":1,"breed_code":"22","date_of_birth":"2019-04-01","weight":"12.50","microchip":"985112345678901","deceased":null,"archived":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != 7 || p.Client.ID != 3 || p.BreedCode != 22 || p.Weight == nil || *p.Weight != 12.5 || p.Deceased || p.DateOfBirth.Year() != 2019 {
		t.Errorf("patient = %+v", p)
	}
	if p2, _ := DecodePatient([]byte(`{"id":8,"deceased":"2026-01-02","weight":null}`)); !p2.Deceased || p2.Weight != nil {
		t.Errorf("deceased date / null weight = %+v", p2)
	}
	o, err := DecodeOwner([]byte(`{"id":3,"firstname":"Anna","lastname":"Virtanen","customer_type":0,"phone_numbers":[{"id":1,"number":"+358 40 123","description":"mobile"},{"id":2,"number":"","description":"old"}],"patients":["https://h/1/api/0.1/patient/7/"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if o.DisplayName() != "Anna Virtanen" || len(o.Phones) != 1 || o.Phones[0].Description != "mobile" || len(o.Patients) != 1 {
		t.Errorf("owner = %+v", o)
	}
	org := Owner{CustomerType: 1, OrganizationName: "Kennel Oy", FirstName: "A"}
	if org.DisplayName() != "Kennel Oy" {
		t.Error("organisation name not preferred")
	}
	c, err := DecodeConsultation([]byte(`{"id":900,"status":8,"client":"https://h/1/api/0.1/client/3/","patients":[{"id":7,"name":"Rex"},"https://h/1/api/0.1/patient/8/"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.PatientRefs) != 2 || len(c.Patients) != 1 || c.Patients[0].Name != "Rex" || c.PatientRefs[1].ID != 8 || c.Status != 8 {
		t.Errorf("consultation = %+v", c)
	}
	u, err := DecodeUser([]byte(`{"id":8,"email":"vet@example.com","first_name":"Mia","last_name":"Koski"}`))
	if err != nil || u.FullName() != "Mia Koski" {
		t.Errorf("user = %+v %v", u, err)
	}
	a, err := DecodeAppointment([]byte(`{"id":5,"start":"2026-11-22T09:00:00+02:00","end":"2026-11-22T09:30:00+02:00"}`))
	if err != nil || a.End.Sub(a.Start) != 30*time.Minute {
		t.Errorf("appointment = %+v %v", a, err)
	}
	if _, err := DecodeOwner([]byte(`{"id":3,"phone_numbers":"555"}`)); err == nil {
		t.Error("phone_numbers as a string should fail")
	}
}

func FuzzDecodeWorklist(f *testing.F) {
	f.Add([]byte(simWorklistJSON))
	f.Add([]byte(`{"id":"12","patient":{"id":7},"status":"1.0","target_areas":"https://h/1/api/0.1/targetarea/2/"}`))
	f.Add([]byte(`{"id":1,"status":1e400}`))
	m := DefaultMapping()
	f.Fuzz(func(t *testing.T, raw []byte) {
		it, err := m.DecodeWorklist(raw)
		if err != nil {
			return
		}
		if it.ID <= 0 {
			t.Fatalf("decoded an item without a positive id: %+v", it)
		}
		if !json.Valid(it.Raw) {
			t.Fatal("kept raw JSON is not valid JSON")
		}
		if it.Status != StatusUnknown && m.StatusOf(it.StatusRaw) != it.Status {
			t.Fatalf("status %v does not match its raw value %q", it.Status, it.StatusRaw)
		}
	})
}

func FuzzDecodeReferral(f *testing.F) {
	f.Add([]byte(`{"id":55,"worklist":"https://h/4/api/0.1/diagnosticimaging_worklist/101/","appointment":null,"remarks":"x","urgent":true,"created":"2026-11-20"}`))
	f.Add([]byte(`{"id":1,"appointment":{"id":2}}`))
	m := DefaultMapping()
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := m.DecodeReferral(raw)
		if err != nil {
			return
		}
		if r.ID <= 0 || !json.Valid(r.Raw) {
			t.Fatalf("accepted %q as %+v", raw, r)
		}
	})
}

func TestDecodeIDFromOwnURL(t *testing.T) {
	it, err := DefaultMapping().DecodeWorklist([]byte(`{"url":"https://h/1/api/0.1/diagnosticimaging_worklist/5/","status":1}`))
	if err != nil || it.ID != 5 || it.Status != StatusRequested {
		t.Errorf("%+v %v", it, err)
	}
	if _, err := DefaultMapping().DecodeWorklist([]byte(`{"id":-4}`)); err == nil {
		t.Error("a negative id was accepted")
	}
}
