package acme

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/lego"
	"golang.org/x/net/idna"

	"github.com/rpwizard/rpwizard/acme/presets"
	"github.com/rpwizard/rpwizard/certs"

	"github.com/rpwizard/rpwizard/answers"
)

// Request describes one certificate order.
type Request struct {
	// Domains are the names on the certificate; the first is the main name.
	// A wildcard ("*.example.org") needs Challenge "dns-01".
	Domains []string
	// Email is the optional contact address of the ACME account (tls.email).
	Email string
	// Directory selects the CA (tls.directory): "" or "letsencrypt" for Let's
	// Encrypt production, "letsencrypt-staging", or any https:// ACME
	// directory URL.
	Directory string
	// CABundle is an optional PEM file of extra root certificates trusted
	// for the connection to the ACME server, for a private CA (tls.ca_bundle).
	CABundle string
	// Challenge is the validation method (tls.challenge): "http-01" (the
	// default, via Webroot), "http-01-standalone", "tls-alpn-01" or "dns-01".
	Challenge string
	// Webroot is the directory the running web server serves at
	// /.well-known/acme-challenge/ for http-01; the challenge file is written
	// to <Webroot>/.well-known/acme-challenge/<token> and removed afterwards.
	Webroot string
	// HTTPAddr is the listen address of the built-in server for
	// "http-01-standalone" (default ":80").
	HTTPAddr string
	// TLSAddr is the listen address of the built-in server for "tls-alpn-01"
	// (default ":443").
	TLSAddr string
	// DNSProvider is the lego DNS provider name for "dns-01"
	// (tls.dns_provider), for example "rfc2136", "exec", "httpreq" or
	// "cloudflare"; see Providers. Its credentials come from environment
	// variables; see MissingEnv.
	DNSProvider string
	// DNSResolvers are optional recursive nameservers ("host" or
	// "host:port") used to check that the TXT record is visible before the CA
	// is asked to validate it.
	DNSResolvers []string
	// DNSResolversOnly makes the propagation check ask only DNSResolvers and
	// skip the zone's authoritative nameservers (for split-horizon DNS, or
	// when outbound port 53 is blocked except to those resolvers). It needs
	// DNSResolvers.
	DNSResolversOnly bool
	// KeyType is the certificate key type (tls.key_type): "ec256" (the
	// default), "ec384", "rsa2048" or "rsa4096".
	KeyType string
	// EABKID is the external account binding key ID (tls.eab_kid).
	EABKID string
	// EABHMAC is the external account binding HMAC key (base64url), already
	// resolved by the caller. It is never logged.
	EABHMAC string
	// Profile is the ACME certificate profile to order (tls.profile), ""
	// for the CA's default. CheckProfile tells whether the CA offers it.
	Profile string
	// Proxy is the outbound HTTP proxy for every request to the CA
	// (tls.proxy, http://host:port); "" uses HTTPS_PROXY / NO_PROXY from
	// the environment.
	Proxy string
	// StateDir holds the ACME accounts (default /etc/rpwizard/acme).
	StateDir string
	// Log receives lego's log and progress lines; nil discards them.
	Log io.Writer
	// HTTPClientTimeout limits each request to the CA (default 30s).
	HTTPClientTimeout time.Duration
}

// Challenge names accepted in Request.Challenge.
const (
	ChallengeHTTP01           = "http-01"
	ChallengeHTTP01Standalone = "http-01-standalone"
	ChallengeTLSALPN01        = "tls-alpn-01"
	ChallengeDNS01            = "dns-01"
)

// Directory names accepted in Request.Directory besides https URLs.
const (
	DirectoryLetsEncrypt        = "letsencrypt"
	DirectoryLetsEncryptStaging = "letsencrypt-staging"
)

// DefaultStateDir is where accounts are kept when Request.StateDir is empty.
const DefaultStateDir = "/etc/rpwizard/acme"

const defaultHTTPTimeout = 30 * time.Second

var (
	challenges = []string{ChallengeHTTP01, ChallengeHTTP01Standalone, ChallengeTLSALPN01, ChallengeDNS01}
	keyTypes   = map[string]certcrypto.KeyType{
		"ec256":   certcrypto.EC256,
		"ec384":   certcrypto.EC384,
		"rsa2048": certcrypto.RSA2048,
		"rsa4096": certcrypto.RSA4096,
	}
	keyTypeNames = []string{"ec256", "ec384", "rsa2048", "rsa4096"}
)

