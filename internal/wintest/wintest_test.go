package wintest

import (
	"runtime"
	"testing"
)

func TestNotWineOffWindows(t *testing.T) {
	if runtime.GOOS != "windows" && UnderWine() {
		t.Fatal("Wine detected on", runtime.GOOS)
	}
}

func TestSkipUnderWine(t *testing.T) {
	ran := false
	t.Run("probe", func(t *testing.T) {
		SkipUnderWine(t, "probe")
		ran = true
	})
	if ran == UnderWine() {
		t.Errorf("under Wine %v, the skipped test ran %v", UnderWine(), ran)
	}
}
