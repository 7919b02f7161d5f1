package cli

import (
	"strings"
	"testing"
)

// Without a PACS, `images` says what to set and `unmatched` lists nothing
// it has not seen; linking an exam that is not listed is refused in words.
func TestImagesCommandsWithoutPACS(t *testing.T) {
	data := installation(t)
	if code, out := run(t, t.Context(), "images", "--data", data); code != 1 || !strings.Contains(out, "no PACS is configured") {
		t.Errorf("images: exit %d, %q", code, out)
	}
	if code, out := run(t, t.Context(), "unmatched", "--data", data); code != 0 || out != "" {
		t.Errorf("unmatched: exit %d, %q", code, out)
	}
	if code, out := run(t, t.Context(), "unmatched", "link", "pacs:1.2", "ACC42", "--data", data); code != 1 || !strings.Contains(out, "no such unmatched exam") {
		t.Errorf("link: exit %d, %q", code, out)
	}
	if code, _ := run(t, t.Context(), "unmatched", "link", "pacs:1.2", "--data", data); code != 2 {
		t.Errorf("link without a referral: exit %d, want 2", code)
	}
	if code, _ := run(t, t.Context(), "walkin", "--data", data); code != 2 {
		t.Errorf("walkin without a patient: exit %d, want 2", code)
	}
}
