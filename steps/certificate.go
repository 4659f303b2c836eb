package steps

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/rpwizard/rpwizard/certs"
	"github.com/rpwizard/rpwizard/installer"
)

// renewMargin: a self-signed certificate closer than this to its end is
// replaced.
const renewMargin = 30 * 24 * time.Hour

// CertDir holds the certificate rpwizard serves for the site (self-signed
// or ACME): fullchain.pem and privkey.pem (0600).
func (e *Env) CertDir() string {
	return filepath.Join(e.Host.Layout.ConfigDir, "certs", e.Answers.SiteName())
}

// CertPaths are the certificate and key files the config refers to.
func (e *Env) CertPaths() (cert, key string) {
	if e.Answers.TLS.Mode == "existing" {
		return e.Answers.TLS.CertFile, e.Answers.TLS.KeyFile
	}
	return filepath.Join(e.CertDir(), "fullchain.pem"), filepath.Join(e.CertDir(), "privkey.pem")
}

// CertChanges writes a certificate pair where the config expects it.
func (e *Env) CertChanges(p certs.Pair, why string) []installer.Change {
	cert, key := e.CertPaths()
	return []installer.Change{
		{Kind: installer.Mkdir, Path: e.CertDir(), Mode: 0o700, Why: "certificate directory, root only"},
		{Kind: installer.WriteFile, Path: key, Data: p.KeyPEM, Mode: 0o600, Secret: true, Why: why + " (private key, root only)"},
		{Kind: installer.WriteFile, Path: cert, Data: p.CertPEM, Mode: 0o644, Why: why},
	}
}

// CertInfo is the certificate the site's config names, or nil.
func (e *Env) CertInfo() *certs.Info { return e.currentCert() }

// currentCert loads the certificate the config points at, or nil.
func (e *Env) currentCert() *certs.Info {
	cert, key := e.CertPaths()
	info, err := certs.Load(cert, key)
	if err != nil {
		return nil
	}
	return info
}

// planCertificate makes sure a certificate exists before the config that
// names it is tested: the user's files as they are, a self-signed one, or
// — for ACME, until the CA has answered — a self-signed placeholder, so
// the port-80 challenge path can be served by the new config.
func planCertificate(ctx context.Context, e *Env) ([]installer.Change, error) {
	a := e.Answers
	now := e.Now()
	switch a.TLS.Mode {
	case "existing":
		info := e.currentCert()
		if info == nil {
			return nil, fmt.Errorf("tls.cert_file %s and tls.key_file %s cannot be loaded as a pair", a.TLS.CertFile, a.TLS.KeyFile)
		}
		if err := info.Usable(a.Names(), now, 0); err != nil {
			return nil, fmt.Errorf("tls.cert_file %s: %w", a.TLS.CertFile, err)
		}
		return nil, nil
	case "self-signed":
		if info := e.currentCert(); info != nil && info.SelfSigned && info.Usable(a.Names(), now, renewMargin) == nil {
			return nil, nil
		}
		return e.newSelfSigned(397*24*time.Hour, "a new self-signed certificate for "+a.Domain+", made when applied"), nil
	case "acme":
		if e.currentCert() != nil {
			return nil, nil // whatever serves now keeps serving until the CA delivers
		}
		return e.newSelfSigned(7*24*time.Hour, "a new self-signed placeholder certificate until the CA has answered, made when applied"), nil
	}
	return nil, fmt.Errorf("tls.mode %q: not supported", a.TLS.Mode)
}

// newSelfSigned writes a self-signed certificate for the site's names,
// valid for life, whose key and certificate are made when the changes are
// applied: a plan holds no key material, and two plans of the same
// answers are the same. The key and the certificate come from one
// generation, whichever of the two is written first.
func (e *Env) newSelfSigned(life time.Duration, why string) []installer.Change {
	var (
		once sync.Once
		pair certs.Pair
		err  error
	)
	names := e.Answers.Names()
	gen := func() {
		pair, err = certs.SelfSigned(names, e.Now(), life)
	}
	changes := e.CertChanges(certs.Pair{}, why)
	for i := range changes {
		switch {
		case changes[i].Kind != installer.WriteFile:
		case changes[i].Secret:
			changes[i].Generate = func() ([]byte, error) { once.Do(gen); return pair.KeyPEM, err }
		default:
			changes[i].Generate = func() ([]byte, error) { once.Do(gen); return pair.CertPEM, err }
		}
	}
	return changes
}
