package steps

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/rpwizard/rpwizard/acme"
	"github.com/rpwizard/rpwizard/certs"
	"github.com/rpwizard/rpwizard/installer"
)

// Renew renews the site's ACME certificate when it is due (ARI where the
// CA offers it, else when a third of its lifetime is left) or when forced.
// The new certificate is installed in a transaction — written atomically,
// config-tested, reloaded — and the server must then serve it; on any
// failure the old files come back and the old certificate keeps serving.
// It reports whether it renewed and why (or why not).
func Renew(ctx context.Context, e *Env, force bool) (bool, string, error) {
	if e.Answers.TLS.Mode != "acme" {
		return false, "not an ACME certificate", nil
	}
	cur, req, err := e.currentACME()
	if err != nil {
		return false, "", err
	}
	due, reason, err := acme.Due(ctx, req, cur, e.Now())
	if err != nil {
		return false, "", err
	}
	if force {
		due, reason = true, "renewal forced (--force)"
	}
	if !due {
		return false, reason, nil
	}
	next, err := acme.Renew(ctx, req, cur)
	if err != nil {
		return false, reason, err
	}
	if err := os.MkdirAll(e.Host.Layout.ConfigDir, 0o700); err != nil {
		return false, reason, fmt.Errorf("create %s: %w", e.Host.Layout.ConfigDir, err)
	}
	tx, err := installer.Begin(ctx, e.Host.Layout.StateDir, e.Server, nil)
	if err != nil {
		return false, reason, err
	}
	tx.Watch(ctx, e.Watched()...)
	err = e.InstallCert(ctx, tx, certs.Pair{CertPEM: next.CertPEM, KeyPEM: next.KeyPEM}, "renewed certificate")
	if err == nil {
		err = e.checkServed(ctx, next.Leaf.Raw)
	}
	if err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return false, reason, fmt.Errorf("%w; rollback failed too: %v", err, rerr)
		}
		return false, reason, fmt.Errorf("%w: %w (the previous certificate is serving)", ErrRolledBack, err)
	}
	return true, reason, tx.Commit()
}

// RenewDue is the dry run of Renew: whether it would renew the site's
// certificate, and why. It changes nothing and orders nothing. Forced, it
// does not contact the CA; otherwise the due check may ask the CA for its
// renewal window (ARI, a read-only request without an account).
func RenewDue(ctx context.Context, e *Env, force bool) (bool, string, error) {
	if e.Answers.TLS.Mode != "acme" {
		return false, "not an ACME certificate", nil
	}
	cur, req, err := e.currentACME()
	if err != nil {
		return false, "", err
	}
	if force {
		return true, "renewal forced (--force)", nil
	}
	return acme.Due(ctx, req, cur, e.Now())
}

// currentACME reads the site's current ACME certificate and key, and the
// request that renews them.
func (e *Env) currentACME() (*acme.Certificate, acme.Request, error) {
	certFile, keyFile := e.CertPaths()
	certPEM, err := certs.ReadPEM(certFile)
	if err != nil {
		return nil, acme.Request{}, fmt.Errorf("read the current certificate: %w (run rpwizard --answers first)", err)
	}
	keyPEM, err := certs.ReadPEM(keyFile)
	if err != nil {
		return nil, acme.Request{}, fmt.Errorf("read the current key: %w", err)
	}
	cur, err := acme.ParseCertificate(certPEM, keyPEM)
	if err != nil {
		return nil, acme.Request{}, err
	}
	req, err := e.ACMERequest()
	if err != nil {
		return nil, acme.Request{}, err
	}
	return cur, req, nil
}

// checkServed makes sure the server presents the certificate whose DER is
// want for the site's name on this host, i.e. the reload took effect.
func (e *Env) checkServed(ctx context.Context, want []byte) error {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second},
		Config: &tls.Config{ServerName: e.Answers.Domain, InsecureSkipVerify: true}}
	conn, err := d.DialContext(ctx, "tcp", "127.0.0.1:443")
	if err != nil {
		return fmt.Errorf("check the served certificate: %w", err)
	}
	defer conn.Close()
	got := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(got) == 0 || !bytes.Equal(got[0].Raw, want) {
		return fmt.Errorf("%s still serves the old certificate after the reload", e.Answers.Server)
	}
	return nil
}
