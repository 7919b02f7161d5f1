package app

import "fmt"

// Overrides says, in words, which saved settings the command line replaces
// for this run (`--dicom-port`, `--ae`): Settings saves them, and they
// apply from the next start without the flag.
func (a *App) Overrides() []string {
	stored, eff := a.Config().DICOM, a.Effective().DICOM
	var out []string
	if stored.Port != eff.Port {
		out = append(out, fmt.Sprintf("the DICOM port stays %d (--dicom-port)", eff.Port))
	}
	if stored.AETitle != eff.AETitle {
		out = append(out, fmt.Sprintf("the AE title stays %s (--ae)", eff.AETitle))
	}
	return out
}
