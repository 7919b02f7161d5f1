//go:build windows

package autostart

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

const runKeyPath = `Software\Microsoft\Windows\CurrentVersion\Run`

// New returns the Manager of this system: the current user's Run key.
func New() (Manager, error) { return NewRunKey(userKey{path: runKeyPath}), nil }

// userKey is Registry over a key under HKEY_CURRENT_USER.
type userKey struct{ path string }

func (k userKey) SetString(name, value string) error {
	key, _, err := registry.CreateKey(registry.CURRENT_USER, k.path, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("open HKCU\\%s: %w", k.path, err)
	}
	defer key.Close()
	return key.SetStringValue(name, value)
}

func (k userKey) GetString(name string) (string, bool, error) {
	key, err := registry.OpenKey(registry.CURRENT_USER, k.path, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("open HKCU\\%s: %w", k.path, err)
	}
	defer key.Close()
	v, _, err := key.GetStringValue(name)
	if errors.Is(err, registry.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return v, true, nil
}

func (k userKey) Delete(name string) error {
	key, err := registry.OpenKey(registry.CURRENT_USER, k.path, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open HKCU\\%s: %w", k.path, err)
	}
	defer key.Close()
	if err := key.DeleteValue(name); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return err
	}
	return nil
}
