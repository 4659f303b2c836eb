package acme

// Unit tests that need no CA.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/lego"
)

// makeCert returns a self-signed certificate (PEM) and its key (PEM).
func makeCert(t *testing.T, notBefore, notAfter time.Time, names ...string) (*Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		DNSNames:     names,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(certcrypto.PEMBlock(key))
	c, err := ParseCertificate(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c, keyPEM
}

func TestParseCertificate(t *testing.T) {
	now := time.Now()
	a, _ := makeCert(t, now, now.Add(time.Hour), "a.test")
	_, otherKey := makeCert(t, now, now.Add(time.Hour), "b.test")
	if _, err := ParseCertificate(a.CertPEM, otherKey); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Errorf("mismatched key: err = %v", err)
	}
	if _, err := ParseCertificate([]byte("garbage"), nil); err == nil || !strings.Contains(err.Error(), "BEGIN CERTIFICATE") {
		t.Errorf("garbage: err = %v", err)
	}
	c, err := ParseCertificate(a.CertPEM, nil)
	if err != nil || c.Leaf.DNSNames[0] != "a.test" {
		t.Errorf("certificate only: %v", err)
	}
	if _, err := ParseCertificate(a.CertPEM, []byte("not a key")); err == nil {
		t.Error("bad key accepted")
	}
}

func validRequest(t *testing.T) Request {
	return Request{Domains: []string{"app.example.org"}, Webroot: t.TempDir()}
}

func TestCheckRequestDefaults(t *testing.T) {
	c, err := check(validRequest(t), scopeOrder)
	if err != nil {
		t.Fatal(err)
	}
	if c.challenge != ChallengeHTTP01 || c.keyType != certcrypto.EC256 || c.dirURL != lego.DirectoryURLLetsEncrypt ||
		c.stateDir != DefaultStateDir || c.timeout != defaultHTTPTimeout || c.log == nil {
		t.Errorf("defaults: %+v", c)
	}
	if got := c.accountDir(); got != "/etc/rpwizard/acme/accounts/acme-v02.api.letsencrypt.org/noemail@example.com" {
		t.Errorf("account dir %s", got)
	}
	r := validRequest(t)
	r.Directory, r.Email, r.StateDir = "https://acme.example.edu:14000/dir", "it@example.edu", "/s"
	r.Domains = []string{"App.Example.ORG.", "app.example.org", "Bücher.example.org"}
	c, err = check(r, scopeOrder)
	if err != nil {
		t.Fatal(err)
	}
	if c.accountDir() != "/s/accounts/acme.example.edu_14000/it@example.edu" {
		t.Errorf("account dir %s", c.accountDir())
	}
	if !slices.Equal(c.domains, []string{"app.example.org", "xn--bcher-kva.example.org"}) {
		t.Errorf("domains %v", c.domains)
	}
	r.Directory = "letsencrypt-staging"
	if c, _ := check(r, scopeOrder); c.dirURL != lego.DirectoryURLLetsEncryptStaging {
		t.Errorf("staging: %s", c.dirURL)
	}
}

