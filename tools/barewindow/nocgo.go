//go:build !cgo

// Command barewindow needs a Fyne window, and Fyne's drivers need cgo;
// built without it (a Windows cross-vet, say), it only says so.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "barewindow shows a Fyne window and needs cgo: build it with CGO_ENABLED=1")
	os.Exit(1)
}
