package acme

import (
	"crypto"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-acme/lego/v4/certcrypto"
	"github.com/go-acme/lego/v4/registration"
)

// Account file modes. Nothing else in this package chooses a mode.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// account is an ACME account in the lego CLI layout:
//
//	<StateDir>/accounts/<CA host_port>/<email|noemail@example.com>/account.json
//	<StateDir>/accounts/<CA host_port>/<email|noemail@example.com>/keys/<email|…>.key
//
// It implements registration.User. The JSON matches lego's cmd.Account.
type account struct {
	Email        string                 `json:"email"`
	Registration *registration.Resource `json:"registration"`
	key          crypto.PrivateKey
}

func (a *account) GetEmail() string                        { return a.Email }
func (a *account) GetRegistration() *registration.Resource { return a.Registration }
func (a *account) GetPrivateKey() crypto.PrivateKey        { return a.key }

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
	keyPEM, err := os.ReadFile(s.keyFile())
	switch {
	case err == nil:
		key, err := certcrypto.ParsePEMPrivateKey(keyPEM)
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
		if err := s.writeFile(s.keyFile(), pem.EncodeToMemory(certcrypto.PEMBlock(key))); err != nil {
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
	if onDisk.Registration != nil && onDisk.Registration.URI != "" && onDisk.Registration.Body.Status != "" {
		l.acct.Registration = onDisk.Registration
		l.registered = true
	}
	return l, nil
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
