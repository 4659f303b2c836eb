package acme

// Accounts written by rpwizard releases built on lego v4 keep working with
// lego v5: read in place, never registered again. v4Writer below is the
// writer of those releases (acme/account.go at e9639b0, with lego v4's
// registration.Resource and certcrypto.PEMBlock spelled out), kept as a
// fixture so that the layout cannot drift.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-acme/lego/v5/registration"
)

// v4Account is lego v4's cmd.Account: registration is a
// registration.Resource{Body acme.Account `json:"body"`; URI string `json:"uri,omitempty"`}.
type v4Account struct {
	Email        string `json:"email"`
	Registration *struct {
		Body struct {
			Status                 string          `json:"status,omitempty"`
			Contact                []string        `json:"contact,omitempty"`
			TermsOfServiceAgreed   bool            `json:"termsOfServiceAgreed,omitempty"`
			Orders                 string          `json:"orders,omitempty"`
			OnlyReturnExisting     bool            `json:"onlyReturnExisting,omitempty"`
			ExternalAccountBinding json.RawMessage `json:"externalAccountBinding,omitempty"`
		} `json:"body"`
		URI string `json:"uri,omitempty"`
	} `json:"registration"`
}

// v4Write writes an account as the lego-v4 releases did: the key as SEC 1
// "EC PRIVATE KEY" (lego v4 certcrypto.PEMBlock), account.json with
// MarshalIndent and a tab, files 0600 and folders 0700, under
// accounts/<host with ':'→'_'>/<email|noemail@example.com>/.
func v4Write(t *testing.T, stateDir, dirURL, email string, key *ecdsa.PrivateKey, uri, status string, contact []string) (accountFile string) {
	t.Helper()
	u, _ := url.Parse(dirURL)
	user := email
	if user == "" {
		user = "noemail@example.com"
	}
	dir := filepath.Join(stateDir, "accounts", strings.NewReplacer(":", "_", "/", "_").Replace(u.Host), user)
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys", user+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	a := v4Account{Email: email}
	if uri != "" {
		a.Registration = &struct {
			Body struct {
				Status                 string          `json:"status,omitempty"`
				Contact                []string        `json:"contact,omitempty"`
				TermsOfServiceAgreed   bool            `json:"termsOfServiceAgreed,omitempty"`
				Orders                 string          `json:"orders,omitempty"`
				OnlyReturnExisting     bool            `json:"onlyReturnExisting,omitempty"`
				ExternalAccountBinding json.RawMessage `json:"externalAccountBinding,omitempty"`
			} `json:"body"`
			URI string `json:"uri,omitempty"`
		}{URI: uri}
		a.Registration.Body.Status = status
		a.Registration.Body.Contact = contact
		a.Registration.Body.Orders = uri + "/orders"
	}
	data, err := json.MarshalIndent(a, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	accountFile = filepath.Join(dir, "account.json")
	if err := os.WriteFile(accountFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return accountFile
}

// TestV4AccountReadInPlace: a v4-era account.json is understood, and
// saving it again writes the very same bytes (no migration, and an older
// rpwizard can still read it).
func TestV4AccountReadInPlace(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	state := t.TempDir()
	const dirURL = "https://acme.example.org:14000/dir"
	file := v4Write(t, state, dirURL, "it@example.org", key, "https://acme.example.org:14000/my-account/1", "valid", []string{"mailto:it@example.org"})
	before, _ := os.ReadFile(file)

	c := &config{stateDir: state, dirURL: dirURL, email: "it@example.org"}
	s := newAccountStore(c)
	if s.accountFile() != file {
		t.Fatalf("account file %s, the v4 release wrote %s", s.accountFile(), file)
	}
	l, err := s.load(c.email)
	if err != nil {
		t.Fatal(err)
	}
	if !l.keyExisted || !l.registered || l.acct.Registration.Location != "https://acme.example.org:14000/my-account/1" ||
		l.acct.Registration.Status != "valid" || len(l.acct.Registration.Contact) != 1 {
		t.Fatalf("v4 account not understood: %+v %+v", l, l.acct.Registration)
	}
	if pub, ok := l.acct.key.Public().(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		t.Fatal("the v4 key was not read")
	}
	if err := s.save(l.acct); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(file)
	if !bytes.Equal(before, after) {
		t.Errorf("saving changed the v4 layout:\n%s\n---\n%s", before, after)
	}

	// lego v5's own CLI layout (accountURL, flattened) is read too.
	v5 := `{"email":"it@example.org","registration":{"status":"valid","contact":["mailto:it@example.org"],"accountURL":"https://acme.example.org:14000/my-account/5"}}`
	var a account
	if err := json.Unmarshal([]byte(v5), &a); err != nil || a.Registration == nil ||
		a.Registration.Location != "https://acme.example.org:14000/my-account/5" || a.Registration.Status != "valid" {
		t.Errorf("lego v5 layout: %v %+v", err, a.Registration)
	}
}

// TestV4AccountRenews: an account registered at the CA and stored in the
// v4 layout renews a certificate without a new registration and without
// touching account.json.
func TestV4AccountRenews(t *testing.T) {
	e := env(t)
	p := e.ca(t, false)
	r := e.request(t, p, "v4.test")
	r.Email = "it@example.org"
	r.Challenge, r.HTTPAddr = "http-01-standalone", fmt.Sprintf("127.0.0.1:%d", e.httpPort)

	// Register the account at Pebble the way lego v4 did (newAccount with
	// the contact and the ToS agreed), then store it with the v4 writer.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c, err := check(r, scopeOrder)
	if err != nil {
		t.Fatal(err)
	}
	client, closeIdle, err := newLegoClient(context.Background(), c, &account{Email: r.Email, key: crypto.Signer(key)})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := client.Registration.Register(context.Background(), registrationOptionsAgreed())
	closeIdle()
	if err != nil {
		t.Fatal(err)
	}
	file := v4Write(t, r.StateDir, p.DirectoryURL, r.Email, key, reg.Location, reg.Status, reg.Contact)
	before, _ := os.ReadFile(file)
	signups := strings.Count(pebbleLog(t, p), "POST /sign-me-up")

	cur, err := Obtain(context.Background(), r)
	if err != nil {
		t.Fatalf("Obtain with the v4 account: %v", err)
	}
	next, err := Renew(context.Background(), r, cur)
	if err != nil {
		t.Fatalf("Renew with the v4 account: %v", err)
	}
	verifyChain(t, p, next, "v4.test")
	if n := strings.Count(pebbleLog(t, p), "POST /sign-me-up"); n != signups {
		t.Errorf("the CA saw %d new registrations", n-signups)
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
		t.Errorf("account.json changed:\n%s\n---\n%s", before, after)
	}
	if s := r.Log.(*logBuffer).String(); !strings.Contains(s, "using the ACME account "+reg.Location) || strings.Contains(s, "registered") {
		t.Errorf("the v4 account was not simply reused:\n%s", s)
	}
}

func pebbleLog(t *testing.T, p *pebbleCA) string {
	data, err := os.ReadFile(filepath.Join(p.Dir, "pebble.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func registrationOptionsAgreed() registration.RegisterOptions {
	return registration.RegisterOptions{TermsOfServiceAgreed: true}
}