func TestCheckRequestErrors(t *testing.T) {
	for _, v := range []string{"CLOUDFLARE_DNS_API_TOKEN", "CF_DNS_API_TOKEN", "CLOUDFLARE_EMAIL", "CF_API_EMAIL", "CLOUDFLARE_API_KEY", "CF_API_KEY"} {
		t.Setenv(v, "")
		t.Setenv(v+"_FILE", "")
	}
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "x.pem")
	os.WriteFile(notPEM, []byte("nope"), 0o644)
	tests := []struct {
		name   string
		modify func(*Request)
		want   []string // all must appear
	}{
		{"no names", func(r *Request) { r.Domains = nil }, []string{"domains:", "at least one"}},
		{"IP", func(r *Request) { r.Domains = []string{"192.0.2.1"} }, []string{"domains:", "IP address"}},
		{"short name", func(r *Request) { r.Domains = []string{"localhost"} }, []string{"full name"}},
		{"bad chars", func(r *Request) { r.Domains = []string{"my_app.example.org"} }, []string{"not a valid host name", "'_'"}},
		{"wildcard http", func(r *Request) { r.Domains = []string{"*.example.org"} }, []string{"wildcard", "tls.challenge: dns-01"}},
		{"wildcard middle", func(r *Request) { r.Domains = []string{"a.*.example.org"} }, []string{"first label"}},
		{"challenge", func(r *Request) { r.Challenge = "http-02" }, []string{"tls.challenge:", "http-01, http-01-standalone, tls-alpn-01, dns-01"}},
		{"key type", func(r *Request) { r.KeyType = "rsa1024" }, []string{"tls.key_type:", "ec256, ec384, rsa2048, rsa4096"}},
		{"directory http", func(r *Request) { r.Directory = "http://acme.example.org/dir" }, []string{"tls.directory:", "letsencrypt", "https://"}},
		{"directory unknown name", func(r *Request) { r.Directory = "zerossl-eu" }, []string{"tls.directory:", "letsencrypt-staging", "zerossl", "sectigo-geant"}},
		{"ca bundle missing", func(r *Request) { r.CABundle = filepath.Join(dir, "none.pem") }, []string{"tls.ca_bundle:", "PEM file"}},
		{"ca bundle not PEM", func(r *Request) { r.CABundle = notPEM }, []string{"tls.ca_bundle:"}},
		{"email", func(r *Request) { r.Email = "root at example" }, []string{"tls.email:"}},
		{"email path", func(r *Request) { r.Email = "a/../b@example.org" }, []string{"tls.email:"}},
		{"eab kid only", func(r *Request) { r.EABKID = "kid" }, []string{"tls.eab_kid:", "RPWIZARD_EAB_HMAC"}},
		{"eab hmac only", func(r *Request) { r.EABHMAC = "abc" }, []string{"tls.eab_kid:", "RPWIZARD_EAB_HMAC"}},
		{"eab hmac garbage", func(r *Request) { r.EABKID, r.EABHMAC = "kid", "s3cr3t!!" }, []string{"RPWIZARD_EAB_HMAC:", "base64url"}},
		{"webroot missing", func(r *Request) { r.Webroot = filepath.Join(dir, "nope") }, []string{"webroot:", "not an existing directory"}},
		{"no webroot", func(r *Request) { r.Webroot = "" }, []string{"webroot:"}},
		{"standalone addr", func(r *Request) { r.Challenge, r.HTTPAddr = "http-01-standalone", "80" }, []string{"HTTPAddr:"}},
		{"alpn addr", func(r *Request) { r.Challenge, r.TLSAddr = "tls-alpn-01", "localhost" }, []string{"TLSAddr:"}},
		{"no provider", func(r *Request) { r.Challenge = "dns-01" }, []string{"tls.dns_provider:", "cloudflare", "rfc2136"}},
		{"unknown provider", func(r *Request) { r.Challenge, r.DNSProvider = "dns-01", "godaddy-ish" }, []string{"tls.dns_provider:", "unknown", "exec, gandiv5"}},
		{"provider env", func(r *Request) { r.Challenge, r.DNSProvider = "dns-01", "cloudflare" },
			[]string{"tls.dns_provider:", "CLOUDFLARE_DNS_API_TOKEN", "CLOUDFLARE_EMAIL and CLOUDFLARE_API_KEY", "_FILE"}},
		{"resolvers only", func(r *Request) {
			t.Setenv("EXEC_PATH", "/bin/true")
			r.Challenge, r.DNSProvider, r.DNSResolversOnly = "dns-01", "exec", true
		}, []string{"DNSResolvers:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validRequest(t)
			tc.modify(&r)
			_, err := check(r, scopeOrder)
			if err == nil {
				t.Fatal("accepted")
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("not a *FieldError: %T", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error shows the HMAC: %v", err)
			}
		})
	}
	// All problems are reported at once.
	_, err := check(Request{Challenge: "x", KeyType: "y", Directory: "z"}, scopeOrder)
	for _, f := range []string{"domains:", "tls.challenge:", "tls.key_type:", "tls.directory:"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("combined error lacks %s: %v", f, err)
		}
	}
}

func TestObtainValidatesFirst(t *testing.T) {
	// No CA is contacted and no file is written for an invalid request.
	state := filepath.Join(t.TempDir(), "state")
	_, err := Obtain(context.Background(), Request{Domains: []string{"a.example.org"}, Challenge: "dns-01", DNSProvider: "nope", StateDir: state})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "tls.dns_provider" {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state dir was created for an invalid request")
	}
}

