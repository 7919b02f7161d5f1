//go:build windows

package autostart

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// New returns the Manager of this system: the current user's Run key.
func New() (Manager, error) { return NewRun(currentUser{}), nil }

// currentUser is Registry over HKEY_CURRENT_USER; root prefixes every key, so tests can work
// under a scratch key.
type currentUser struct{ root string }

func (u currentUser) path(key string) string {
	if u.root == "" {
		return key
	}
	return u.root + `\` + key
}

// open opens key for access; ok is false when it does not exist.
func (u currentUser) open(key string, access uint32) (registry.Key, bool, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, u.path(key), access)
	if errors.Is(err, registry.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("open HKCU\\%s: %w", u.path(key), err)
	}
	return k, true, nil
}

func (u currentUser) SetString(key, name, value string) error {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, u.path(key), registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("open HKCU\\%s: %w", u.path(key), err)
	}
	defer k.Close()
	return k.SetStringValue(name, value)
}

func (u currentUser) GetString(key, name string) (string, bool, error) {
	k, ok, err := u.open(key, registry.QUERY_VALUE)
	if !ok || err != nil {
		return "", false, err
	}
	defer k.Close()
	v, _, err := k.GetStringValue(name)
	if errors.Is(err, registry.ErrNotExist) {
		return "", false, nil
	}
	return v, err == nil, err
}

func (u currentUser) GetBinary(key, name string) ([]byte, bool, error) {
	k, ok, err := u.open(key, registry.QUERY_VALUE)
	if !ok || err != nil {
		return nil, false, err
	}
	defer k.Close()
	v, _, err := k.GetBinaryValue(name)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, false, nil
	}
	return v, err == nil, err
}

func (u currentUser) Delete(key, name string) error {
	k, ok, err := u.open(key, registry.SET_VALUE)
	if !ok || err != nil {
		return err
	}
	defer k.Close()
	if err := k.DeleteValue(name); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return err
	}
	return nil
}
