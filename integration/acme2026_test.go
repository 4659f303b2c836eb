package integration

// Integration tests for the CAs of 2026–2028 (issue #12) that need Pebble
// v2.10.1 (testpebble.Options.Modern: profiles, ARI, authorization reuse):
// shortlived certificates and when they renew, an EAB preset, pre-validated
// domains without port 80, and the challenge path past every restriction.
//
// The clock is never moved: the binary under test is the one shipped, and
// "when" is asked of real certificates. A 6-day certificate is checked for
// what renew plans (the time it names); the renewal itself is watched
// happen on a certificate whose Pebble profile gives it 45 seconds, under
// the same rule (a third of the lifetime left).
//
// Every case runs on nginx and on Apache (onEachServer), unless it says
// why not.

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/internal/testenv"
	"github.com/rpwizard/rpwizard/internal/testpebble"
)

const (
	certFile = "/etc/rpwizard/certs/jatos.test/fullchain.pem"
	day      = 24 * time.Hour
)

// currentLeaf reads the site's installed certificate (its PEM and leaf).
func currentLeaf(t *testing.T) ([]byte, *x509.Certificate) {
	t.Helper()
	data, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s holds no PEM", certFile)
	}
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(b), leaf
}

// renewOK runs `rpwizard renew` with args and wants exit 0 and want in its
// output.
func renewOK(t *testing.T, want string, args ...string) result {
	t.Helper()
	r := rpwizard(t, nil, append([]string{"renew"}, args...)...)
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("renew %v: exit %d, want %q\n%s%s", args, r.code, want, r.stdout, r.stderr)
	}
	return r
}

