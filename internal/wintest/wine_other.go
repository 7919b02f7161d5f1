//go:build !windows

package wintest

// Wine reports the Wine version when the process runs under Wine; never, off Windows.
func Wine() (string, bool) { return "", false }