func TestProvidersAndMissingEnv(t *testing.T) {
	want := []string{"acmedns", "cloudflare", "digitalocean", "exec", "gandiv5", "hetzner", "httpreq", "ovh", "rfc2136", "route53"}
	got := Providers()
	if !slices.IsSorted(got) {
		t.Errorf("Providers not sorted: %v", got)
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("Providers lacks %s: %v", w, got)
		}
	}
	// Start from a clean environment for every variable in the table.
	for _, p := range curated {
		for _, opt := range p.options {
			for _, v := range opt {
				for _, n := range v {
					t.Setenv(n, "")
					t.Setenv(n+"_FILE", "")
				}
			}
		}
	}
	if m := MissingEnv("exec"); !slices.Equal(m, []string{"EXEC_PATH"}) {
		t.Errorf("exec: %v", m)
	}
	if m := MissingEnv("gandi"); !slices.Equal(m, []string{"GANDIV5_PERSONAL_ACCESS_TOKEN"}) {
		t.Errorf("gandi alias: %v", m)
	}
	if m := MissingEnv("ovh"); !slices.Equal(m, []string{"OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET", "OVH_CONSUMER_KEY"}) {
		t.Errorf("ovh: %v", m)
	}
	if m := MissingEnv("route53"); m != nil {
		t.Errorf("route53: %v", m)
	}
	if m := MissingEnv("no-such-provider"); m != nil {
		t.Errorf("unknown: %v", m)
	}
	t.Setenv("EXEC_PATH_FILE", "/some/file")
	if m := MissingEnv("exec"); m != nil {
		t.Errorf("exec with _FILE: %v", m)
	}
	t.Setenv("CF_DNS_API_TOKEN", "x")
	if m := MissingEnv("Cloudflare"); m != nil {
		t.Errorf("cloudflare alias variable: %v", m)
	}
	t.Setenv("CF_DNS_API_TOKEN", "")
	t.Setenv("CLOUDFLARE_EMAIL", "a@b.c")
	if m := MissingEnv("cloudflare"); !slices.Equal(m, []string{"CLOUDFLARE_DNS_API_TOKEN"}) {
		t.Errorf("cloudflare half of email+key: %v", m)
	}
	t.Setenv("CLOUDFLARE_API_KEY", "k")
	if m := MissingEnv("cloudflare"); m != nil {
		t.Errorf("cloudflare email+key: %v", m)
	}
}

// TestProviderTableMatchesLego checks the env table against lego itself:
// each provider's constructor fails without the variables and succeeds
// with every option of the table set (no network is used by constructors).
func TestProviderTableMatchesLego(t *testing.T) {
	values := map[string]string{
		"DNSUPDATE_NAMESERVER": "127.0.0.1:53", "ACME_DNS_API_BASE": "https://acme-dns.example.org",
		"ACME_DNS_STORAGE_PATH": filepath.Join(t.TempDir(), "acme-dns.json"), "ACME_DNS_STORAGE_BASE_URL": "https://storage.example.org",
		"HTTPREQ_ENDPOINT": "https://dns-api.example.org", "EXEC_PATH": "/bin/true", "OVH_ENDPOINT": "ovh-eu",
	}
	clear := func() {
		for _, p := range curated {
			for _, opt := range p.options {
				for _, v := range opt {
					for _, n := range v {
						t.Setenv(n, "")
						t.Setenv(n+"_FILE", "")
					}
				}
			}
		}
	}
	for name, p := range curated {
		if len(p.options) == 0 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			clear()
			if _, err := p.construct(); err == nil {
				t.Errorf("lego's %s provider works without %v, so the table is too strict", name, MissingEnv(name))
			}
			for i, opt := range p.options {
				clear()
				for _, v := range opt {
					val, ok := values[v[0]]
					if !ok {
						val = "dummy-" + strings.ToLower(v[0])
					}
					t.Setenv(v[0], val)
				}
				if m := MissingEnv(name); m != nil {
					t.Errorf("option %d set but MissingEnv = %v", i, m)
				}
				if _, err := p.construct(); err != nil {
					t.Errorf("option %d (%v) set but lego says: %v", i, opt, err)
				}
			}
		})
	}
}

func TestDueBasic(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	cert, _ := makeCert(t, now.Add(-60*24*time.Hour), now.Add(30*24*time.Hour), "b.test", "A.test")
	tests := []struct {
		name    string
		domains []string
		now     time.Time
		due     bool
		decided bool
		reason  string
	}{
		{"same names any order", []string{"a.test", "b.test"}, now, false, false, ""},
		{"name added", []string{"a.test", "b.test", "c.test"}, now, true, true, "asks for a.test, b.test, c.test"},
		{"name removed", []string{"a.test"}, now, true, true, "is for a.test, b.test"},
		{"expired", []string{"a.test", "b.test"}, cert.Leaf.NotAfter, true, true, "expired on 2026-07-01"},
	}
	for _, tc := range tests {
		due, reason, decided := dueBasic(cert.Leaf, tc.domains, tc.now)
		if due != tc.due || decided != tc.decided || !strings.Contains(reason, tc.reason) {
			t.Errorf("%s: got %v %v %q", tc.name, due, decided, reason)
		}
	}
}

