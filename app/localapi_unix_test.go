//go:build !windows

package app

import (
	"os"
	"testing"
)

func assertOwnerOnly(t *testing.T, socket, dir string) {
	t.Helper()
	st, err := os.Stat(socket)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Errorf("socket %s mode %v, want a 0600 socket", socket, st.Mode())
	}
	dst, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if dst.Mode().Perm()&0o077 != 0 {
		t.Errorf("socket directory %s mode %v: others can reach it", dir, dst.Mode().Perm())
	}
}
