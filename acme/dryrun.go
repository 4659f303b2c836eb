package acme

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/registration"

	"github.com/rpwizard/rpwizard/acme/presets"
	"github.com/rpwizard/rpwizard/answers"
)

// TestCA is the CA that a dry run (`rpwizard renew --dry-run`) orders its
// test certificate from, as ChooseTestCA picks it.
type TestCA struct {
	// Directory is the test CA's ACME directory URL.
	Directory string
	// Name is its preset name (letsencrypt-staging, …), "" for a URL that
	// no preset knows.
	Name string
	// Same is true when it is the site's own CA: the order then uses the
	// site's stored ACME account, read-only. Otherwise a throwaway account
	// is registered, in memory only.
	Same bool
	// Why says how it was chosen, in a sentence for the output.
	Why string
}

// String names the CA for people: "letsencrypt-staging (URL)" or the URL.
func (t TestCA) String() string {
	if t.Name != "" {
		return t.Name + " (" + t.Directory + ")"
	}
	return t.Directory
}

// ChooseTestCA picks the CA of a dry run for a site's validated TLS
// answers (tls.ca, tls.directory, tls.staging), as certbot's `renew
// --dry-run` does for Let's Encrypt:
//   - tls.staging when it is set: "same" for the site's own CA, a preset
//     name or a directory URL (an institution's test endpoint);
//   - else the staging environment of the site's preset (letsencrypt →
//     letsencrypt-staging), unless it registers accounts only with
//     external account binding (google-staging needs an EAB key of its
//     own, which the site does not have): then the site's own CA;
//   - else (no preset, or one without staging: zerossl, sectigo-geant,
//     harica, letsencrypt-staging itself) the site's own CA.
//
// A test CA whose directory URL is the site's own is the same CA. It asks
// no one; TestOrder also falls back to the site's own CA when the test
// CA's directory says externalAccountRequired.
func ChooseTestCA(t answers.TLS) TestCA {
	siteURL, err := directoryURL(t.Directory)
	if err != nil {
		siteURL = strings.TrimSpace(t.Directory)
	}
	site, known := presets.Lookup(t.CA)
	if !known {
		site, known = presets.ForURL(siteURL)
	}
	same := func(why string) TestCA {
		ca := TestCA{Directory: siteURL, Same: true, Why: why}
		if known {
			ca.Name = site.Name
		}
		return ca
	}
	other := func(name, url, why string) TestCA {
		if strings.EqualFold(strings.TrimSuffix(url, "/"), strings.TrimSuffix(siteURL, "/")) {
			return same("tls.staging names the site's own CA")
		}
		return TestCA{Directory: url, Name: name, Why: why}
	}
	staging := strings.TrimSpace(t.Staging)
	switch {
	case strings.EqualFold(staging, answers.StagingSame):
		return same("tls.staging: same")
	case strings.Contains(staging, "://"):
		name := ""
		if p, ok := presets.ForURL(staging); ok && p.URL != "" {
			name = p.Name
		}
		return other(name, staging, "named by tls.staging")
	case staging != "":
		if p, ok := presets.Lookup(staging); ok && p.URL != "" && !p.EAB {
			return other(p.Name, p.URL, "named by tls.staging")
		}
		return same(fmt.Sprintf("tls.staging %q is not a test CA a dry run can use", staging))
	}
	if !known {
		return same("the site's CA is not a known preset with a staging environment (set tls.staging to name a test CA)")
	}
	if site.Staging == "" {
		return same(fmt.Sprintf("%s has no staging environment", site.Title))
	}
	st, ok := presets.Lookup(site.Staging)
	switch {
	case !ok || st.URL == "":
		return same(fmt.Sprintf("%s has no staging environment with a fixed URL", site.Title))
	case st.EAB:
		return same(fmt.Sprintf("its staging environment %s registers accounts only with external account binding, and the site has no EAB key for it (tls.staging can name another test CA)", st.Name))
	}
	return other(st.Name, st.URL, site.Title+"'s staging environment")
}

// TestOrderResult is what a test order got.
type TestOrderResult struct {
	// CA is the CA ordered from, after any fallback.
	CA TestCA
	// Serial is the test certificate's serial number, hex.
	Serial string
	// Names are its DNS names, sorted.
	Names []string
	// NotBefore and NotAfter are its validity.
	NotBefore, NotAfter time.Time
	// Issuer is its issuer's common name.
	Issuer string
	// Account says which ACME account ordered it.
	Account string
	// Notes say what the order did outside memory, e.g. the HTTP-01
	// token file it wrote and removed.
	Notes []string
}

// ValidDays is the test certificate's lifetime in whole days (rounded).
func (r *TestOrderResult) ValidDays() int {
	return int((r.NotAfter.Sub(r.NotBefore) + 12*time.Hour) / (24 * time.Hour))
}

