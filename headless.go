//go:build headless

package main

import "github.com/vetbridge/vetbridge/cli"

// desktop is absent from a headless build: `vetbridge` alone says to use
// `vetbridge serve`.
var desktop cli.Desktop