// FieldError is a problem with one setting of a Request: the same type
// as the answers' (one field-error type in rpwizard). Key names the
// setting: an answers-file key (tls.email, tls.directory, tls.ca_bundle,
// tls.challenge, tls.dns_provider, tls.key_type, tls.eab_kid,
// tls.profile), "RPWIZARD_EAB_HMAC", or for settings that the caller
// derives itself "domains", "webroot", "HTTPAddr", "TLSAddr" or
// "DNSResolvers"; Msg says what is wrong and what is allowed. Package
// answers validates what can be judged from the answers alone; acme adds
// what needs the CA or the environment (a DNS provider's credentials, the
// CA's profiles).
type FieldError = answers.FieldError

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Key: field, Msg: fmt.Sprintf(format, args...)}
}

// config is a validated, normalised Request.
type config struct {
	domains          []string
	email            string
	dirURL           string
	caBundle         string
	roots            *x509.CertPool // nil: system roots
	challenge        string
	webroot          string
	httpHost         string
	httpPort         string
	tlsHost          string
	tlsPort          string
	dnsProvider      string
	dnsResolvers     []string
	dnsResolversOnly bool
	keyType          certcrypto.KeyType
	profile          string
	proxy            *url.URL
	eabKID           string
	eabHMAC          string
	stateDir         string
	log              io.Writer
	timeout          time.Duration
}

// checkScope says how much of a Request must be valid.
type checkScope int

const (
	scopeOrder checkScope = iota // everything needed to order a certificate
	scopeQuery                   // names and CA only (Due)
)

// check validates r and returns the normalised configuration. All problems
// are reported at once, each as a *FieldError.
func check(r Request, scope checkScope) (*config, error) {
	c := &config{
		email:    strings.TrimSpace(r.Email),
		caBundle: r.CABundle,
		log:      r.Log,
		timeout:  r.HTTPClientTimeout,
		stateDir: r.StateDir,
	}
	if c.log == nil {
		c.log = io.Discard
	}
	if c.timeout <= 0 {
		c.timeout = defaultHTTPTimeout
	}
	if c.stateDir == "" {
		c.stateDir = DefaultStateDir
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	c.challenge = strings.ToLower(strings.TrimSpace(r.Challenge))
	if c.challenge == "" {
		c.challenge = ChallengeHTTP01
	}
	if !slices.Contains(challenges, c.challenge) {
		add(fieldErr("tls.challenge", "unknown challenge %q; use one of: %s", r.Challenge, strings.Join(challenges, ", ")))
	}

	domains, err := normaliseDomains(r.Domains, c.challenge)
	add(err)
	c.domains = domains

	dirURL, err := directoryURL(r.Directory)
	add(err)
	c.dirURL = dirURL

	if c.caBundle != "" {
		pool, err := caPool(c.caBundle)
		if err != nil {
			add(fieldErr("tls.ca_bundle", "cannot use %s as CA bundle (%v): give a PEM file with your CA's root certificate", c.caBundle, err))
		}
		c.roots = pool
	}

	if p := strings.TrimSpace(r.Proxy); p != "" {
		u, err := url.Parse(p)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(fieldErr("tls.proxy", "%q is not an HTTP proxy URL like http://proxy.example.org:3128", p))
		} else {
			c.proxy = u
		}
	}
	c.profile = strings.TrimSpace(r.Profile)

	if scope == scopeQuery {
		return c, errors.Join(errs...)
	}

	if c.email != "" {
		if a, err := mail.ParseAddress(c.email); err != nil || a.Address != c.email || !strings.Contains(c.email, "@") ||
			strings.ContainsAny(c.email, "/\\") || strings.HasPrefix(c.email, ".") {
			add(fieldErr("tls.email", "%q is not a plain e-mail address like admin@example.org (leave it empty for no contact address)", r.Email))
		}
	}

	kt := strings.ToLower(strings.TrimSpace(r.KeyType))
	if kt == "" {
		kt = "ec256"
	}
	if k, ok := keyTypes[kt]; ok {
		c.keyType = k
	} else {
		add(fieldErr("tls.key_type", "unknown key type %q; use one of: %s", r.KeyType, strings.Join(keyTypeNames, ", ")))
	}

	c.eabKID = strings.TrimSpace(r.EABKID)
	c.eabHMAC = strings.TrimSpace(r.EABHMAC)
	switch {
	case c.eabKID != "" && c.eabHMAC == "" && !newAccountStore(c).registered():
		// The HMAC is needed to register only: a bound account renews
		// without it (the renewal timer has no RPWIZARD_EAB_HMAC).
		add(fieldErr("tls.eab_kid", "is set but the HMAC key is missing: set RPWIZARD_EAB_HMAC (or its root-only file) too"))
	case c.eabKID == "" && c.eabHMAC != "":
		add(fieldErr("tls.eab_kid", "is empty but an EAB HMAC key was given: set tls.eab_kid to the key ID your CA gave you, or remove RPWIZARD_EAB_HMAC"))
	case c.eabHMAC != "":
		if !validHMAC(c.eabHMAC) {
			add(fieldErr("RPWIZARD_EAB_HMAC", "the EAB HMAC key is not base64url text: copy it exactly as your CA shows it"))
		}
	}

	switch c.challenge {
	case ChallengeHTTP01:
		if r.Webroot == "" {
			add(fieldErr("webroot", "http-01 needs the web root directory that the web server serves at /.well-known/acme-challenge/"))
		} else if st, err := os.Stat(r.Webroot); err != nil || !st.IsDir() {
			add(fieldErr("webroot", "%s is not an existing directory: create it and serve it at /.well-known/acme-challenge/ on port 80", r.Webroot))
		}
		c.webroot = r.Webroot
	case ChallengeHTTP01Standalone:
		c.httpHost, c.httpPort, err = listenAddr(r.HTTPAddr, "80", "HTTPAddr")
		add(err)
	case ChallengeTLSALPN01:
		c.tlsHost, c.tlsPort, err = listenAddr(r.TLSAddr, "443", "TLSAddr")
		add(err)
	case ChallengeDNS01:
		add(checkProvider(c, r))
	}
	return c, errors.Join(errs...)
}