// planned parses the time renew names in "renewal from …" or "renewal
// planned for …".
func planned(t *testing.T, out string) time.Time {
	t.Helper()
	m := regexp.MustCompile(`renewal (?:from|planned for) (\d{4}-\d\d-\d\d \d\d:\d\d UTC)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("renew names no planned renewal time:\n%s", out)
	}
	at, err := time.Parse("2006-01-02 15:04 MST", m[1])
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func near(a, b, tol time.Duration) bool { return a-b <= tol && b-a <= tol }

// acmeServer is a web server the cases run on, and what they differ in
// where a case can see it. The rest they share: rpwizard enables Apache's
// modules (ssl, headers, proxy, rewrite, …) and reloads each server its
// own way (nginx -s reload, apache2ctl graceful), and a renewal is only
// done once the new certificate is served, so the cases' checks are the
// same on both.
type acmeServer struct {
	name string // the answers' server:
	// handshakeRefusal: with restrict.client_ca_file, the server ends the
	// TLS handshake of a client without a certificate (Apache's
	// SSLVerifyClient require) instead of answering 400 (nginx's
	// ssl_verify_client on).
	handshakeRefusal bool
}

// acmeServers are the servers onEachServer runs each case on.
var acmeServers = []acmeServer{{name: "nginx"}, {name: "apache", handshakeRefusal: true}}

// onEachServer runs body as one subtest per server, named by it.
func onEachServer(t *testing.T, body func(t *testing.T, srv acmeServer)) {
	t.Helper()
	for _, srv := range acmeServers {
		t.Run(srv.name, func(t *testing.T) { body(t, srv) })
	}
}

// TestACMEShortlivedProfile: a tls.profile shortlived site on a CA with
// profiles. An unknown profile is refused listing the CA's profiles (exit
// 2, nothing touched, no order). Without ARI a 6-day certificate is planned
// for renewal with 2 days left, and a 45-second one is not renewed a few
// seconds before a third of its lifetime is left and is renewed right
// after. With ARI the CA's window wins, both ways: Pebble's own window
// for a 6-day certificate (4 days after issue, ±1 day) is what renew
// plans for, a window the CA moves into the past (as after a mass
// revocation) renews a certificate that the lifetime rule would keep for
// days, and a window the CA sets later (but before expiry) keeps a
// certificate that the lifetime rule would renew.
func TestACMEShortlivedProfile(t *testing.T) {
	shortlived := func(d time.Duration) map[string]testpebble.Profile {
		return map[string]testpebble.Profile{
			"classic":    {Description: "90 days", Validity: 90 * day},
			"shortlived": {Description: "short", Validity: d},
		}
	}
	t.Run("noARI-6days", func(t *testing.T) {
		onEachServer(t, func(t *testing.T, srv acmeServer) {
			ownHost(t)
			backend(t, "127.0.0.1:9000")
			ca, bundle := pebble(t, testpebble.Options{Modern: true, NoARI: true, Profiles: shortlived(6 * day)})
			answers := acmeAnswers(srv.name, ca.DirectoryURL, bundle)
			before := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard")
			r := apply(t, answers+"  profile: weekly\n")
			if r.code != 2 || !strings.Contains(r.stderr, "tls.profile") || !strings.Contains(r.stderr, "weekly") ||
				!strings.Contains(r.stderr, "classic") || !strings.Contains(r.stderr, "shortlived") {
				t.Errorf("unknown profile: exit %d, want 2 naming tls.profile and listing classic and shortlived\n%s", r.code, r.stderr)
			}
			if after := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard"); after != before || ca.Orders() != 0 {
				t.Errorf("the unknown profile touched files or ordered (%d orders)", ca.Orders())
			}

			mustApply(t, answers+"  profile: shortlived\n")
			_, leaf := currentLeaf(t)
			if life := leaf.NotAfter.Sub(leaf.NotBefore); !near(life, 6*day, 2*time.Second) {
				t.Fatalf("lifetime %v, want 6 days (the profile)", life)
			}
			out := renewOK(t, "jatos.test: not due").stdout
			if !strings.Contains(out, "offers no renewal window") {
				t.Errorf("renew does not say that the CA offers no ARI:\n%s", out)
			}
			if at := planned(t, out); !near(leaf.NotAfter.Sub(at), 2*day, time.Minute) {
				t.Errorf("renewal planned for %s, %v before expiry; want 2 days before %s\n%s", at, leaf.NotAfter.Sub(at), leaf.NotAfter, out)
			}
		})
	})

	t.Run("noARI-45s", func(t *testing.T) {
		onEachServer(t, func(t *testing.T, srv acmeServer) {
			ownHost(t)
			backend(t, "127.0.0.1:9000")
			const life = 45 * time.Second // apply takes a second or two: due in 30 s leaves room
			ca, bundle := pebble(t, testpebble.Options{Modern: true, NoARI: true, Profiles: shortlived(life)})
			answers := acmeAnswers(srv.name, ca.DirectoryURL, bundle) + "  profile: shortlived\n"
			mustApply(t, answers)
			_, leaf := currentLeaf(t)
			due := leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore) / 3) // 30 s after issue
			if time.Until(due) < 10*time.Second {
				t.Fatalf("apply took too long: the certificate is due at %s, in %v", due, time.Until(due))
			}
			renewOK(t, "jatos.test: not due")
			time.Sleep(time.Until(due.Add(-4 * time.Second)))
			if r := renewOK(t, "jatos.test: not due"); time.Now().After(due) {
				t.Fatalf("the check before the due time ended after it; cannot tell:\n%s", r.stdout)
			}
			time.Sleep(time.Until(due.Add(time.Second)))
			orders := ca.Orders()
			r := renewOK(t, "jatos.test: renewed")
			if !strings.Contains(r.stdout, "less than a third") || ca.Orders() != orders+1 {
				t.Errorf("renewed for another reason, or %d orders (was %d):\n%s", ca.Orders(), orders, r.stdout)
			}
			now := served(t, "jatos.test")
			if now[0].SerialNumber.Cmp(leaf.SerialNumber) == 0 {
				t.Fatal("the old certificate is still served")
			}
			verifyIssuedBy(t, now, ca.RootFile, "jatos.test", "www.jatos.test")
			renewOK(t, "jatos.test: not due")
		})
	})

	t.Run("ARI-wins", func(t *testing.T) {
		onEachServer(t, func(t *testing.T, srv acmeServer) {
			ownHost(t)
			backend(t, "127.0.0.1:9000")
			ca, bundle := pebble(t, testpebble.Options{Modern: true, Profiles: shortlived(6 * day)})
			mustApply(t, acmeAnswers(srv.name, ca.DirectoryURL, bundle)+"  profile: shortlived\n")
			certPEM, leaf := currentLeaf(t)
			out := renewOK(t, "jatos.test: not due").stdout
			if !strings.Contains(out, "renewal window (ARI)") {
				t.Fatalf("renew does not follow the CA's window:\n%s", out)
			}
			// Pebble's window: 4 days after issue (two thirds), ±1 day.
			if at := planned(t, out); at.Before(leaf.NotBefore.Add(3*day-time.Minute)) || at.After(leaf.NotBefore.Add(5*day)) {
				t.Errorf("renewal planned for %s, outside Pebble's window %s – %s\n%s", at, leaf.NotBefore.Add(3*day), leaf.NotBefore.Add(5*day), out)
			}
			// The CA wants the certificate replaced now; by its lifetime it
			// has 6 days left and would not be due.
			if err := ca.SetRenewalInfo(certPEM, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
			r := renewOK(t, "jatos.test: renewed")
			if !strings.Contains(r.stdout, "renewal window (ARI)") {
				t.Errorf("renewed, but not for the CA's window:\n%s", r.stdout)
			}
			for _, n := range []string{"jatos.test", "www.jatos.test"} {
				if s := served(t, n)[0].SerialNumber; s.Cmp(leaf.SerialNumber) == 0 {
					t.Errorf("%s still serves the old certificate", n)
				}
			}
			// The new certificate has Pebble's own window again.
			renewOK(t, "jatos.test: not due")
		})
	})

	// The other way round: the lifetime rule says due, the CA's window
	// says later, and the window wins. Only on nginx: a renewal that is
	// not due decides before any server is touched (the same code for
	// both), and the case waits 30 s for the lifetime rule to turn.
	t.Run("ARI-later", func(t *testing.T) {
		ownHost(t)
		backend(t, "127.0.0.1:9000")
		const life = 45 * time.Second
		ca, bundle := pebble(t, testpebble.Options{Modern: true, Profiles: shortlived(life)})
		mustApply(t, acmeAnswers("nginx", ca.DirectoryURL, bundle)+"  profile: shortlived\n")
		certPEM, leaf := currentLeaf(t)
		// Later, but before expiry: a window that begins after expiry is
		// not followed (the lifetime rule decides then; see acme/due.go).
		start, end := leaf.NotAfter.Add(-5*time.Second), leaf.NotAfter.Add(-time.Second)
		if err := ca.SetRenewalInfo(certPEM, start, end); err != nil {
			t.Fatal(err)
		}
		due := leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore) / 3) // 30 s after issue
		time.Sleep(time.Until(due.Add(time.Second)))
		orders := ca.Orders()
		r := renewOK(t, "jatos.test: not due")
		if !time.Now().Before(leaf.NotAfter) {
			t.Fatalf("renew ended after the certificate expired (%s); cannot tell:\n%s", leaf.NotAfter, r.stdout)
		}
		if !strings.Contains(r.stdout, "renewal window (ARI)") {
			t.Errorf("renew does not follow the CA's window:\n%s", r.stdout)
		}
		if at := planned(t, r.stdout); at.Before(start.Add(-time.Minute)) || at.After(end) {
			t.Errorf("renewal planned for %s, outside the CA's window %s – %s\n%s", at, start, end, r.stdout)
		}
		if ca.Orders() != orders {
			t.Errorf("%d orders, want %d: renew ordered although not due", ca.Orders(), orders)
		}
		if s := served(t, "jatos.test")[0].SerialNumber; s.Cmp(leaf.SerialNumber) != 0 {
			t.Errorf("serves %x, want the certificate that was not due, %x", s, leaf.SerialNumber)
		}
	})
}

// TestACMEEABPreset: what a university does with GÉANT TCS via HARICA:
// tls.ca harica (EAB required, every account its own directory URL) and
// tls.directory the account's URL, here a Pebble that requires EAB. The
// EAB requirement comes from the preset: without tls.eab_kid the answers
// are refused before the CA is asked (exit 2 naming the key, nothing
// touched); with the kid and HMAC a certificate is issued, and renewed
// later without the HMAC.
func TestACMEEABPreset(t *testing.T) { onEachServer(t, eabPreset) }

// eabPreset is TestACMEEABPreset on one server.
func eabPreset(t *testing.T, srv acmeServer) {
	ownHost(t)
	backend(t, "127.0.0.1:9000")
	const hmac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
	// RetryAfter: Pebble asks the client to wait a second between polls.
	ca, bundle := pebble(t, testpebble.Options{Modern: true, RetryAfter: true, EABKeys: map[string]string{"kid-1": hmac}})
	answers := strings.Replace(acmeAnswers(srv.name, ca.DirectoryURL, bundle), "  directory:", "  ca: harica\n  directory:", 1)

	before := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard")
	r := apply(t, strings.Replace(answers, "  directory: "+ca.DirectoryURL+"\n", "", 1))
	if r.code != 2 || !strings.Contains(r.stderr, "tls.directory") {
		t.Errorf("harica without its directory URL: exit %d, want 2 naming tls.directory\n%s", r.code, r.stderr)
	}
	for _, env := range [][]string{nil, {"RPWIZARD_EAB_HMAC=" + hmac}} {
		r := rpwizard(t, env, "--answers", writeAnswers(t, answers))
		if r.code != 2 || !strings.Contains(r.stderr, "tls.eab_kid") || !strings.Contains(r.stderr, "HARICA") {
			t.Errorf("without tls.eab_kid (env %v): exit %d, want 2 naming tls.eab_kid and the CA\n%s", len(env), r.code, r.stderr)
		}
	}
	if after := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard"); after != before || ca.Orders() != 0 {
		t.Errorf("refused answers touched files or reached the CA (%d orders)", ca.Orders())
	}

	r = rpwizard(t, []string{"RPWIZARD_EAB_HMAC=" + hmac}, "--answers", writeAnswers(t, answers+"  eab_kid: kid-1\n"))
	if r.code != 0 {
		t.Fatalf("with the EAB key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, hmac) {
		t.Error("the HMAC key was printed")
	}
	verifyIssuedBy(t, served(t, "jatos.test"), ca.RootFile, "jatos.test", "www.jatos.test")
	// The renewal timer has no RPWIZARD_EAB_HMAC: the bound account
	// renews without it.
	renewOK(t, "jatos.test: renewed", "--force")
}

// forward relays TCP connections from a loopback port to to, until
// closed: the CA's view of port 80.
type forward struct {
	ln    net.Listener
	conns int
}

func startForward(t *testing.T, to string) *forward {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forward{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns++
			go func() {
				defer c.Close()
				u, err := net.DialTimeout("tcp", to, 5*time.Second)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { copyConn(u, c) }()
				copyConn(c, u)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return f
}

func copyConn(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			return
		}
	}
}

func (f *forward) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

// TestACMEPrevalidatedWithoutPort80: a CA that holds the domains'
// authorizations as valid (Pebble with PEBBLE_AUTHZREUSE=100, like a
// pre-validated institutional account) issues without a challenge. The
// first certificate is validated by HTTP-01 through port 80 as the CA sees
// it (a relay to nginx's port 80); then that port is closed to the CA, and
// `renew --force` still gets a new certificate, with no challenge tried.
func TestACMEPrevalidatedWithoutPort80(t *testing.T) { onEachServer(t, prevalidatedWithoutPort80) }

// prevalidatedWithoutPort80 is TestACMEPrevalidatedWithoutPort80 on one server.
func prevalidatedWithoutPort80(t *testing.T, srv acmeServer) {
	ownHost(t)
	backend(t, "127.0.0.1:9000")
	port80 := startForward(t, "127.0.0.1:80")
	ca, bundle := pebble(t, testpebble.Options{Modern: true, AuthzReuse: 100, HTTPPort: port80.port(), TLSPort: 1})
	mustApply(t, acmeAnswers(srv.name, ca.DirectoryURL, bundle))
	_, first := currentLeaf(t)
	validations := ca.Validations()
	if validations == 0 || port80.conns == 0 {
		t.Fatalf("the first order was not validated through port 80 (%d validations, %d connections)\n%s", validations, port80.conns, ca.Logs())
	}

	port80.ln.Close() // port 80 is closed to the CA
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port80.port()), time.Second); err == nil {
		c.Close()
		t.Fatal("the CA's port 80 still accepts connections")
	}
	orders := ca.Orders()
	r := renewOK(t, "jatos.test: renewed", "--force")
	if ca.Orders() != orders+1 {
		t.Errorf("%d orders after the renewal, want %d", ca.Orders(), orders+1)
	}
	if ca.Validations() != validations {
		t.Errorf("the second order tried %d challenges, want none\n%s", ca.Validations()-validations, r.stdout)
	}
	now := served(t, "jatos.test")
	if now[0].SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("the old certificate is still served")
	}
	verifyIssuedBy(t, now, ca.RootFile, "jatos.test", "www.jatos.test")
}

// TestACMEChallengePastRestrictions: a site that only 192.0.2.0/24 may
// reach, behind basic auth (bcrypt) and client certificates, still renews
// by HTTP-01 through port 80 from 127.0.0.1: /.well-known/acme-challenge/
// is exempt from all three, while the rest of the site refuses this host.
func TestACMEChallengePastRestrictions(t *testing.T) { onEachServer(t, challengePastRestrictions) }

// challengePastRestrictions is TestACMEChallengePastRestrictions on one server.
func challengePastRestrictions(t *testing.T, srv acmeServer) {
	ownHost(t)
	backend(t, "127.0.0.1:9000")
	htpasswd := "/etc/apache2/rpwizard-test.htpasswd" // read by www-data; restored by ownHost
	clientCA := "/etc/apache2/rpwizard-test-client-ca.pem"
	out, err := exec.Command("htpasswd", "-nbB", "alice", "secret").Output()
	if err != nil {
		t.Skipf("htpasswd (apache2-utils) for a bcrypt entry: %v", err)
	}
	if err := os.WriteFile(htpasswd, bytes.TrimSpace(out), 0o644); err != nil {
		t.Fatal(err)
	}
	ca, bundle := pebble(t, testpebble.Options{})
	root, _ := os.ReadFile(ca.ListenerRoot) // any CA certificate will do: nobody here has a client certificate
	if err := os.WriteFile(clientCA, root, 0o644); err != nil {
		t.Fatal(err)
	}
	answers := acmeAnswers(srv.name, ca.DirectoryURL, bundle) + "selftest: false\nrestrict:\n  site_networks: [192.0.2.0/24]\n" +
		"  basic_auth_file: " + htpasswd + "\n  client_ca_file: " + clientCA + "\n"
	mustApply(t, answers)
	_, first := currentLeaf(t)

	// The site refuses this host: 127.0.0.1 is not in site_networks (and
	// it has no client certificate, nor a password).
	plain := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client(t, "jatos.test").Get("https://jatos.test/")
	switch {
	case srv.handshakeRefusal:
		if err == nil {
			resp.Body.Close()
			t.Errorf("GET https://jatos.test/ from 127.0.0.1 without a client certificate: %d, want the TLS handshake refused", resp.StatusCode)
		} else if !strings.Contains(err.Error(), "remote error: tls:") {
			t.Errorf("GET https://jatos.test/ from 127.0.0.1: %v, want a TLS alert (no client certificate)", err)
		}
	case err != nil:
		t.Fatalf("GET https://jatos.test/: %v", err)
	default:
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET https://jatos.test/ from 127.0.0.1: %d, want 403 (or 400: no client certificate)", resp.StatusCode)
		}
	}
	port80 := func(path string) int {
		req, _ := http.NewRequest("GET", "http://127.0.0.1"+path, nil)
		req.Host = "jatos.test"
		resp, err := plain.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	code := port80("/")
	t.Logf("GET http://jatos.test/ from 127.0.0.1: %d", code)
	if code != http.StatusForbidden && code != http.StatusMovedPermanently {
		t.Errorf("GET http://jatos.test/ from 127.0.0.1: %d, want 403 or the redirect to HTTPS", code)
	}
	// The challenge path answers (404 for a token nobody set), not 401/403.
	if code := port80("/.well-known/acme-challenge/no-such-token"); code != http.StatusNotFound {
		t.Errorf("challenge path from 127.0.0.1: %d, want 404 (reachable, no such token)", code)
	}

	orders, validations := ca.Orders(), ca.Validations()
	renewOK(t, "jatos.test: renewed", "--force")
	if ca.Orders() != orders+1 || ca.Validations() <= validations {
		t.Errorf("%d orders (want %d), %d challenges validated (want more than %d)", ca.Orders(), orders+1, ca.Validations(), validations)
	}
	if s := served(t, "jatos.test")[0].SerialNumber; s.Cmp(first.SerialNumber) == 0 {
		t.Error("the old certificate is still served")
	}
}