func TestDueByLifetime(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	le, _ := makeCert(t, start, start.Add(90*day), "a.test")
	short, _ := makeCert(t, start, start.Add(6*day), "a.test")
	mid, _ := makeCert(t, start, start.Add(45*day), "a.test")
	pebble, _ := makeCert(t, start, start.Add(5*365*day), "a.test")
	tests := []struct {
		name   string
		cert   *Certificate
		now    time.Time
		due    bool
		reason string
	}{
		{"90d, 61 days left", le, start.Add(29 * day), false, "renewal from 2026-03-02"},
		{"90d, exactly a third left", le, start.Add(60 * day), false, "not due"},
		{"90d, 29 days left", le, start.Add(61 * day), true, "less than a third"},
		{"6d, 4 days left", short, start.Add(2 * day), false, "not due"},
		{"6d, 2 days 3 hours left", short, start.Add(4*day - 3*time.Hour), false, "not due"},
		{"6d, 1 day 21 hours left", short, start.Add(4*day + 3*time.Hour), true, "less than a third"},
		{"45d, 15 days 3 hours left", mid, start.Add(30*day - 3*time.Hour), false, "renewal from 2026-01-31"},
		{"45d, 14 days 21 hours left", mid, start.Add(30*day + 3*time.Hour), true, "less than a third"},
		{"5y, fresh", pebble, start.Add(day), false, "not due"},
		{"5y, 1 year left", pebble, start.Add(4 * 365 * day), true, "less than a third"},
	}
	for _, tc := range tests {
		due, reason := dueByLifetime(tc.cert.Leaf, tc.now)
		if due != tc.due || !strings.Contains(reason, tc.reason) {
			t.Errorf("%s: got %v %q", tc.name, due, reason)
		}
	}
}

func TestDueByWindow(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cert, _ := makeCert(t, start, start.Add(90*24*time.Hour), "a.test")
	w := &ariWindow{start: start.Add(60 * 24 * time.Hour), end: start.Add(62 * 24 * time.Hour), explanation: "https://ca.example/why"}
	if due, reason := dueByWindow(cert.Leaf, w, w.start.Add(-time.Minute)); due || !strings.Contains(reason, "not due yet") || !strings.Contains(reason, "https://ca.example/why") {
		t.Errorf("before window: %v %q", due, reason)
	}
	if due, reason := dueByWindow(cert.Leaf, w, w.end); !due || !strings.Contains(reason, "renewal is due") {
		t.Errorf("end of window: %v %q", due, reason)
	}
	// The point inside the window is fixed per certificate: once due, it stays due.
	first := time.Time{}
	for tm := w.start; !tm.After(w.end); tm = tm.Add(time.Hour) {
		if due, _ := dueByWindow(cert.Leaf, w, tm); due && first.IsZero() {
			first = tm
		} else if !due && !first.IsZero() {
			t.Fatalf("due at %v but not at %v", first, tm)
		}
	}
	if due1, r1 := dueByWindow(cert.Leaf, w, first); !due1 || r1 != func() string { _, r := dueByWindow(cert.Leaf, w, first); return r }() {
		t.Error("dueByWindow is not deterministic")
	}
	// A window that is already in the past is due; an empty window at its start.
	past := &ariWindow{start: start, end: start}
	if due, _ := dueByWindow(cert.Leaf, past, start); !due {
		t.Error("zero-length window at its start is not due")
	}
}