func checkProvider(c *config, r Request) error {
	name := strings.ToLower(strings.TrimSpace(r.DNSProvider))
	if name == "" {
		return fieldErr("tls.dns_provider", "dns-01 needs a DNS provider; use one of: %s", strings.Join(Providers(), ", "))
	}
	canon, ok := canonicalProvider(name)
	if !ok {
		return fieldErr("tls.dns_provider", "unknown DNS provider %q; use one of: %s", r.DNSProvider, strings.Join(Providers(), ", "))
	}
	c.dnsProvider = canon
	if missing := MissingEnv(canon); len(missing) > 0 {
		return fieldErr("tls.dns_provider", "%s needs these environment variables, which are not set: %s%s",
			canon, strings.Join(missing, ", "), envHint(canon))
	}
	for _, ns := range r.DNSResolvers {
		ns = strings.TrimSpace(ns)
		host := ns
		if h, port, err := net.SplitHostPort(ns); err == nil {
			host = h
			if port == "" {
				return fieldErr("DNSResolvers", "%q has an empty port", ns)
			}
		}
		if host == "" || strings.ContainsAny(host, " /") {
			return fieldErr("DNSResolvers", "%q is not a nameserver address like 192.0.2.53 or 192.0.2.53:53", ns)
		}
		c.dnsResolvers = append(c.dnsResolvers, ns)
	}
	if r.DNSResolversOnly && len(c.dnsResolvers) == 0 {
		return fieldErr("DNSResolvers", "checking only the given resolvers needs at least one resolver")
	}
	c.dnsResolversOnly = r.DNSResolversOnly
	return nil
}

func listenAddr(addr, defPort, field string) (host, port string, err error) {
	if addr == "" {
		return "", defPort, nil
	}
	host, port, err = net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "", "", fieldErr(field, "%q is not a listen address like :%s or 127.0.0.1:%s", addr, defPort, defPort)
	}
	return host, port, nil
}

func validHMAC(s string) bool {
	if _, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return true
	}
	_, err := base64.URLEncoding.DecodeString(s)
	return err == nil
}

