package imaging

import "testing"

func TestViewerLink(t *testing.T) {
	cases := []struct{ tmpl, want string }{
		{"https://viewer.example/?patient=", "https://viewer.example/?patient=1234"},
		{"https://pacs.example/v?pid={patient_id}&acc={accession}&uid={study_uid}&t={provet_id}",
			"https://pacs.example/v?pid=1234&acc=A+1&uid=2.25.9&t=4242"},
	}
	for _, c := range cases {
		got, err := ViewerLink(c.tmpl, "1234", "A 1", "2.25.9", "4242")
		if err != nil || got != c.want {
			t.Errorf("%s: got %q %v, want %q", c.tmpl, got, err, c.want)
		}
	}
	if _, err := ViewerLink("", "1", "", "", ""); err == nil {
		t.Error("empty template accepted")
	}
	if _, err := ViewerLink("javascript:alert(1)//", "1", "", "", ""); err == nil {
		t.Error("non-web scheme accepted")
	}
}