func TestDueWithoutCA(t *testing.T) {
	port, err := freePort(false)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cert, _ := makeCert(t, now.Add(-80*24*time.Hour), now.Add(10*24*time.Hour), "a.test")
	r := Request{Domains: []string{"a.test"}, Directory: fmt.Sprintf("https://127.0.0.1:%d/dir", port), StateDir: t.TempDir() + "/none"}
	// The CA cannot be asked: the lifetime rule decides, and says why.
	due, reason, err := Due(context.Background(), r, &Certificate{CertPEM: cert.CertPEM}, now)
	if err != nil || !due || !strings.Contains(reason, "could not ask the CA") {
		t.Errorf("Due = %v %q %v", due, reason, err)
	}
	if _, err := os.Stat(r.StateDir); !os.IsNotExist(err) {
		t.Error("Due wrote to the state dir")
	}
	// Names changed: decided without the CA.
	r.Domains = []string{"b.test"}
	if due, reason, err := Due(context.Background(), r, cert, now); err != nil || !due || !strings.Contains(reason, "asks for b.test") {
		t.Errorf("Due(names) = %v %q %v", due, reason, err)
	}
	if _, _, err := Due(context.Background(), r, nil, now); err == nil {
		t.Error("Due(nil) gave no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.Domains = []string{"a.test"}
	if _, _, err := Due(ctx, r, cert, now); !errors.Is(err, context.Canceled) {
		t.Errorf("Due(cancelled) = %v", err)
	}
}

func TestExplain(t *testing.T) {
	now := time.Now()
	rl := &acme.RateLimitedError{
		ProblemDetails: &acme.ProblemDetails{Type: acme.RateLimitedErrorType, HTTPStatus: 429,
			Detail: "too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s"},
		RetryAfter: time.Hour,
	}
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"rate limit header", fmt.Errorf("acme: %w", rl), []string{"rate limit", "try again after " + now.Add(time.Hour).UTC().Format("2006-01-02 15:04"), "letsencrypt-staging"}},
		{"rate limit text", errors.New("acme: error: 429 :: POST :: https://acme-v02.api.letsencrypt.org/acme/new-order :: urn:ietf:params:acme:error:rateLimited :: too many failed authorizations (5) for \"app.example.org\" in the last 1h0m0s, retry after 2026-01-02 03:04:05 UTC: see https://letsencrypt.org/docs/rate-limits/"),
			[]string{"try again after 2026-01-02 03:04:05 UTC"}},
		{"eab required", errors.New("acme: error: 403 :: POST :: https://ca.example/new-acct :: urn:ietf:params:acme:error:externalAccountRequired :: no external account binding was provided"),
			[]string{msgEABRequired}},
		{"eab rejected", errors.New("acme: error: 403 :: POST :: https://ca.example/new-acct :: urn:ietf:params:acme:error:unauthorized :: external account binding JWS verification error"),
			[]string{"the CA rejected the external account binding: check tls.eab_kid and RPWIZARD_EAB_HMAC"}},
		{"http-01 firewall (Let's Encrypt)", errors.New("error: one or more domains had a problem:\n[app.example.org] invalid authorization: acme: error: 400 :: urn:ietf:params:acme:error:connection :: 203.0.113.7: Fetching http://app.example.org/.well-known/acme-challenge/x1: Timeout during connect (likely firewall problem)\n"),
			[]string{"the CA could not reach http://app.example.org/.well-known/acme-challenge/ on port 80 (timed out): open port 80 to the internet, or use tls.challenge: dns-01"}},
		{"http-01 refused", errors.New("[app.example.org] invalid authorization: acme: error: 400 :: urn:ietf:params:acme:error:connection :: 203.0.113.7: Connection refused"),
			[]string{"could not reach http://app.example.org/.well-known/acme-challenge/ on port 80 (connection refused)"}},
		{"NXDOMAIN", errors.New("error: one or more domains had a problem:\n[app.example.org] invalid authorization: acme: error: 400 :: urn:ietf:params:acme:error:dns :: DNS problem: NXDOMAIN looking up A for app.example.org - check that a DNS record exists for this domain\n"),
			[]string{"app.example.org does not resolve (or points elsewhere)", "tls.challenge: dns-01"}},
		{"wrong answer 404", errors.New("[app.example.org] invalid authorization: acme: error: 403 :: urn:ietf:params:acme:error:unauthorized :: 203.0.113.7: Invalid response from http://app.example.org/.well-known/acme-challenge/x1: 404"),
			[]string{"reached http://app.example.org/.well-known/acme-challenge/ but did not get the expected answer", "Invalid response"}},
		{"directory untrusted", errors.New(`get directory at 'https://acme.example.edu/directory': Get "https://acme.example.edu/directory": tls: failed to verify certificate: x509: certificate signed by unknown authority`),
			[]string{"cannot reach the ACME directory https://acme.example.edu/directory", "set tls.ca_bundle to your CA's root"}},
		{"directory no such host", errors.New(`get directory at 'https://acme.invalid/dir': Get "https://acme.invalid/dir": dial tcp: lookup acme.invalid on 127.0.0.53:53: no such host`),
			[]string{"cannot reach the ACME directory https://acme.invalid/dir", "does not resolve", "tls.ca_bundle"}},
		{"directory not ACME", errors.New(`get directory at 'https://www.example.org/': acme: error: 404 :: GET :: https://www.example.org/ :: :: `),
			[]string{"cannot use the ACME directory https://www.example.org/", "tls.directory"}},
		{"propagation", errors.New("error: one or more domains had a problem:\n[app.example.org] propagation: time limit exceeded: last error: authoritative nameservers: NS ns1.example.org.:53 did not return the expected TXT record [fqdn: _acme-challenge.app.example.org., value: abc]: \n"),
			[]string{"the TXT record _acme-challenge.app.example.org did not become visible in DNS in time"}},
		{"dns provider", errors.New("error: one or more domains had a problem:\n[*.example.org] [*.example.org] acme: error presenting token: cloudflare: failed to find zone example.org.: zone could not be found\n"),
			[]string{"could not create the TXT record _acme-challenge.example.org"}},
		{"port busy", errors.New("error: one or more domains had a problem:\n[app.example.org] [app.example.org] acme: error presenting token: could not start HTTP server for challenge: listen tcp :80: bind: address already in use\n"),
			[]string{"port 80 (:80) is already in use", "tls.challenge: http-01"}},
		{"caa", errors.New("[app.example.org] acme: error: 403 :: POST :: https://x/finalize :: urn:ietf:params:acme:error:caa :: CAA record for app.example.org prevents issuance"),
			[]string{"CAA record", "app.example.org"}},
		{"rejected identifier", errors.New("acme: error: 400 :: POST :: https://x/new-order :: urn:ietf:params:acme:error:rejectedIdentifier :: Error creating new order :: Cannot issue for \"app.internal\": Domain name does not end with a valid public suffix (TLD)"),
			[]string{"will not issue", "policy"}},
		{"two names, two problems", errors.New("error: one or more domains had a problem:\n[a.example.org] invalid authorization: acme: error: 400 :: urn:ietf:params:acme:error:dns :: DNS problem: NXDOMAIN looking up A for a.example.org\n[b.example.org] invalid authorization: acme: error: 400 :: urn:ietf:params:acme:error:connection :: 203.0.113.7: Timeout during connect (likely firewall problem)\n"),
			[]string{"a.example.org does not resolve", "could not reach http://b.example.org/.well-known/acme-challenge/ on port 80"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Explain(tc.err)
			var e *Error
			if !errors.As(got, &e) {
				t.Fatalf("not explained: %v", got)
			}
			if !errors.Is(got, tc.err) {
				t.Error("original error not wrapped")
			}
			for _, w := range tc.want {
				if !strings.Contains(e.Summary, w) {
					t.Errorf("summary %q\ndoes not contain %q", e.Summary, w)
				}
			}
			if !strings.Contains(got.Error(), tc.err.Error()[:20]) {
				t.Errorf("Error() lost the details: %s", got)
			}
		})
	}

	// The challenge type from the Request changes the advice.
	alpn := errors.New("[app.example.org] invalid authorization: acme: error: 400 :: urn:ietf:params:acme:error:connection :: 203.0.113.7: Timeout during connect (likely firewall problem)")
	if got := explain(alpn, &config{challenge: ChallengeTLSALPN01}); !strings.Contains(got.Error(), "could not reach app.example.org on port 443") {
		t.Errorf("tls-alpn-01: %v", got)
	}
	dnsWrong := errors.New("[app.example.org] invalid authorization: acme: error: 403 :: urn:ietf:params:acme:error:unauthorized :: Incorrect TXT record \"x\" found at _acme-challenge.app.example.org")
	if got := explain(dnsWrong, &config{challenge: ChallengeDNS01}); !strings.Contains(got.Error(), "expected value in the TXT record _acme-challenge.app.example.org") {
		t.Errorf("dns-01 wrong value: %v", got)
	}

	// Left alone: nil, unknown errors, context errors, field errors, explained errors.
	if Explain(nil) != nil {
		t.Error("Explain(nil) != nil")
	}
	plain := errors.New("something unusual")
	fe := &FieldError{Key: "tls.challenge", Msg: "x"}
	done := &Error{Summary: "s", Err: plain}
	for _, err := range []error{plain, context.Canceled, fmt.Errorf("x: %w", context.DeadlineExceeded), fe, done} {
		if got := Explain(err); got != err {
			t.Errorf("Explain(%v) = %v, want it unchanged", err, got)
		}
	}
}

