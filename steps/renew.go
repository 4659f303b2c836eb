package steps

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/rpwizard/rpwizard/acme"
	"github.com/rpwizard/rpwizard/certs"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/selftest"
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
	if err := e.checkProfile(ctx); err != nil {
		return false, reason, err
	}
	next, err := acme.Renew(ctx, req, cur)
	if err != nil {
		return false, reason, err
	}
	outcome, err := e.applyLogged(ctx, e.renewalPlan(next))
	if err != nil {
		if errors.Is(err, ErrRolledBack) {
			return false, reason, fmt.Errorf("%w (the previous certificate, serial %x, is serving again: %s)", err, cur.Leaf.SerialNumber, outcome)
		}
		return false, reason, err
	}
	fmt.Fprintf(e.Log, "renewed: serial %x served for %s\n", next.Leaf.SerialNumber, strings.Join(e.Answers.Names(), ", "))
	return true, reason, nil
}

// renewalPlan installs a renewed certificate as a plan that the one
// installer applies, like every run: the files, the confirmed reload
// (every watched name presents the certificate on disk), each name asked
// again for the new serial, the site's self-test (without the long idle
// hold) and the deploy hooks. Any failure puts the previous certificate
// back, and the rollback checks that it is served again.
func (e *Env) renewalPlan(next *acme.Certificate) *installer.Plan {
	serial := fmt.Sprintf("%x", next.Leaf.SerialNumber)
	planned := []installer.PlannedStep{
		{Name: "renewed certificate", Changes: e.CertChanges(certs.Pair{CertPEM: next.CertPEM, KeyPEM: next.KeyPEM}, "renewed certificate")},
		{Name: "config test and reload", Changes: []installer.Change{{Kind: installer.Reload,
			Why: strings.Join(e.Server.TestCommand(), " ") + " && " + strings.Join(e.Server.ReloadCommand(), " ")}}},
		{Name: "served certificate", Changes: []installer.Change{{Kind: installer.Action,
			Why: "every name of the site presents the new serial " + serial,
			Do:  func(ctx context.Context, _ *installer.Tx) error { return e.checkServed(ctx, next.Leaf.Raw) }}}},
	}
	if e.Answers.SelfTestOn() {
		planned = append(planned, installer.PlannedStep{Name: "self-test", Changes: []installer.Change{{Kind: installer.Action,
			Why: "the site's self-test passes with the new certificate", Do: func(ctx context.Context, _ *installer.Tx) error {
				rep := selftest.Run(ctx, e.SelfTestTarget(0))
				e.SelfTest = &rep
				if rep.Interrupted || !rep.OK() {
					var buf bytes.Buffer
					rep.WriteText(&buf)
					fmt.Fprint(e.Log, buf.String())
					return &SelfTestError{Report: rep}
				}
				return nil
			}}}})
	}
	planned = append(planned, installer.PlannedStep{Name: "deploy hooks", Changes: []installer.Change{{Kind: installer.Action,
		Why: "run hooks.deploy", Do: func(ctx context.Context, _ *installer.Tx) error { return e.RunDeployHooks(ctx) }}}})
	return &installer.Plan{Steps: planned}
}

// applyLogged runs plan as a renewal, writing its progress to e.Log when
// nobody else listens to the events; it returns what a rollback checked.
func (e *Env) applyLogged(ctx context.Context, plan *installer.Plan) (string, error) {
	var outcome string
	listener := e.Events
	e.Events = func(ev Event) {
		if ev.Kind == RolledBack {
			outcome = ev.Msg
		}
		switch {
		case listener != nil:
			listener(ev)
		case ev.Kind == StepFailed:
			fmt.Fprintf(e.Log, "failed: %s: %s\n", ev.Step, ev.Msg)
		case ev.Kind == RolledBack:
			fmt.Fprintln(e.Log, "rollback:", ev.Msg)
		}
	}
	defer func() { e.Events = listener }()
	_, err := run(ctx, e, plan, "renew "+e.Answers.Domain, e.Watched())
	return outcome, err
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
// want for every name of the site on this host, i.e. the reload took
// effect everywhere.
func (e *Env) checkServed(ctx context.Context, want []byte) error {
	wantCert, err := x509.ParseCertificate(want)
	if err != nil {
		return err
	}
	for _, name := range e.Answers.Names() {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second},
			Config: &tls.Config{ServerName: name, InsecureSkipVerify: true}}
		conn, err := d.DialContext(ctx, "tcp", "127.0.0.1:443")
		if err != nil {
			return fmt.Errorf("check the certificate served for %s: %w", name, err)
		}
		got := conn.(*tls.Conn).ConnectionState().PeerCertificates
		conn.Close()
		if len(got) == 0 || !bytes.Equal(got[0].Raw, want) {
			serial := "none"
			if len(got) > 0 {
				serial = fmt.Sprintf("%x", got[0].SerialNumber)
			}
			return fmt.Errorf("%s serves serial %s for %s after the reload, not the new serial %x", e.Answers.Server, serial, name, wantCert.SerialNumber)
		}
	}
	return nil
}

// RenewTestOrder is the CA half of `renew --dry-run`, as certbot's: it
// orders a test certificate for the site's names, key type, challenge and
// profile from the CA acme.ChooseTestCA picks (the preset's staging
// environment, tls.staging, or the site's own CA) and discards it, due or
// not. It writes no file, takes no lock, makes no journal entry and
// reloads nothing; see acme.TestOrder for the account and the challenge.
// It returns nil, nil for a site that is not ACME. The result is non-nil
// with an error too whenever the CA was decided.
func RenewTestOrder(ctx context.Context, e *Env) (*acme.TestOrderResult, error) {
	if e.Answers.TLS.Mode != "acme" {
		return nil, nil
	}
	ca := acme.ChooseTestCA(e.Answers.TLS)
	req, err := e.ACMERequest()
	if err != nil {
		return &acme.TestOrderResult{CA: ca}, err
	}
	if req.Challenge == acme.ChallengeDNS01 {
		if missing := acme.MissingEnv(req.DNSProvider); len(missing) > 0 {
			return &acme.TestOrderResult{CA: ca}, &RefusedError{Check: "tls.dns_provider",
				Msg: fmt.Sprintf("DNS provider %s needs %s in the environment", req.DNSProvider, strings.Join(missing, ", ")),
				Fix: "export them (or the *_FILE variants lego documents) before running rpwizard"}
		}
	}
	res, err := acme.TestOrder(ctx, req, ca)
	var fe *acme.FieldError
	if errors.As(err, &fe) && fe.Key == "tls.profile" {
		fix := "set tls.staging to a test CA that offers it (or tls.staging: same for the site's own CA), or change tls.profile"
		if res != nil && res.CA.Same {
			fix = "set tls.profile to one of the CA's profiles, or remove it for the CA's default"
		}
		err = &RefusedError{Check: fe.Key, Msg: fe.Msg, Fix: fix}
	}
	return res, err
}
