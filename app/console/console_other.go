//go:build !windows

package console

import "os"

// osPlatform: a Unix program inherits its terminal, so every stream is already where it
// should be.
type osPlatform struct{}

func (osPlatform) Valid(Stream) bool             { return true }
func (osPlatform) AttachParent() bool            { return false }
func (osPlatform) Open(Stream) (*os.File, error) { return nil, os.ErrInvalid }