func TestAccountStore(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	c, err := check(Request{Domains: []string{"a.example.org"}, Email: "me@example.org", StateDir: state, Directory: "https://ca.example:8443/dir", Webroot: t.TempDir()}, scopeOrder)
	if err != nil {
		t.Fatal(err)
	}
	s := newAccountStore(c)
	l1, err := s.load(c.email)
	if err != nil || l1.keyExisted || l1.registered {
		t.Fatalf("first load: %+v %v", l1, err)
	}
	l2, err := s.load(c.email)
	if err != nil || !l2.keyExisted || l2.registered {
		t.Fatalf("second load: %+v %v", l2, err)
	}
	if !publicKeyMatches(&l1.acct.key.(*ecdsa.PrivateKey).PublicKey, l2.acct.key) {
		t.Error("the key changed between loads")
	}
	want := filepath.Join(state, "accounts", "ca.example_8443", "me@example.org", "keys", "me@example.org.key")
	if s.keyFile() != want {
		t.Errorf("key file %s, want %s", s.keyFile(), want)
	}
	for _, d := range []string{state, filepath.Join(state, "accounts"), filepath.Dir(want)} {
		if st, err := os.Stat(d); err != nil || st.Mode().Perm() != dirMode {
			t.Errorf("%s: %v %v", d, st.Mode(), err)
		}
	}
	if st, err := os.Stat(want); err != nil || st.Mode().Perm() != fileMode {
		t.Errorf("%s: %v", want, err)
	}
	// A damaged account.json is ignored (the account is found again by key).
	os.WriteFile(s.accountFile(), []byte("{"), 0o600)
	if l3, err := s.load(c.email); err != nil || l3.registered || !l3.keyExisted {
		t.Errorf("damaged account.json: %+v %v", l3, err)
	}
}

