package wizard_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/internal/testenv"
	"github.com/rpwizard/rpwizard/internal/testpebble"
)

// TestTmuxWizardACMEProfileFromPebble drives the real binary in tmux as a
// person would, against a real ACME CA: Pebble v2.10 (testpebble, Modern)
// on loopback, validating HTTP-01 on port 80, with two certificate
// profiles. The wizard is given Pebble as "Another ACME CA" with its
// directory URL and CA bundle (its file name completed with tab), lists the two profiles its directory
// offers, and the one picked (shortlived, 6 days) is what Pebble issues:
// the site then serves a certificate from Pebble's root with that
// lifetime, to the backend through nginx, and the saved answers carry
// tls.profile.
func TestTmuxWizardACMEProfileFromPebble(t *testing.T) {
	ownHost(t)
	b := backend(t)
	const (
		day    = 24 * time.Hour
		domain = "wiz-acme.test"
	)
	ca, err := testpebble.Start(t.TempDir(), testpebble.Options{Modern: true, HTTPPort: 80, TLSPort: 443,
		Profiles: map[string]testpebble.Profile{
			"classic":    {Description: "The long-standing kind, 90 days", Validity: 90 * day},
			"shortlived": {Description: "Short-lived, 6 days", Validity: 6 * day},
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ca.Stop)

	// The renewal entry may run the binary built for the test (see
	// steps.RenewalBinaryEnv), as in the integration tests.
	s := startTerm(t, []string{"RPWIZARD_TEST_RENEWAL_BINARY=" + binary(t)})
	const w = 15 * time.Second
	toCertificate(s, b.Addr, domain)
	s.keys("Home")
	s.waitUntil("ACME chosen", w, func(sc string) bool { return strings.Contains(sc, "> ACME") })
	s.keys("Enter")
	s.waitFor("Which certificate authority (ACME CA)?", w)
	s.keys("End")
	s.waitUntil("another CA chosen", w, func(sc string) bool { return strings.Contains(sc, "> Another ACME CA") })
	s.shot("acme-ca")
	s.keys("Enter")
	s.waitFor("ACME directory URL", w)
	s.text(ca.DirectoryURL)
	s.keys("Enter")
	s.waitUntil("the CA bundle field", w, focused("CA bundle for the CA's server"))
	// The bundle's name is completed with tab, as in a shell: its
	// directory holds one name that begins with "bu".
	s.text(strings.TrimSuffix(ca.Bundle, "ndle.pem"))
	s.keys("Tab")
	s.waitUntil("the completed bundle", w, func(sc string) bool {
		return strings.Contains(strings.Join(strings.Fields(sc), ""), ca.Bundle) && !strings.Contains(sc, "tab complete")
	})
	s.shot("acme-cadir")
	s.keys("Enter")
	sc := s.waitFor("Which certificate profile?", 30*time.Second)
	s.shot("acme-profiles")
	for _, want := range []string{"your ACME CA lists 2 profiles", "> The CA's default", "classic: 90 days", "shortlived: 6 days"} {
		if !strings.Contains(sc, want) {
			t.Errorf("the profile page lacks %q:\n%s", want, sc)
		}
	}
	s.keys("Down", "Down")
	s.waitUntil("shortlived chosen", w, func(sc string) bool { return strings.Contains(sc, "> shortlived") })
	s.shot("acme-profile-shortlived")
	s.keys("Enter")
	s.waitFor("How should your ACME CA check the domain?", w)
	s.shot("acme-challenge")
	s.keys("Enter") // HTTP-01
	s.waitUntil("the e-mail field", w, focused("Contact e-mail"))
	s.keys("Enter") // no e-mail
	sc = s.waitFor("review the plan", 60*time.Second)
	s.shot("acme-review")
	for _, want := range []string{"profile shortlived", "directory " + ca.DirectoryURL} {
		if !strings.Contains(strings.Join(strings.Fields(sc), " "), want) {
			t.Errorf("the review's summary lacks %q:\n%s", want, sc)
		}
	}
	s.keys("a")
	sc = s.waitUntil("the run to end", 4*time.Minute, func(sc string) bool {
		return strings.Contains(sc, "✓ done") || strings.Contains(sc, "✗ failed")
	})
	s.shot("acme-progress")
	if !strings.Contains(sc, "✓ done") {
		t.Fatalf("the run failed:\n%s\nPebble:\n%s", sc, ca.Logs())
	}
	s.keys("Enter")
	sc = s.waitFor("Save these answers", w)
	s.shot("acme-result")
	if !strings.Contains(sc, "is served at https://"+domain+"/ by nginx") {
		t.Errorf("result screen:\n%s", sc)
	}
	s.keys("Enter")
	s.waitFor("Save the answers to", w)
	s.keys("Enter")
	if code := s.exit(w); code != 0 {
		t.Fatalf("exit status %d:\n%s", code, s.screen())
	}
	s.shot("acme-final")

	// The certificate: Pebble's, for both names, with the profile's lifetime.
	chain := servedChain(t, domain)
	verifyChain(t, chain, ca.RootFile, domain, "www."+domain)
	if life := chain[0].NotAfter.Sub(chain[0].NotBefore); life < 6*day-2*time.Second || life > 6*day {
		t.Errorf("the served certificate lives %v, want 6 days (the profile shortlived)", life)
	}
	if ca.Orders() != 1 {
		t.Errorf("Pebble saw %d orders, want 1", ca.Orders())
	}
	// The app answers through nginx with Pebble's certificate trusted.
	resp, err := testenv.ClientTrusting(t, ca.RootFile).Get("https://" + domain + "/hello")
	if err != nil {
		t.Fatalf("GET https://%s/hello: %v", domain, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "/hello") {
		t.Errorf("GET https://%s/hello: %d %s", domain, resp.StatusCode, body)
	}

	// The saved answers load and carry the CA and the profile.
	const saved = "/etc/rpwizard/answers.yaml"
	if fi, err := os.Stat(saved); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved answers: %v (mode %v), want mode 0600", err, fi)
	}
	a, err := answers.Load(saved, []string{"nginx", "apache"})
	if err != nil {
		t.Fatalf("the saved answers do not load: %v", err)
	}
	want := answers.TLS{Mode: "acme", Directory: ca.DirectoryURL, CABundle: ca.Bundle, Profile: "shortlived", Challenge: "http-01", KeyType: "ec256"}
	if a.Domain != domain || a.TLS != want {
		t.Errorf("saved answers: domain %q tls %+v, want %q %+v", a.Domain, a.TLS, domain, want)
	}
}

// servedChain is the chain nginx presents on 127.0.0.1:443 for name.
func servedChain(t *testing.T, name string) []*x509.Certificate {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:443",
		&tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS to %s: %v", name, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates
}

// verifyChain checks that chain (leaf first) is valid for names under
// the root in rootFile.
func verifyChain(t *testing.T, chain []*x509.Certificate, rootFile string, names ...string) {
	t.Helper()
	data, err := os.ReadFile(rootFile)
	if err != nil {
		t.Fatal(err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AppendCertsFromPEM(data)
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	for _, n := range names {
		if _, err := chain[0].Verify(x509.VerifyOptions{DNSName: n, Roots: roots, Intermediates: inter}); err != nil {
			t.Errorf("the certificate served for %s does not chain to Pebble's root: %v", n, err)
		}
	}
}
