package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rpwizard/rpwizard/acme"
	"github.com/rpwizard/rpwizard/certs"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/internal/safefile"
)

// ACMERequest is the certificate order of the answers. The EAB HMAC key
// comes from RPWIZARD_EAB_HMAC or the root-only tls.eab_hmac_file; extra
// resolvers for the DNS-01 propagation check (split-horizon DNS) from
// RPWIZARD_DNS_RESOLVERS (comma-separated host[:port]), which are then the
// only servers asked.
func (e *Env) ACMERequest() (acme.Request, error) {
	a := e.Answers
	t := a.TLS
	hmac := os.Getenv("RPWIZARD_EAB_HMAC")
	if t.EABHMACFile != "" {
		data, err := safefile.Read(t.EABHMACFile, safefile.SecretLimit)
		if err != nil {
			return acme.Request{}, fmt.Errorf("tls.eab_hmac_file: %w", err)
		}
		hmac = strings.TrimSpace(string(data))
	}
	var resolvers []string
	if r := os.Getenv("RPWIZARD_DNS_RESOLVERS"); r != "" {
		resolvers = strings.Split(r, ",")
	}
	req := acme.Request{
		Domains: a.Names(), Email: t.Email, Directory: t.Directory, CABundle: t.CABundle,
		Challenge: t.Challenge, Webroot: e.Host.Layout.Webroot, DNSProvider: t.DNSProvider,
		DNSResolvers: resolvers, DNSResolversOnly: len(resolvers) > 0, KeyType: t.KeyType, EABKID: t.EABKID, EABHMAC: hmac,
		Profile: t.Profile, Proxy: t.Proxy,
		StateDir: filepath.Join(e.Host.Layout.ConfigDir, "acme"), Log: e.Log,
	}
	// The HMAC key is needed to register the account only: once it is
	// bound, renewals (the timer has no RPWIZARD_EAB_HMAC) go without it.
	if t.EABKID != "" && hmac == "" && !acme.AccountRegistered(req) {
		return acme.Request{}, &RefusedError{Check: "tls.eab_kid", Msg: "an external account binding key id is set but no HMAC key",
			Fix: "export RPWIZARD_EAB_HMAC=<key from your CA>, or put it in a root-only file named by tls.eab_hmac_file"}
	}
	return req, nil
}

// acmeNeeded reports whether the certificate on disk must be ordered:
// missing, self-signed (the placeholder), not covering every name, or with
// less than a third of its lifetime left.
func (e *Env) acmeNeeded() bool {
	info := e.currentCert()
	if info == nil || info.SelfSigned {
		return true
	}
	life := info.Leaf.NotAfter.Sub(info.Leaf.NotBefore)
	return info.Usable(e.Answers.Names(), e.Now(), life/3) != nil
}

// beforeServer: standalone challenges need ports 80/443 themselves, so
// they run before the server is (re)loaded; webroot and DNS-01 run after,
// while the new port-80 config serves the challenge path.
func (e *Env) acmeBeforeServer() bool {
	c := e.Answers.TLS.Challenge
	return c == acme.ChallengeHTTP01Standalone || c == acme.ChallengeTLSALPN01
}

func planACMEBefore(ctx context.Context, e *Env) ([]installer.Change, error) {
	if e.Answers.TLS.Mode != "acme" {
		return nil, nil
	}
	if err := e.checkProfile(ctx); err != nil {
		return nil, err
	}
	if !e.acmeBeforeServer() {
		return nil, nil
	}
	return e.planObtain()
}

func planACME(ctx context.Context, e *Env) ([]installer.Change, error) {
	if e.Answers.TLS.Mode != "acme" || e.acmeBeforeServer() {
		return nil, nil
	}
	return e.planObtain()
}

func (e *Env) planObtain() ([]installer.Change, error) {
	if !e.acmeNeeded() {
		return nil, nil
	}
	req, err := e.ACMERequest()
	if err != nil {
		return nil, err
	}
	if req.Challenge == acme.ChallengeDNS01 {
		if missing := acme.MissingEnv(req.DNSProvider); len(missing) > 0 {
			return nil, &RefusedError{Check: "tls.dns_provider", Msg: fmt.Sprintf("DNS provider %s needs %s in the environment", req.DNSProvider, strings.Join(missing, ", ")),
				Fix: "export them (or the *_FILE variants lego documents) before running rpwizard"}
		}
	}
	why := fmt.Sprintf("obtain a certificate for %s from %s (%s)", strings.Join(req.Domains, ", "), e.Answers.TLS.Directory, req.Challenge)
	return []installer.Change{{Kind: installer.Action, Why: why, Do: func(ctx context.Context, tx *installer.Tx) error {
		start := time.Now()
		cert, err := acme.Obtain(ctx, req)
		if err != nil {
			return err
		}
		e.emit(Event{Step: "ACME certificate", Kind: StepLog, Msg: fmt.Sprintf("certificate issued in %s, valid until %s", time.Since(start).Round(time.Millisecond), cert.Leaf.NotAfter.Format("2006-01-02"))})
		return e.InstallCert(ctx, tx, certs.Pair{CertPEM: cert.CertPEM, KeyPEM: cert.KeyPEM}, "certificate from the CA")
	}}}, nil
}

// checkProfile refuses, before anything is touched, a tls.profile that
// the CA's directory does not list (meta.profiles); the message lists the
// profiles it offers. Asking the CA is a read-only GET.
func (e *Env) checkProfile(ctx context.Context) error {
	if e.Answers.TLS.Profile == "" {
		return nil
	}
	req, err := e.ACMERequest()
	if err != nil {
		return err
	}
	err = acme.CheckProfile(ctx, req)
	var fe *acme.FieldError
	if errors.As(err, &fe) {
		return &RefusedError{Check: fe.Key, Msg: fe.Msg, Fix: "set tls.profile to one of the CA's profiles, or remove it for the CA's default"}
	}
	return err
}

// InstallCert writes a certificate pair through the transaction and
// reloads the server so that it serves it.
func (e *Env) InstallCert(ctx context.Context, tx *installer.Tx, p certs.Pair, why string) error {
	for _, c := range e.CertChanges(p, why) {
		if err := tx.Apply(ctx, c); err != nil {
			return err
		}
	}
	return tx.Reload(ctx)
}
