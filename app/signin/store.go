package signin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/zalando/go-keyring"
)

// ErrNoToken means the store holds nothing: nobody has signed in yet,
// or the last session was signed out.
var ErrNoToken = errors.New("no saved Provet sign-in")

// ErrKeyringTimeout means the OS keyring did not answer in time, typically
// because it is locked and waiting for a password prompt.
var ErrKeyringTimeout = errors.New("the system keyring did not answer (it may be locked)")

// TokenStore keeps one secret string between runs: for a Manager, the
// sign-in (refresh token, access token and its expiry, encoded by this
// package; older versions kept the bare refresh token, which is still read);
// for ClientCredentials, the client secret.
type TokenStore interface {
	Load(ctx context.Context) (string, error) // ErrNoToken when there is none
	Save(ctx context.Context, secret string) error
	Delete(ctx context.Context) error
	// Kind names where the token lives ("keyring", "file", "memory") so the
	// app can tell the technician.
	Kind() string
}

// KeyringService is the service name under which VetBridge keeps its secret.
const KeyringService = "VetBridge"

// keyringAPI is the part of go-keyring we use; tests replace it to simulate a
// keyring that hangs.
type keyringAPI interface {
	Get(service, user string) (string, error)
	Set(service, user, secret string) error
	Delete(service, user string) error
}

type goKeyring struct{}

func (goKeyring) Get(s, u string) (string, error) { return keyring.Get(s, u) }
func (goKeyring) Set(s, u, p string) error        { return keyring.Set(s, u, p) }
func (goKeyring) Delete(s, u string) error        { return keyring.Delete(s, u) }

// KeyringStore keeps a TokenStore secret in the OS keyring (Windows Credential
// Manager, macOS Keychain, Secret Service). Every call runs with a timeout so
// that a locked keyring cannot freeze start-up.
type KeyringStore struct {
	Service string
	Account string        // distinguishes tenants and clients, e.g. "vetbridge-demo@provetcloud.com/4"
	Timeout time.Duration // default 3 s
	kr      keyringAPI
}

// NewKeyringStore returns a store for one account under KeyringService.
func NewKeyringStore(account string) *KeyringStore {
	return &KeyringStore{Service: KeyringService, Account: account, Timeout: 3 * time.Second, kr: goKeyring{}}
}

// Kind implements TokenStore.
func (*KeyringStore) Kind() string { return "keyring" }

type krResult struct {
	v   string
	err error
}

