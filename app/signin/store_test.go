package signin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// exercise runs the contract every TokenStore must keep.
func exercise(t *testing.T, s TokenStore) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Load(ctx); !errors.Is(err, ErrNoToken) {
		t.Fatalf("%s: empty store: %v", s.Kind(), err)
	}
	for _, v := range []string{"first-token", "second-token-ÅÄÖ"} {
		if err := s.Save(ctx, v); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Load(ctx); err != nil || got != v {
			t.Fatalf("%s: load %q %v, want %q", s.Kind(), got, err, v)
		}
	}
	if err := s.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx); err != nil {
		t.Fatalf("%s: deleting twice: %v", s.Kind(), err)
	}
	if _, err := s.Load(ctx); !errors.Is(err, ErrNoToken) {
		t.Fatalf("%s: after delete: %v", s.Kind(), err)
	}
}

func TestStoresKeepTheContract(t *testing.T) {
	keyring.MockInit()
	exercise(t, NewKeyringStore("vetbridge-demo@127.0.0.1/4"))
	exercise(t, NewFileStore(filepath.Join(t.TempDir(), "data")))
	exercise(t, &MemoryStore{})
}

func TestFileStoreIsPrivateAndBounded(t *testing.T) {
	dir := t.TempDir()
	s := NewFileStore(dir)
	if err := s.Save(context.Background(), "secret"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	if err := os.WriteFile(s.Path, []byte(strings.Repeat("x", maxTokenFile+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(context.Background()); err == nil || errors.Is(err, ErrNoToken) {
		t.Fatalf("oversized token file: %v", err)
	}
}

// hangingKeyring never answers, like a keyring waiting for an unlock prompt.
type hangingKeyring struct{ release chan struct{} }

func (h hangingKeyring) Get(string, string) (string, error) {
	<-h.release
	return "", keyring.ErrNotFound
}
func (h hangingKeyring) Set(string, string, string) error { <-h.release; return nil }
func (h hangingKeyring) Delete(string, string) error      { <-h.release; return nil }

type brokenKeyring struct{}

var errNoSecretService = errors.New("The name org.freedesktop.secrets was not provided by any .service files")

func (brokenKeyring) Get(string, string) (string, error) { return "", errNoSecretService }
func (brokenKeyring) Set(string, string, string) error   { return errNoSecretService }
func (brokenKeyring) Delete(string, string) error        { return errNoSecretService }

func TestLockedKeyringDoesNotFreeze(t *testing.T) {
	h := hangingKeyring{release: make(chan struct{})}
	defer close(h.release)
	k := &KeyringStore{Service: KeyringService, Account: "a", Timeout: 50 * time.Millisecond, kr: h}
	t0 := time.Now()
	_, err := k.Load(context.Background())
	if !errors.Is(err, ErrKeyringTimeout) || time.Since(t0) > time.Second {
		t.Fatalf("locked keyring: %v after %v", err, time.Since(t0))
	}
	if err := k.Save(context.Background(), "x"); !errors.Is(err, ErrKeyringTimeout) {
		t.Fatalf("save to a locked keyring: %v", err)
	}
	// A locked keyring is still the keyring: the token must not move to a file.
	if got := openStore(context.Background(), k, filepath.Join(t.TempDir(), TokenFileName), quiet()); got.Kind() != "keyring" {
		t.Fatalf("locked keyring replaced by %s", got.Kind())
	}
}

func TestNoKeyringFallsBackToFile(t *testing.T) {
	dir := t.TempDir()
	k := &KeyringStore{Service: KeyringService, Account: "a", Timeout: time.Second, kr: brokenKeyring{}}
	got := openStore(context.Background(), k, filepath.Join(dir, TokenFileName), quiet())
	fs, ok := got.(*FileStore)
	if !ok || got.Kind() != "file" || fs.Path != filepath.Join(dir, TokenFileName) {
		t.Fatalf("got %T %s", got, got.Kind())
	}
	keyring.MockInit()
	if got := OpenStore(context.Background(), dir, "a", quiet()); got.Kind() != "keyring" {
		t.Fatalf("a working keyring was not chosen: %s", got.Kind())
	}
	keyring.MockInitWithError(errNoSecretService)
	if got := OpenStore(context.Background(), dir, "a", quiet()); got.Kind() != "file" {
		t.Fatalf("a missing keyring was chosen: %s", got.Kind())
	}
	keyring.MockInit()
}

func TestDeriveEndpoints(t *testing.T) {
	for _, c := range []struct{ base, id, want string }{
		{"https://provetcloud.com", "4", "https://provetcloud.com/4/oauth2/"},
		{"https://provetcloud.com/4/api/0.1/", "", "https://provetcloud.com/4/oauth2/"},
		{"https://us.provetcloud.com/1234/", "1234", "https://us.provetcloud.com/1234/oauth2/"},
		{"http://127.0.0.1:5555/4/", "", "http://127.0.0.1:5555/4/oauth2/"},
		{"http://localhost:5555", "9", "http://localhost:5555/9/oauth2/"},
	} {
		ep, err := DeriveEndpoints(c.base, c.id)
		if err != nil || ep.Authorize != c.want+"authorize/" || ep.Token != c.want+"token/" || ep.Revoke != c.want+"revoke_token/" || ep.UserInfo != c.want+"userinfo/" {
			t.Errorf("%s %s: %+v %v", c.base, c.id, ep, err)
		}
	}
	for _, c := range []struct{ base, id string }{
		{"http://provetcloud.com", "4"},     // clear text off loopback
		{"https://provetcloud.com", ""},     // no tenant
		{"https://provetcloud.com/4/", "5"}, // contradiction
		{"provetcloud.com/4", ""},           // no scheme
		{"ftp://provetcloud.com/4", ""},
	} {
		if _, err := DeriveEndpoints(c.base, c.id); err == nil {
			t.Errorf("%s %s was accepted", c.base, c.id)
		}
	}
	m, err := New(Config{BaseURL: "https://provetcloud.com/4/", ClientID: "c", TokenURL: "https://auth.example/token"})
	if err != nil || m.Endpoints().Token != "https://auth.example/token" || m.Endpoints().Authorize != "https://provetcloud.com/4/oauth2/authorize/" {
		t.Fatalf("override: %+v %v", m.Endpoints(), err)
	}
	if _, err := New(Config{BaseURL: "https://provetcloud.com/4/"}); err == nil {
		t.Fatal("a missing client id was accepted")
	}
}

func TestRestoreWithoutTokenMatchesBothSentinels(t *testing.T) {
	m, err := New(Config{BaseURL: "https://provetcloud.com/4/", ClientID: "c", Store: &MemoryStore{}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Restore(context.Background())
	if !errors.Is(err, ErrNotSignedIn) || !errors.Is(err, ErrNoToken) {
		t.Fatalf("restore with nothing saved: %v", err)
	}
}