// TestOrder is certbot's `renew --dry-run` for one site: it orders a
// certificate for r's names, key type, challenge and profile from ca and
// discards it. Nothing is written on this host:
//   - from a test CA, a throwaway account (EC P-256 key in memory) is
//     registered and deactivated afterwards; nothing is saved;
//   - from the site's own CA, the stored account under r.StateDir is used
//     read-only; if it is missing or the CA no longer knows it, TestOrder
//     fails saying so, because a dry run does not register (and saves no
//     account.json);
//   - the order never names a certificate it replaces (ARI "replaces"),
//     so that the real certificate is not marked replaced at the CA;
//   - the certificate and its key stay in memory and are dropped.
//
// The challenge is solved as a real renewal solves it: for http-01 the
// token file is written to the webroot for the length of the validation
// and removed (the challenge directory must exist: a dry run creates
// none), for dns-01 the provider sets and removes the TXT record. The
// notes say so.
//
// A test CA whose directory says externalAccountRequired is replaced by
// the site's own CA (the result's CA.Why says so). tls.profile is checked
// against the meta.profiles of the CA actually used. The result is
// non-nil whenever the CA was decided, also with an error, so that the
// caller can say which CA refused. Errors are explained (see Explain).
func TestOrder(ctx context.Context, r Request, ca TestCA) (*TestOrderResult, error) {
	res := &TestOrderResult{CA: ca}
	if !ca.Same {
		d, err := FetchDirectory(ctx, Request{Directory: ca.Directory, CABundle: r.CABundle, Proxy: r.Proxy, HTTPClientTimeout: r.HTTPClientTimeout})
		if err != nil {
			return res, fmt.Errorf("the test CA %s: %w (tls.staging can name a test CA this host reaches, or same for the site's own CA)", ca, err)
		}
		if d.EABRequired {
			why := fmt.Sprintf("the test CA %s requires external account binding (its directory says externalAccountRequired) and a dry run has no EAB key for it", ca)
			ca = TestCA{Directory: strings.TrimSpace(r.Directory), Same: true, Why: why}
			if u, err := directoryURL(r.Directory); err == nil {
				ca.Directory = u
			}
			if p, ok := presets.ForURL(ca.Directory); ok {
				ca.Name = p.Name
			}
			res.CA = ca
		} else if err := profileOffered(d, r.Profile); err != nil {
			return res, err
		}
	}
	tr := r
	tr.Directory = ca.Directory
	// A dry run registers no account with EAB: the site's account is
	// bound already, and a test CA that needs EAB is not used.
	tr.EABKID, tr.EABHMAC = "", ""
	if ca.Same {
		if err := CheckProfile(ctx, tr); err != nil {
			return res, err
		}
	}
	c, err := check(tr, scopeOrder)
	if err != nil {
		return res, err
	}
	if c.challenge == ChallengeHTTP01 {
		dir := filepath.Join(c.webroot, ".well-known", "acme-challenge")
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return res, fmt.Errorf("the HTTP-01 challenge directory %s does not exist, and a dry run creates none: apply the site again (rpwizard --answers) to create it", dir)
		}
	}
	out, err := withLego(ctx, c, func(ctx context.Context, lg *stdlog.Logger) (*TestOrderResult, error) {
		err := testOrder(ctx, c, lg, res)
		return res, explain(err, c)
	})
	if out == nil {
		// Cancelled: the order may still be winding down with res.
		return &TestOrderResult{CA: ca}, err
	}
	return out, err
}

// profileOffered is CheckProfile's verdict on a directory already read.
func profileOffered(d *Directory, profile string) error {
	p := strings.TrimSpace(profile)
	if p == "" {
		return nil
	}
	if _, ok := d.Profiles[p]; ok {
		return nil
	}
	if len(d.Profiles) == 0 {
		return fieldErr("tls.profile", "the test CA at %s offers no profiles (its directory lists no meta.profiles), so %q cannot be tested there", d.URL, p)
	}
	return fieldErr("tls.profile", "the test CA at %s does not offer the profile %q; it offers: %s",
		d.URL, p, strings.Join(d.ProfileNames(), ", "))
}

// errNotRegistered is the dry run's refusal to register an account.
type errNotRegistered struct{ why string }

func (e *errNotRegistered) Error() string {
	return e.why + "; a real renewal would register it (and save account.json), a dry run does not register: run `rpwizard renew --force` or apply the site to register it"
}