// call runs f in a goroutine. If the keyring hangs, that goroutine stays
// blocked until the keyring answers; there is no way to interrupt it, and
// leaking one goroutine beats freezing the app.
func (k *KeyringStore) call(ctx context.Context, f func(keyringAPI) (string, error)) (string, error) {
	kr := k.kr
	if kr == nil {
		kr = goKeyring{}
	}
	timeout := k.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	ch := make(chan krResult, 1)
	go func() {
		v, err := f(kr)
		ch <- krResult{v, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-t.C:
		return "", fmt.Errorf("after %v: %w; unlock it and try again", timeout, ErrKeyringTimeout)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Load implements TokenStore.
func (k *KeyringStore) Load(ctx context.Context) (string, error) {
	v, err := k.call(ctx, func(kr keyringAPI) (string, error) { return kr.Get(k.Service, k.Account) })
	switch {
	case errors.Is(err, keyring.ErrNotFound):
		return "", ErrNoToken
	case err != nil:
		return "", fmt.Errorf("reading the Provet sign-in from the system keyring: %w", err)
	case v == "":
		return "", ErrNoToken
	}
	return v, nil
}

// Save implements TokenStore.
func (k *KeyringStore) Save(ctx context.Context, secret string) error {
	_, err := k.call(ctx, func(kr keyringAPI) (string, error) { return "", kr.Set(k.Service, k.Account, secret) })
	if err != nil {
		return fmt.Errorf("saving the Provet sign-in in the system keyring: %w", err)
	}
	return nil
}

// Delete implements TokenStore. Deleting what is not there is not an error.
func (k *KeyringStore) Delete(ctx context.Context) error {
	_, err := k.call(ctx, func(kr keyringAPI) (string, error) { return "", kr.Delete(k.Service, k.Account) })
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return fmt.Errorf("removing the Provet sign-in from the system keyring: %w", err)
	}
	return nil
}

// TokenFileName is the fallback file inside the data directory.
const TokenFileName = "provet-token"

// SecretFileName is the fallback file for the Client Credentials secret.
const SecretFileName = "provet-client-secret"

// maxTokenFile bounds what Load reads: a saved sign-in is well under 1 KiB.
const maxTokenFile = 16 << 10

// FileStore keeps a TokenStore secret in a file only its owner can read. It is
// the fallback for systems without a keyring (a server without a desktop
// session, for instance).
type FileStore struct {
	Path string
	mu   sync.Mutex
}

// NewFileStore returns a store at dataDir/TokenFileName.
func NewFileStore(dataDir string) *FileStore {
	return &FileStore{Path: filepath.Join(dataDir, TokenFileName)}
}

// Kind implements TokenStore.
func (*FileStore) Kind() string { return "file" }

// Load implements TokenStore.
func (f *FileStore) Load(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fh, err := os.Open(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return "", ErrNoToken
	}
	if err != nil {
		return "", fmt.Errorf("reading the Provet sign-in from %s: %w", f.Path, err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("reading the Provet sign-in from %s: %w", f.Path, err)
	}
	if len(b) > maxTokenFile {
		return "", fmt.Errorf("%s is over %d bytes and cannot be a sign-in token: delete it and sign in again", f.Path, maxTokenFile)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", ErrNoToken
	}
	return v, nil
}

// Save implements TokenStore. The file is replaced atomically, so a crash
// never leaves half a token (which would force a new sign-in).
func (f *FileStore) Save(_ context.Context, secret string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	dir := filepath.Dir(f.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("saving the Provet sign-in: cannot create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+TokenFileName+"-*")
	if err != nil {
		return fmt.Errorf("saving the Provet sign-in in %s: %w", dir, err)
	}
	name := tmp.Name()
	defer os.Remove(name) // after a successful rename this finds nothing
	// CreateTemp already makes the file 0600 on Unix; say so explicitly, as
	// the token is the key to the clinic's data.
	err = tmp.Chmod(0o600)
	if err == nil || errors.Is(err, errors.ErrUnsupported) {
		_, err = tmp.WriteString(secret)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, f.Path)
	}
	if err != nil {
		return fmt.Errorf("saving the Provet sign-in in %s: %w", f.Path, err)
	}
	return nil
}

// Delete implements TokenStore.
func (f *FileStore) Delete(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the Provet sign-in %s: %w", f.Path, err)
	}
	return nil
}

// MemoryStore forgets everything when the process ends; for tests and for a
// one-shot command that must leave nothing behind.
type MemoryStore struct {
	mu sync.Mutex
	v  string
}

// Kind implements TokenStore.
func (*MemoryStore) Kind() string { return "memory" }

// Load implements TokenStore.
func (m *MemoryStore) Load(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.v == "" {
		return "", ErrNoToken
	}
	return m.v, nil
}

// Save implements TokenStore.
func (m *MemoryStore) Save(_ context.Context, v string) error {
	m.mu.Lock()
	m.v = v
	m.mu.Unlock()
	return nil
}

// Delete implements TokenStore.
func (m *MemoryStore) Delete(context.Context) error { return m.Save(context.Background(), "") }

// OpenStore picks the keyring when the system has one and otherwise a file in
// dataDir. A keyring that exists but does not answer (locked) is still chosen:
// writing the token to a file behind its back would weaken what the user set
// up. The returned store's Kind says which one is in use.
func OpenStore(ctx context.Context, dataDir, account string, log *slog.Logger) TokenStore {
	if log == nil {
		log = slog.Default()
	}
	return openStore(ctx, NewKeyringStore(account), filepath.Join(dataDir, TokenFileName), log)
}

// OpenSecretStore is OpenStore for the Client Credentials secret: account
// comes from SecretAccount, and the fallback file is SecretFileName, so the
// secret and a saved sign-in never overwrite each other.
func OpenSecretStore(ctx context.Context, dataDir, account string, log *slog.Logger) TokenStore {
	if log == nil {
		log = slog.Default()
	}
	return openStore(ctx, NewKeyringStore(account), filepath.Join(dataDir, SecretFileName), log)
}

func openStore(ctx context.Context, k *KeyringStore, path string, log *slog.Logger) TokenStore {
	_, err := k.Load(ctx)
	switch {
	case err == nil, errors.Is(err, ErrNoToken):
		return k
	case errors.Is(err, ErrKeyringTimeout), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		log.Warn("the system keyring did not answer; keeping it as the place for the Provet sign-in", "err", err)
		return k
	default:
		log.Info("no usable system keyring; keeping the Provet sign-in in a file only you can read",
			"path", path, "reason", err)
		return &FileStore{Path: path}
	}
}

// Account names the keyring entry for one client at one tenant, so two
// tenants or integrations on one computer do not overwrite each other.
func Account(clientID string, ep Endpoints) string {
	u, err := url.Parse(ep.Token)
	if err != nil {
		return clientID
	}
	tenant, _, _ := strings.Cut(strings.Trim(u.Path, "/"), "/")
	return clientID + "@" + u.Host + "/" + tenant
}

// SecretAccount names the keyring entry of the Client Credentials secret for
// one client at one tenant.
func SecretAccount(clientID string, ep Endpoints) string {
	return Account(clientID, ep) + " client-secret"
}
