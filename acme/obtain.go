package acme

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	stdlog "log"
	"strings"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
	"github.com/go-acme/lego/v5/certificate"
)

// Obtain orders a new certificate for r.Domains. It validates r first
// (errors are *FieldError values naming the answers-file key), reuses or
// creates the ACME account under r.StateDir, solves the chosen challenge and
// returns the certificate chain and its new private key. Nothing but the
// account files is written. Failures reported by the CA are explained in
// plain words (see Explain); the original error stays wrapped.
func Obtain(ctx context.Context, r Request) (*Certificate, error) {
	c, err := check(r, scopeOrder)
	if err != nil {
		return nil, err
	}
	return withLego(ctx, c, func(ctx context.Context, lg *stdlog.Logger) (*Certificate, error) {
		cert, err := order(ctx, c, lg, nil)
		return cert, explain(err, c)
	})
}

// Renew orders a replacement for cur, for the names in r.Domains (which may
// differ from cur's). When the CA offers ARI (RFC 9773) the order names cur
// as the certificate it replaces (ReplacesCertID), which exempts it from some
// rate limits; if the CA refuses that, the order is sent again without it.
// A new private key is generated.
func Renew(ctx context.Context, r Request, cur *Certificate) (*Certificate, error) {
	c, err := check(r, scopeOrder)
	if err != nil {
		return nil, err
	}
	leaf, err := leafOf(cur)
	if err != nil {
		return nil, err
	}
	return withLego(ctx, c, func(ctx context.Context, lg *stdlog.Logger) (*Certificate, error) {
		cert, err := order(ctx, c, lg, leaf)
		return cert, explain(err, c)
	})
}

// order runs one certificate order; replaces is the certificate being renewed
// or nil.
func order(ctx context.Context, c *config, lg *stdlog.Logger, replaces *x509.Certificate) (*Certificate, error) {
	s, err := newSession(ctx, c, lg)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := s.setChallenge(ctx); err != nil {
		return nil, err
	}

	req := certificate.ObtainRequest{Domains: c.domains, Bundle: true, KeyType: c.keyType, Profile: c.profile}
	if replaces != nil {
		lg.Printf("acme: renewing the certificate with serial %x (expires %s)", replaces.SerialNumber, replaces.NotAfter.UTC().Format("2006-01-02"))
		if id, ok := s.ariCertID(replaces); ok {
			req.ReplacesCertID = id
			lg.Printf("acme: the CA offers ARI; the order replaces certificate %s", id)
		}
	}
	lg.Printf("acme: ordering a certificate for %s with %s from %s", strings.Join(c.domains, ", "), c.challenge, c.dirURL)

	res, err := s.client.Certificate.Obtain(s.ctx, req)
	if err != nil && s.reused && isProblem(err, "accountDoesNotExist") {
		// The CA no longer knows the stored account (deactivated, or a test
		// CA restarted): register again with the same key and retry once.
		lg.Printf("acme: the CA does not know the stored account any more; registering again")
		if err = s.register(); err != nil {
			return nil, err
		}
		res, err = s.client.Certificate.Obtain(s.ctx, req)
	}
	if err != nil && req.ReplacesCertID != "" && replacesRefused(err) {
		lg.Printf("acme: the CA refused the replacement link (%v); ordering without it", err)
		req.ReplacesCertID = ""
		res, err = s.client.Certificate.Obtain(s.ctx, req)
	}
	if err != nil {
		return nil, fmt.Errorf("the CA did not issue a certificate for %s: %w", strings.Join(c.domains, ", "), err)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	cert, err := ParseCertificate(res.Certificate, res.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("the CA returned an unusable certificate: %w", err)
	}
	lg.Printf("acme: got certificate serial %x for %s, valid until %s",
		cert.Leaf.SerialNumber, strings.Join(cert.Leaf.DNSNames, ", "), cert.Leaf.NotAfter.UTC().Format("2006-01-02 15:04 MST"))
	return cert, nil
}

// ariCertID returns the ARI identifier of leaf when the CA has a renewalInfo
// endpoint and the new order shares a name with leaf.
func (s *session) ariCertID(leaf *x509.Certificate) (string, bool) {
	shared := false
	for _, d := range certNames(leaf) {
		for _, want := range s.c.domains {
			if d == want {
				shared = true
			}
		}
	}
	if !shared {
		return "", false
	}
	if _, err := s.client.Certificate.GetRenewalInfo(s.ctx, leaf); errors.Is(err, api.ErrNoARI) {
		return "", false
	}
	id, err := api.MakeARICertID(leaf)
	if err != nil {
		return "", false
	}
	return id, true
}

// replacesRefused reports whether the CA rejected the "replaces" field.
func replacesRefused(err error) bool {
	var ar *acme.AlreadyReplacedError
	if errors.As(err, &ar) || isProblem(err, "alreadyReplaced") {
		return true
	}
	var pd *acme.ProblemDetails
	return errors.As(err, &pd) && pd.HTTPStatus >= 400 && pd.HTTPStatus < 500 &&
		strings.Contains(strings.ToLower(pd.Detail), "replace")
}

func leafOf(cur *Certificate) (*x509.Certificate, error) {
	if cur == nil {
		return nil, errors.New("no current certificate given")
	}
	if cur.Leaf != nil {
		return cur.Leaf, nil
	}
	parsed, err := ParseCertificate(cur.CertPEM, nil)
	if err != nil {
		return nil, fmt.Errorf("reading the current certificate: %w", err)
	}
	return parsed.Leaf, nil
}