func TestReplacesRefused(t *testing.T) {
	pd := func(status int, typ, detail string) *acme.ProblemDetails {
		return &acme.ProblemDetails{HTTPStatus: status, Type: "urn:ietf:params:acme:error:" + typ, Detail: detail}
	}
	yes := []error{
		&acme.AlreadyReplacedError{ProblemDetails: pd(409, "alreadyReplaced", "certificate already has a replacement order")},
		fmt.Errorf("x: %w", pd(403, "unauthorized", "requester account did not request the certificate being replaced by this order")),
		errors.New("acme: error: 409 :: POST :: https://x/new-order :: urn:ietf:params:acme:error:alreadyReplaced :: dup"),
	}
	no := []error{
		pd(400, "connection", "connection refused"),
		pd(500, "serverInternal", "replace the server"),
		errors.New("some network error"),
	}
	for _, err := range yes {
		if !replacesRefused(err) {
			t.Errorf("replacesRefused(%v) = false", err)
		}
	}
	for _, err := range no {
		if replacesRefused(err) {
			t.Errorf("replacesRefused(%v) = true", err)
		}
	}
}

func TestPollHint(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   string
	}{
		{"challenge without Retry-After", http.Header{"Link": {`<https://ca/authz/1>;rel="up"`}}, challengePoll},
		{"challenge with Retry-After", http.Header{"Link": {`<https://ca/authz/1>;rel="up"`}, "Retry-After": {"7"}}, "7"},
		{"order (index link)", http.Header{"Link": {`<https://ca/dir>;rel="index"`}}, ""},
		{"no link", http.Header{}, ""},
	}
	for _, tc := range tests {
		resp := &http.Response{Header: tc.header}
		pollHint(resp)
		if got := resp.Header.Get("Retry-After"); got != tc.want {
			t.Errorf("%s: Retry-After %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestNextRenewalAgreesWithDue: the moment NextRenewal gives is where Due
// turns, by the CA's window and by the lifetime rule.
func TestNextRenewalAgreesWithDue(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, life := range []time.Duration{90 * day, 6 * day, 5 * 365 * day} {
		cert, _ := makeCert(t, start, start.Add(life), "a.test")
		rn := LifetimeRenewal(cert.Leaf, start)
		if rn.Due || rn.Rule != RuleLifetime {
			t.Errorf("%v: fresh certificate %+v", life, rn)
		}
		if due, _ := dueByLifetime(cert.Leaf, rn.At.Add(-time.Minute)); due {
			t.Errorf("%v: due before %v", life, rn.At)
		}
		if due, _ := dueByLifetime(cert.Leaf, rn.At.Add(time.Minute)); !due {
			t.Errorf("%v: not due after %v", life, rn.At)
		}
		if got := cert.Leaf.NotAfter.Sub(rn.At); got != rn.Left {
			t.Errorf("%v: left %v, want %v", life, rn.Left, got)
		}
		if rn := LifetimeRenewal(cert.Leaf, cert.Leaf.NotAfter); !rn.Due || rn.Rule != RuleExpired {
			t.Errorf("%v: expired %+v", life, rn)
		}
	}
	cert, _ := makeCert(t, start, start.Add(90*day), "a.test")
	w := &ariWindow{start: start.Add(60 * day), end: start.Add(62 * day)}
	at := windowPoint(cert.Leaf, w)
	if at.Before(w.start) || at.After(w.end) {
		t.Fatalf("point %v outside the window", at)
	}
	if due, _ := dueByWindow(cert.Leaf, w, at.Add(-time.Second)); due {
		t.Error("due before the window point")
	}
	if due, _ := dueByWindow(cert.Leaf, w, at); !due {
		t.Error("not due at the window point")
	}
}

func TestNextRenewalWithoutCA(t *testing.T) {
	port, err := freePort(false)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cert, _ := makeCert(t, now.Add(-10*24*time.Hour), now.Add(80*24*time.Hour), "a.test")
	r := Request{Domains: []string{"a.test"}, Directory: fmt.Sprintf("https://127.0.0.1:%d/dir", port), StateDir: t.TempDir() + "/none"}
	rn, err := NextRenewal(context.Background(), r, cert, now)
	if err != nil || rn.Due || rn.Rule != RuleLifetime || !strings.Contains(rn.Reason, "could not ask the CA") {
		t.Errorf("NextRenewal = %+v, %v", rn, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if rn, err := NextRenewal(ctx, r, cert, now); err != nil || rn.Rule != RuleLifetime || !strings.Contains(rn.Reason, "in time") {
		t.Errorf("NextRenewal(cancelled) = %+v, %v", rn, err)
	}
	r.Domains = []string{"b.test"}
	if rn, err := NextRenewal(context.Background(), r, cert, now); err != nil || !rn.Due || rn.Rule != RuleNames {
		t.Errorf("NextRenewal(names) = %+v, %v", rn, err)
	}
}

// TestEABKIDWithoutHMACOnceRegistered: the EAB HMAC key registers the
// account only; once account.json holds the registration, a request with
// tls.eab_kid and no HMAC (the renewal timer's) is accepted.
func TestEABKIDWithoutHMACOnceRegistered(t *testing.T) {
	r := Request{Domains: []string{"a.example.org"}, Email: "me@example.org", StateDir: filepath.Join(t.TempDir(), "state"),
		Directory: "https://ca.example:8443/dir", Webroot: t.TempDir(), EABKID: "kid-1"}
	if _, err := check(r, scopeOrder); err == nil || !strings.Contains(err.Error(), "tls.eab_kid") || AccountRegistered(r) {
		t.Fatalf("no account yet: %v, registered %v", err, AccountRegistered(r))
	}
	c, _ := check(Request{Domains: r.Domains, Email: r.Email, StateDir: r.StateDir, Directory: r.Directory, Webroot: r.Webroot}, scopeOrder)
	s := newAccountStore(c)
	l, err := s.load(c.email)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := check(r, scopeOrder); err == nil || AccountRegistered(r) {
		t.Fatalf("a key without account.json is no registration: %v", err)
	}
	l.acct.Registration = &acme.ExtendedAccount{Location: "https://ca.example:8443/acct/1"}
	l.acct.Registration.Status = "valid"
	if err := s.save(l.acct); err != nil {
		t.Fatal(err)
	}
	if _, err := check(r, scopeOrder); err != nil || !AccountRegistered(r) {
		t.Errorf("registered account: %v, registered %v", err, AccountRegistered(r))
	}
}

func TestNameOfProblem(t *testing.T) {
	names := []string{"jatos.test", "www.jatos.test"}
	tests := []struct {
		text    string
		domains []string
		want    string
	}{
		{"Fetching http://www.jatos.test/.well-known/acme-challenge/x: Connection refused", names, "www.jatos.test"},
		{"Fetching https://JATOS.test:443/x", names, "jatos.test"},
		{"Fetching http://other.test/.well-known/acme-challenge/x", names, "jatos.test"},
		{"Connection refused", names, "jatos.test"},
		{"Connection refused", []string{"a.test"}, "a.test"},
		{"Connection refused", nil, ""},
	}
	for _, tt := range tests {
		if got := nameOfProblem(tt.text, tt.domains); got != tt.want {
			t.Errorf("nameOfProblem(%q, %v) = %q, want %q", tt.text, tt.domains, got, tt.want)
		}
	}
}
