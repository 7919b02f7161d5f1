// Package windows holds the Windows packaging sources, built by `make windows`: the resource
// description for go-winres (winres.json: icon, version, manifest) and the NSIS installer
// script (vetbridge.nsi). Its tests guard what the installer does to the workstation.
package windows