// directoryURL resolves tls.directory to an ACME directory URL.
func directoryURL(d string) (string, error) {
	d = strings.TrimSpace(d)
	switch strings.ToLower(d) {
	case "", DirectoryLetsEncrypt, "letsencrypt-production":
		return lego.DirectoryURLLetsEncrypt, nil
	case DirectoryLetsEncryptStaging:
		return lego.DirectoryURLLetsEncryptStaging, nil
	}
	if p, ok := presets.Lookup(d); ok && !strings.Contains(d, "://") {
		if p.URL == "" {
			return "", fieldErr("tls.directory", "%s gives every account its own directory URL: set tls.directory to %s", p.Title, p.URLHint)
		}
		return p.URL, nil
	}
	u, err := url.Parse(d)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return "", fieldErr("tls.directory", "%q is not a known CA; use one of %s, or your CA's ACME directory URL starting with https://",
			d, strings.Join(presets.Names(), ", "))
	}
	return u.String(), nil
}

// normaliseDomains lower-cases, converts internationalised names to their
// ASCII form, removes duplicates and checks every name.
func normaliseDomains(in []string, challenge string) ([]string, error) {
	if len(in) == 0 {
		return nil, fieldErr("domains", "at least one host name is needed, for example app.example.org")
	}
	var out []string
	var errs []error
	for _, raw := range in {
		d := answers.NormalizeName(raw)
		wild := strings.HasPrefix(d, "*.")
		base := strings.TrimPrefix(d, "*.")
		if ascii, err := idna.Lookup.ToASCII(base); err == nil {
			base = ascii
		}
		if wild {
			d = "*." + base
		} else {
			d = base
		}
		switch {
		case d == "":
			errs = append(errs, fieldErr("domains", "an empty host name was given"))
			continue
		case net.ParseIP(base) != nil:
			errs = append(errs, fieldErr("domains", "%q is an IP address; certificates are requested for host names such as app.example.org", raw))
			continue
		case strings.Contains(base, "*"):
			errs = append(errs, fieldErr("domains", "%q: a wildcard is only allowed as the whole first label, like *.example.org", raw))
			continue
		case wild && challenge != ChallengeDNS01:
			errs = append(errs, fieldErr("domains", "%q is a wildcard name; wildcards need tls.challenge: dns-01", raw))
			continue
		}
		if problem := hostnameProblem(base); problem != "" {
			errs = append(errs, fieldErr("domains", "%q is not a valid host name: %s", raw, problem))
			continue
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, errors.Join(errs...)
}

func hostnameProblem(h string) string {
	if len(h) > 253 {
		return "longer than 253 characters"
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return "use the full name including the domain, like app.example.org"
	}
	for _, l := range labels {
		if l == "" {
			return "it has an empty part between dots"
		}
		if len(l) > 63 {
			return "a part between dots is longer than 63 characters"
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "a part between dots starts or ends with '-'"
		}
		for _, ch := range l {
			if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
				return fmt.Sprintf("it contains %q; only letters, digits, '-' and '.' are allowed", ch)
			}
		}
	}
	return ""
}

// AccountRegistered says whether an ACME account for r's CA and e-mail is
// stored (account.json with a registration), so that no new registration,
// and no EAB HMAC key, is needed. It writes nothing.
func AccountRegistered(r Request) bool {
	c, err := check(r, scopeQuery)
	if err != nil {
		return false
	}
	return newAccountStore(c).registered()
}

// accountDir is accounts/<CA host with ':'→'_'>/<email or placeholder> under
// the state directory, as in the lego CLI.
func (c *config) accountDir() string {
	u, _ := url.Parse(c.dirURL)
	host := strings.NewReplacer(":", "_", "/", "_").Replace(u.Host)
	return filepath.Join(c.stateDir, "accounts", host, c.userID())
}

func (c *config) userID() string {
	if c.email == "" {
		return "noemail@example.com"
	}
	return c.email
}

// caPool is the system's roots and the CA certificates of the PEM file
// bundle (a regular file of bounded size, CA certificates only).
func caPool(bundle string) (*x509.CertPool, error) {
	data, err := certs.ReadPEM(bundle)
	if err != nil {
		return nil, err
	}
	cas, err := certs.ParseCAs(data)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for _, c := range cas {
		pool.AddCert(c)
	}
	return pool, nil
}