// testOrder runs the order of TestOrder, filling res.
func testOrder(ctx context.Context, c *config, lg *stdlog.Logger, res *TestOrderResult) error {
	var acct *account
	store := newAccountStore(c)
	if res.CA.Same {
		l, err := store.loadReadOnly(c.email)
		if err != nil {
			return err
		}
		if !l.keyExisted {
			return &errNotRegistered{why: fmt.Sprintf("the site has no ACME account at %s (no key %s)", res.CA, store.keyFile())}
		}
		acct = l.acct
		defer func() {
			if !l.registered && acct.Registration != nil {
				res.Account = fmt.Sprintf("the stored account %s, found by its key %s (account.json not written)", acct.Registration.Location, store.keyFile())
			}
		}()
		if l.registered {
			res.Account = fmt.Sprintf("the stored account %s (%s, read only)", acct.Registration.Location, store.accountFile())
		}
	} else {
		key, err := certcrypto.GeneratePrivateKey(certcrypto.EC256)
		if err != nil {
			return fmt.Errorf("generating a throwaway account key: %w", err)
		}
		acct = &account{Email: c.email, key: key}
	}
	client, closeIdle, err := newLegoClient(ctx, c, acct)
	if err != nil {
		return err
	}
	defer closeIdle()

	if res.CA.Same && acct.Registration == nil {
		reg, err := client.Registration.ResolveAccountByKey(ctx)
		if isProblem(err, "accountDoesNotExist") {
			return &errNotRegistered{why: fmt.Sprintf("%s does not know the account of key %s", res.CA, store.keyFile())}
		}
		if err != nil {
			return fmt.Errorf("looking up the ACME account of key %s: %w", store.keyFile(), err)
		}
		acct.Registration = reg
	}
	if !res.CA.Same {
		reg, err := client.Registration.Register(ctx, registration.RegisterOptions{TermsOfServiceAgreed: true})
		if err != nil {
			return fmt.Errorf("registering a throwaway account at the test CA %s: %w", res.CA, err)
		}
		acct.Registration = reg
		res.Account = fmt.Sprintf("a throwaway account %s (key in memory only, not saved; deactivated afterwards)", reg.Location)
		lg.Printf("acme: dry run: registered the throwaway account %s", reg.Location)
		defer func() {
			// Best effort: the account is of no use to anyone after this run.
			if err := client.Registration.DeleteRegistration(context.WithoutCancel(ctx)); err != nil {
				lg.Printf("acme: dry run: could not deactivate the throwaway account %s: %v", reg.Location, err)
			}
		}()
	}

	var (
		mu        sync.Mutex
		presented []string
	)
	s := &session{ctx: ctx, c: c, lg: lg, client: client, acct: acct, presented: func(domain string) {
		mu.Lock()
		defer mu.Unlock()
		presented = append(presented, domain)
	}}
	if err := s.setChallenge(ctx); err != nil {
		return err
	}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		res.Notes = append(res.Notes, challengeNote(c, presented))
	}()

	// No ReplacesCertID, ever: it would mark the real certificate as
	// replaced at the CA and break the real renewal's ARI link.
	req := certificate.ObtainRequest{Domains: c.domains, Bundle: true, KeyType: c.keyType, Profile: c.profile}
	lg.Printf("acme: dry run: ordering a test certificate for %s with %s from %s", strings.Join(c.domains, ", "), c.challenge, c.dirURL)
	out, err := client.Certificate.Obtain(ctx, req)
	if err != nil && res.CA.Same && isProblem(err, "accountDoesNotExist") {
		return &errNotRegistered{why: fmt.Sprintf("%s no longer knows the stored account %s", res.CA, acct.Registration.Location)}
	}
	if err != nil {
		return fmt.Errorf("the CA did not issue a test certificate for %s: %w", strings.Join(c.domains, ", "), err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	cert, err := ParseCertificate(out.Certificate, out.PrivateKey)
	if err != nil {
		return fmt.Errorf("the CA returned an unusable test certificate: %w", err)
	}
	res.Serial = fmt.Sprintf("%x", cert.Leaf.SerialNumber)
	res.Names = certNames(cert.Leaf)
	res.NotBefore, res.NotAfter = cert.Leaf.NotBefore, cert.Leaf.NotAfter
	res.Issuer = cert.Leaf.Issuer.CommonName
	lg.Printf("acme: dry run: got test certificate serial %s for %s, valid until %s; discarded", res.Serial, strings.Join(res.Names, ", "), stamp(res.NotAfter))
	return nil
}

// challengeNote says what solving the challenge did outside this process.
func challengeNote(c *config, presented []string) string {
	slices.Sort(presented)
	presented = slices.Compact(presented)
	switch c.challenge {
	case ChallengeHTTP01:
		if len(presented) == 0 {
			return "no challenge was asked (the CA reused valid authorizations): no token file was written"
		}
		return fmt.Sprintf("HTTP-01 for %s: a token file was written to %s for the validation and removed, as in a real renewal",
			strings.Join(presented, ", "), filepath.Join(c.webroot, ".well-known", "acme-challenge"))
	case ChallengeDNS01:
		if len(presented) == 0 {
			return "no challenge was asked (the CA reused valid authorizations): no TXT record was set"
		}
		return fmt.Sprintf("DNS-01 for %s: %s set a TXT record for the validation and removed it, as in a real renewal",
			strings.Join(presented, ", "), c.dnsProvider)
	case ChallengeHTTP01Standalone:
		return fmt.Sprintf("HTTP-01: the built-in challenge server listened on %s:%s for the validation, as in a real renewal", c.httpHost, c.httpPort)
	case ChallengeTLSALPN01:
		return fmt.Sprintf("TLS-ALPN-01: the built-in challenge server listened on %s:%s for the validation, as in a real renewal", c.tlsHost, c.tlsPort)
	}
	return ""
}

// IsNotRegistered reports whether err is a dry run's refusal to register
// the site's ACME account.
func IsNotRegistered(err error) bool {
	var e *errNotRegistered
	return errors.As(err, &e)
}
