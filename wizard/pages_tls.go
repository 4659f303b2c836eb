package wizard

import (
	"errors"
	"fmt"
	"strings"

	"charm.land/huh/v2"

	"github.com/rpwizard/rpwizard/answers"
)

// The certificate questions: where it comes from, how ACME checks the
// domain, the DNS provider and its credentials, existing files.

func buildTLS(s *State, b *fields) {
	opts := []huh.Option[string]{
		huh.NewOption("ACME: a trusted certificate from Let's Encrypt or your institution's CA", "acme"),
		huh.NewOption("Existing certificate files", "existing"),
		huh.NewOption("Self-signed (tests and internal sites; browsers warn)", "self-signed"),
	}
	sel := huh.NewSelect[string]().Value(&s.TLSMode).
		Validate(func(v string) error {
			return s.problem(func(c *State) { c.TLSMode = v }, "domain", "aliases")
		})
	hint := "ACME certificates are renewed automatically; the CA is chosen next."
	if privateName(s.Domain) {
		hint = s.Domain + " is not a public name: no public CA can certify it."
	}
	b.sel(sel, "Where does the certificate come from?", hint, opts, s.TLSMode)
}

// privateName reports whether a domain can never get a public certificate.
func privateName(d string) bool {
	d = answers.NormalizeName(d)
	for _, tld := range []string{".test", ".local", ".localhost", ".internal", ".lan", ".home.arpa", ".example", ".invalid", ".localdomain"} {
		if strings.HasSuffix(d, tld) {
			return true
		}
	}
	return false
}

func showACME(s *State) bool { return s.TLSMode == "acme" }

func buildACME(s *State, b *fields) {
	ca := s.caTitle()
	opts := []huh.Option[string]{
		huh.NewOption("HTTP-01: the CA fetches a file on port 80", "http-01"),
		huh.NewOption("DNS-01: a TXT record through your DNS provider's API", "dns-01"),
	}
	sel := huh.NewSelect[string]().Value(&s.Challenge).
		Validate(func(v string) error {
			return s.problem(func(c *State) { c.Challenge = v }, "tls.challenge", "domain", "aliases")
		})
	hint := "HTTP-01 needs port 80 open to the internet; DNS-01 works behind firewalls."
	if p, ok := s.preset(); ok && p.Prevalidated {
		hint += " Domains your institution validated at " + ca + " need neither: keep HTTP-01."
	}
	b.sel(sel, "How should "+ca+" check the domain?", hint, opts, s.Challenge)
	em := huh.NewInput().Value(&s.Email).Placeholder("admin@example.org").
		Validate(s.validator(s.Email, func(c *State, v string) { c.Email = v }, "tls.email"))
	b.input(em, "Contact e-mail (optional)", "The CA's account contact; rpwizard notify warns about failed renewals itself.", s.Email)
}

func showDNS(s *State) bool { return s.TLSMode == "acme" && s.Challenge == "dns-01" }

func buildDNS(s *State, b *fields) {
	var opts []huh.Option[string]
	for _, p := range s.Providers {
		opts = append(opts, huh.NewOption(p, p))
	}
	sel := huh.NewSelect[string]().Value(&s.DNSProvider).Height(8).
		Validate(func(v string) error {
			return s.problem(func(c *State) { c.DNSProvider = v }, "tls.dns_provider")
		})
	const t = "Your DNS provider"
	if b.accessible {
		b.sel(sel, t, "Its API credentials are read from environment variables.", opts, s.DNSProvider)
		return
	}
	b.sel(sel, t, envHint(s, s.DNSProvider), opts, s.DNSProvider)
	b.live = &liveHint{value: func() string { return s.DNSProvider }, compute: func(p string) string { return envHint(s, p) },
		set: func(h string) { sel.Description(h) }}
}

// envHint says which variables a provider needs and whether they are set.
func envHint(s *State, provider string) string {
	if provider == "" || s.MissingEnv == nil {
		return "Its API credentials are read from environment variables."
	}
	if m := s.MissingEnv(provider); len(m) > 0 {
		return "Needs " + strings.Join(m, ", ") + " (not set)."
	}
	return "✓ its credentials are set in the environment."
}

func showDNSEnv(s *State) bool {
	return showDNS(s) && s.MissingEnv != nil && len(s.MissingEnv(s.DNSProvider)) > 0
}

