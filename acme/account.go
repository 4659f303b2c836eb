package acme

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	legoacme "github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certcrypto"
)

// Account file modes. Nothing else in this package chooses a mode.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// account is an ACME account in the lego v4 CLI layout, which rpwizard
// has used since its first release and keeps using with lego v5:
//
//	<StateDir>/accounts/<CA host_port>/<email|noemail@example.com>/account.json
//	<StateDir>/accounts/<CA host_port>/<email|noemail@example.com>/keys/<email|…>.key
//
// It implements lego v5's registration.User. lego v5 changed its own CLI
// layout (the account URL moved to "accountURL" and the "registration"
// object was flattened); rpwizard does not follow it: account.json keeps
// the v4 shape ({"email", "registration": {"body": {…}, "uri": "…"}}), so
// accounts made by earlier releases are read in place, never migrated or
// registered again, and an older rpwizard can still read what this one
// writes. load also accepts the v5 shape, for a file copied from lego v5.
type account struct {
	Email        string
	Registration *legoacme.ExtendedAccount
	key          crypto.Signer
}

func (a *account) GetEmail() string                           { return a.Email }
func (a *account) GetRegistration() *legoacme.ExtendedAccount { return a.Registration }
func (a *account) GetPrivateKey() crypto.Signer               { return a.key }

// accountFileV4 is account.json as lego v4's CLI (and every rpwizard up to
// the move to lego v5) wrote it: registration.Resource{Body, URI}.
type accountFileV4 struct {
	Email        string          `json:"email"`
	Registration *registrationV4 `json:"registration"`
}

type registrationV4 struct {
	Body legoacme.Account `json:"body"`
	URI  string           `json:"uri,omitempty"`
	// AccountURL is where lego v5 keeps the URI (ExtendedAccount flattened
	// into "registration"); read, never written.
	AccountURL string `json:"accountURL,omitempty"`
	// Status is the flattened v5 body's status; read, never written.
	Status string `json:"status,omitempty"`
}

