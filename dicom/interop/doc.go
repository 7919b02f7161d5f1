// Package interop holds interop tests of the assembled worklist server (the
// scp server answering C-FIND through worklist.Service, as the app wires it)
// against real DICOM peers: the DCMTK command-line tools echoscu, findscu,
// dump2dcm and dcmdump. It has no non-test code; the tests skip when DCMTK
// is not installed.
package interop