func buildDNSEnv(s *State, b *fields) {
	missing := s.MissingEnv(s.DNSProvider)
	var assign []string
	for _, m := range missing {
		assign = append(assign, m+"=…")
	}
	body := fmt.Sprintf("%s reads its API credentials from the environment, and these are not set:\n  %s\n"+
		"rpwizard needs them when it asks for the certificate. Quit and run:\n  sudo %s rpwizard\n"+
		"(each can also be NAME_FILE, naming a root-only file that holds the value)",
		s.DNSProvider, strings.Join(missing, "\n  "), strings.Join(assign, " "))
	secretMissing(b, "Credentials missing for "+s.DNSProvider, body, &s.DNSEnv, "Quit now, set them and run again (nothing is changed)",
		"Pick another DNS provider", "Continue anyway (the certificate step will fail and roll back)")
}

func afterDNSEnv(s *State) string { return afterSecretMissing(&s.DNSEnv, "dns") }

// secretMissing is the page for credentials that must come from the
// environment (or a root-only file) and do not: body says how to set
// them; choice picks quit (the default), other (the labels say what) or
// continue.
func secretMissing(b *fields, title, body string, choice *string, quit, other, cont string) {
	b.note(title, body)
	if *choice == "" {
		*choice = EnvQuit
	}
	opts := []huh.Option[string]{
		huh.NewOption(quit, EnvQuit),
		huh.NewOption(other, EnvOther),
		huh.NewOption(cont, EnvContinue),
	}
	b.sel(huh.NewSelect[string]().Value(choice), "What now?", "", opts, *choice)
}

// afterSecretMissing goes where the choice of secretMissing leads: quit,
// back to the page otherPage (the choice cleared, so that it is asked
// again), or on.
func afterSecretMissing(choice *string, otherPage string) string {
	switch *choice {
	case EnvQuit:
		return jumpQuit
	case EnvOther:
		*choice = ""
		return otherPage
	}
	return ""
}

func showExisting(s *State) bool { return s.TLSMode == "existing" }

func buildExisting(s *State, b *fields) {
	c := huh.NewInput().Value(&s.CertFile).Placeholder("e.g. /etc/ssl/certs/site.pem").
		Validate(s.validator(s.CertFile, func(c *State, v string) { c.CertFile = v }, "tls.cert_file"))
	b.pathInput(c, &s.CertFile, "Certificate file (PEM, full chain)", "The certificate followed by its intermediate certificates.", s.CertFile)
	k := huh.NewInput().Value(&s.KeyFile).Placeholder("e.g. /etc/ssl/private/site.key").
		Validate(s.validator(s.KeyFile, func(c *State, v string) { c.KeyFile = v }, "tls.key_file"))
	b.pathInput(k, &s.KeyFile, "Private key file (PEM)", "The key of that certificate; it stays where it is.", s.KeyFile)
}

// afterExisting checks the chain against the system's roots: an in-house
// CA's certificate does not verify, and the self-test would refuse it
// after the apply, so the CA bundle is asked for now.
func afterExisting(s *State) string {
	s.untrusted = ""
	if err := verifyChain(strings.TrimSpace(s.CertFile), ""); err != nil && untrustedIssuer(err) {
		s.untrusted = err.Error()
	}
	return ""
}

func showCABundle(s *State) bool { return showExisting(s) && s.untrusted != "" }

func buildCABundle(s *State, b *fields) {
	cert := strings.TrimSpace(s.CertFile)
	issuer := "an unknown issuer"
	if chain, err := readPEMCerts(cert); err == nil {
		issuer = chain[len(chain)-1].Issuer.CommonName
	}
	hint := fmt.Sprintf("The certificate's issuer is not trusted by this host: %q is not among its roots. "+
		"Browsers that trust your CA accept it; the self-test after the apply needs that CA too, "+
		"or it fails and every change is rolled back. Give the CA's certificate(s); it is only used to check the site, not served.", issuer)
	in := huh.NewInput().Value(&s.CABundle).Placeholder("the CA's PEM file, e.g. /usr/local/share/ca-certificates/….crt").
		Validate(func(v string) error {
			if s.Accessible && strings.TrimSpace(v) == "" {
				v = s.CABundle
			}
			v = strings.TrimSpace(v)
			if v == "" {
				return errors.New("needed: the PEM file of the CA that issued the certificate (or its chain file)")
			}
			if err := s.problem(func(c *State) { c.CABundle = v }, "tls.ca_bundle"); err != nil {
				return err
			}
			if err := verifyChain(cert, v); err != nil {
				return fmt.Errorf("the certificate does not verify with this bundle either: %v", err)
			}
			return nil
		})
	b.pathInput(in, &s.CABundle, "CA bundle (PEM) for the self-test", hint, s.CABundle)
}