// MarshalJSON writes the v4 layout.
func (a *account) MarshalJSON() ([]byte, error) {
	f := accountFileV4{Email: a.Email}
	if a.Registration != nil {
		f.Registration = &registrationV4{Body: a.Registration.Account, URI: a.Registration.Location}
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads the v4 layout, or lego v5's.
func (a *account) UnmarshalJSON(data []byte) error {
	var f accountFileV4
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	a.Email = f.Email
	a.Registration = nil
	if r := f.Registration; r != nil {
		ext := &legoacme.ExtendedAccount{Account: r.Body, Location: r.URI}
		if ext.Location == "" && r.AccountURL != "" {
			// lego v5: the account fields sit next to accountURL.
			var flat legoacme.ExtendedAccount
			var wrapper struct {
				Registration *legoacme.ExtendedAccount `json:"registration"`
			}
			if json.Unmarshal(data, &wrapper) == nil && wrapper.Registration != nil {
				flat = *wrapper.Registration
			}
			ext = &flat
		}
		a.Registration = ext
	}
	return nil
}

// accountStore knows the file names of one account.
type accountStore struct {
	stateDir string
	dir      string // accounts/<host>/<user>
	userID   string
}

func newAccountStore(c *config) *accountStore {
	return &accountStore{stateDir: c.stateDir, dir: c.accountDir(), userID: c.userID()}
}

func (s *accountStore) accountFile() string { return filepath.Join(s.dir, "account.json") }
func (s *accountStore) keyFile() string {
	return filepath.Join(s.dir, "keys", s.userID+".key")
}

// loaded is what was found on disk.
type loaded struct {
	acct       *account
	keyExisted bool // the key file was there
	registered bool // account.json holds a usable registration
}

// load reads the account key (creating and saving a new EC P-256 key when
// there is none) and account.json if present.
func (s *accountStore) load(email string) (*loaded, error) {
	l := &loaded{acct: &account{Email: email}}
	keyData, err := os.ReadFile(s.keyFile())
	switch {
	case err == nil:
		key, err := certcrypto.ParsePEMPrivateKey(keyData)
		if err != nil {
			return nil, fmt.Errorf("reading the ACME account key %s: %w (move the file away to start a new account)", s.keyFile(), err)
		}
		l.acct.key = key
		l.keyExisted = true
	case errors.Is(err, fs.ErrNotExist):
		key, err := certcrypto.GeneratePrivateKey(certcrypto.EC256)
		if err != nil {
			return nil, fmt.Errorf("generating the ACME account key: %w", err)
		}
		if err := s.writeFile(s.keyFile(), keyPEM(key)); err != nil {
			return nil, fmt.Errorf("saving the ACME account key: %w", err)
		}
		l.acct.key = key
		return l, nil
	default:
		return nil, fmt.Errorf("reading the ACME account key: %w", err)
	}

	data, err := os.ReadFile(s.accountFile())
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the ACME account: %w", err)
	}
	var onDisk account
	if err := json.Unmarshal(data, &onDisk); err != nil {
		// A damaged file is not fatal: the account is found again by its key.
		return l, nil //nolint:nilerr
	}
	if onDisk.Registration != nil && onDisk.Registration.Location != "" && onDisk.Registration.Status != "" {
		l.acct.Registration = onDisk.Registration
		l.registered = true
	}
	return l, nil
}

// loadReadOnly reads the account key and account.json as load does, but
// creates nothing: a missing key is reported as keyExisted false (with no
// key), for dry runs, which never write.
func (s *accountStore) loadReadOnly(email string) (*loaded, error) {
	if _, err := os.Stat(s.keyFile()); errors.Is(err, fs.ErrNotExist) {
		return &loaded{acct: &account{Email: email}}, nil
	}
	return s.load(email)
}

// registered says whether account.json holds a usable registration and
// the account key is there, without creating either.
func (s *accountStore) registered() bool {
	if _, err := os.Stat(s.keyFile()); err != nil {
		return false
	}
	data, err := os.ReadFile(s.accountFile())
	if err != nil {
		return false
	}
	var onDisk account
	return json.Unmarshal(data, &onDisk) == nil && onDisk.Registration != nil &&
		onDisk.Registration.Location != "" && onDisk.Registration.Status != ""
}

// save writes account.json.
func (s *accountStore) save(a *account) error {
	data, err := json.MarshalIndent(a, "", "\t")
	if err != nil {
		return fmt.Errorf("encoding the ACME account: %w", err)
	}
	if err := s.writeFile(s.accountFile(), data); err != nil {
		return fmt.Errorf("saving the ACME account: %w", err)
	}
	return nil
}

// writeFile atomically replaces name with data (mode 0600), creating the
// missing directories below the state directory with mode 0700.
func (s *accountStore) writeFile(name string, data []byte) error {
	if err := s.mkdirs(filepath.Dir(name)); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op after the rename
	if err := tmp.Chmod(fileMode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmpName, name)
}

// mkdirs creates dir and its missing parents. Directories that this call
// creates get mode 0700; existing ones are left as they are.
func (s *accountStore) mkdirs(dir string) error {
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir && !strings.HasSuffix(parent, string(filepath.Separator)+"..") {
		if err := s.mkdirs(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, dirMode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	// The umask may have removed bits, never added any; make it exact.
	return os.Chmod(dir, dirMode)
}

// keyPEM encodes an account key as lego v4 did: SEC 1 "EC PRIVATE KEY" for
// ECDSA (lego v5 would write PKCS #8), so that the key file stays in the
// layout of earlier releases.
func keyPEM(key crypto.Signer) []byte {
	if k, ok := key.(*ecdsa.PrivateKey); ok {
		if der, err := x509.MarshalECPrivateKey(k); err == nil {
			return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
		}
	}
	return pem.EncodeToMemory(certcrypto.PEMBlock(key))
}
