package integration

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/internal/testenv"
	"github.com/rpwizard/rpwizard/internal/testpebble"
)

// pebble starts a real ACME CA validating on ports 80/443 of 127.0.0.1,
// and a CA bundle that trusts both its ACME listener and its issuing root
// (as an institution's bundle would).
func pebble(t *testing.T, o testpebble.Options) (*testpebble.CA, string) {
	t.Helper()
	if o.HTTPPort == 0 {
		o.HTTPPort, o.TLSPort = 80, 443
	}
	ca, err := testpebble.Start(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ca.Stop)
	return ca, ca.Bundle
}

// served returns the certificate chain the server presents for name.
func served(t *testing.T, name string) []*x509.Certificate {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:443",
		&tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS to %s: %v", name, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates
}

func verifyIssuedBy(t *testing.T, chain []*x509.Certificate, rootFile string, names ...string) {
	t.Helper()
	roots := x509.NewCertPool()
	data, _ := os.ReadFile(rootFile)
	roots.AppendCertsFromPEM(data)
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	for _, n := range names {
		if _, err := chain[0].Verify(x509.VerifyOptions{DNSName: n, Roots: roots, Intermediates: inter}); err != nil {
			t.Errorf("served certificate for %s does not chain to the CA's root: %v", n, err)
		}
	}
}

func acmeAnswers(server, directory, bundle string) string {
	return fmt.Sprintf(`app: jatos
server: %s
domain: jatos.test
aliases: [www.jatos.test]
tls:
  mode: acme
  email: it@example.org
  directory: %s
  ca_bundle: %s
`, server, directory, bundle)
}

// TestACMEWebroot obtains a certificate by HTTP-01 through the webroot
// that the freshly configured server serves on port 80, for nginx and
// Apache; a second apply does not ask the CA again.
func TestACMEWebroot(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			ownHost(t)
			backend(t, "127.0.0.1:9000")
			ca, bundle := pebble(t, testpebble.Options{})
			answers := acmeAnswers(server, ca.DirectoryURL, bundle)
			r := mustApply(t, answers)
			verifyIssuedBy(t, served(t, "jatos.test"), ca.RootFile, "jatos.test", "www.jatos.test")
			for _, f := range []string{"/etc/rpwizard/certs/jatos.test/privkey.pem"} {
				if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: %v, want mode 0600", f, fi.Mode())
				}
			}
			keys, _ := filepath.Glob("/etc/rpwizard/acme/accounts/*/*/keys/*.key")
			if len(keys) != 1 {
				t.Fatalf("account keys: %v", keys)
			}
			if fi, _ := os.Stat(keys[0]); fi.Mode().Perm() != 0o600 {
				t.Errorf("account key mode %v, want 0600", fi.Mode())
			}
			if !strings.Contains(r.stdout, "self-test") {
				t.Errorf("no self-test in the output:\n%s", r.stdout)
			}
			orders := ca.Orders()
			if orders == 0 {
				t.Fatalf("Pebble saw no order; log:\n%s", ca.Logs())
			}
			r = mustApply(t, answers)
			if !strings.Contains(r.stdout, "no changes") || ca.Orders() != orders {
				t.Errorf("second apply: %d orders (was %d)\n%s", ca.Orders(), orders, r.stdout)
			}
		})
	}
}

// TestACMEFailureKeepsOldSite: when the CA cannot validate (port 80 is
// answered by something else), the site keeps serving its previous config
// and certificate, rpwizard exits 1 and names the cause.
func TestACMEFailureKeepsOldSite(t *testing.T) {
	ownHost(t)
	backend(t, "127.0.0.1:9000")
	mustApply(t, "app: jatos\nserver: nginx\ndomain: jatos.test\ntls: {mode: self-signed}\n")
	oldSerial := served(t, "jatos.test")[0].SerialNumber
	// The CA validates on a port where another program answers 404.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ca, bundle := pebble(t, testpebble.Options{HTTPPort: ln.Addr().(*net.TCPAddr).Port, TLSPort: 1})
	before := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard/certs", "/etc/rpwizard/sites")
	r := apply(t, strings.Replace(acmeAnswers("nginx", ca.DirectoryURL, bundle), "aliases: [www.jatos.test]\n", "", 1))
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "port 80") {
		t.Errorf("the message does not name the cause:\n%s", r.stderr)
	}
	if after := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard/certs", "/etc/rpwizard/sites"); after != before {
		t.Error("files differ after the failed ACME run")
	}
	if got := served(t, "jatos.test")[0].SerialNumber; got.Cmp(oldSerial) != 0 {
		t.Errorf("served certificate changed: %v, was %v", got, oldSerial)
	}
	echo(t, client(t, "jatos.test"), "https://jatos.test/still/serving")
}

// TestRenewForceWithoutDowntime: `rpwizard renew --force` replaces the
// certificate (a new serial is served) while a client loop on loopback
// sees no failed request; without --force nothing is due.
func TestRenewForceWithoutDowntime(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			ownHost(t)
			backend(t, "127.0.0.1:9000")
			ca, bundle := pebble(t, testpebble.Options{})
			r := mustApply(t, acmeAnswers(server, ca.DirectoryURL, bundle))
			if !strings.Contains(r.stdout, "renewal: cron entry") {
				t.Errorf("summary does not say how the certificate renews:\n%s", r.stdout)
			}
			if cron, err := os.ReadFile("/etc/cron.d/rpwizard"); err != nil || !strings.Contains(string(cron), binary+" renew") {
				t.Errorf("cron entry: %q, %v", cron, err)
			}
			old := served(t, "jatos.test")[0].SerialNumber

			nr := rpwizard(t, nil, "renew")
			if nr.code != 0 || !strings.Contains(nr.stdout, "jatos.test: not due") {
				t.Fatalf("renew without --force: exit %d\n%s%s", nr.code, nr.stdout, nr.stderr)
			}

			c := client(t, "jatos.test")
			roots := x509.NewCertPool()
			data, _ := os.ReadFile(bundle)
			roots.AppendCertsFromPEM(data)
			c.Transport.(*http.Transport).TLSClientConfig.RootCAs = roots
			c.Transport.(*http.Transport).DisableKeepAlives = true
			stop := make(chan struct{})
			done := make(chan [2]int)
			go func() {
				var ok, failed int
				for i := 0; i < 100000; i++ {
					select {
					case <-stop:
						done <- [2]int{ok, failed}
						return
					default:
					}
					resp, err := c.Get("https://jatos.test/loop")
					if err != nil || resp.StatusCode != 200 {
						failed++
						if err == nil {
							resp.Body.Close()
						}
						continue
					}
					resp.Body.Close()
					ok++
				}
				done <- [2]int{ok, failed}
			}()
			rr := rpwizard(t, nil, "renew", "--force")
			time.Sleep(200 * time.Millisecond)
			close(stop)
			counts := <-done
			if rr.code != 0 || !strings.Contains(rr.stdout, "renewed") {
				t.Fatalf("renew --force: exit %d\n%s%s", rr.code, rr.stdout, rr.stderr)
			}
			if counts[1] != 0 || counts[0] < 10 {
				t.Errorf("client loop during the renewal: %d ok, %d failed", counts[0], counts[1])
			}
			now := served(t, "jatos.test")
			if now[0].SerialNumber.Cmp(old) == 0 {
				t.Error("the same certificate is served after renew --force")
			}
			verifyIssuedBy(t, now, ca.RootFile, "jatos.test", "www.jatos.test")
		})
	}
}

// TestACMEOtherChallenges obtains certificates for a live site with
// TLS-ALPN-01 (before the server takes port 443) and with DNS-01 through
// lego's exec provider, which sets the TXT records on challtestsrv.
func TestACMEOtherChallenges(t *testing.T) {
	t.Run("tls-alpn-01", func(t *testing.T) {
		ownHost(t)
		backend(t, "127.0.0.1:9000")
		ca, bundle := pebble(t, testpebble.Options{})
		mustApply(t, acmeAnswers("nginx", ca.DirectoryURL, bundle)+"  challenge: tls-alpn-01\n")
		verifyIssuedBy(t, served(t, "jatos.test"), ca.RootFile, "jatos.test", "www.jatos.test")
	})
	t.Run("dns-01", func(t *testing.T) {
		ownHost(t)
		backend(t, "127.0.0.1:9000")
		ca, bundle := pebble(t, testpebble.Options{HTTPPort: 1, TLSPort: 1}) // only DNS can validate
		script := filepath.Join(t.TempDir(), "dns-hook")
		os.WriteFile(script, []byte(`#!/bin/sh
# lego exec provider: $1 = present|cleanup, $2 = FQDN, $3 = value
case "$1" in
present) curl -sf -d "{\"host\":\"$2\",\"value\":\"$3\"}" `+ca.ChallMgmt+`/set-txt ;;
cleanup) curl -sf -d "{\"host\":\"$2\"}" `+ca.ChallMgmt+`/clear-txt ;;
esac
`), 0o755)
		answers := strings.Replace(acmeAnswers("apache", ca.DirectoryURL, bundle), "aliases: [www.jatos.test]", "aliases: ['*.jatos.test']", 1) +
			"  challenge: dns-01\n  dns_provider: exec\n"
		f := writeAnswers(t, answers)
		// Missing provider credentials are named before the CA is asked.
		r := rpwizard(t, nil, "--answers", f)
		if r.code != 2 || !strings.Contains(r.stderr, "EXEC_PATH") || ca.Orders() != 0 {
			t.Fatalf("without EXEC_PATH: exit %d, %d orders\n%s", r.code, ca.Orders(), r.stderr)
		}
		r = rpwizard(t, []string{"EXEC_PATH=" + script, "RPWIZARD_DNS_RESOLVERS=" + ca.DNSAddr,
			"EXEC_PROPAGATION_TIMEOUT=30", "EXEC_POLLING_INTERVAL=1", "EXEC_SEQUENCE_INTERVAL=1"}, "--answers", f)
		if r.code != 0 {
			t.Fatalf("dns-01: exit %d\n%s\n%s\n%s", r.code, r.stdout, r.stderr, ca.Logs())
		}
		verifyIssuedBy(t, served(t, "jatos.test"), ca.RootFile, "jatos.test", "anything.jatos.test")
	})
}

// TestACMEExternalAccountBinding: an institutional CA that requires EAB
// issues with the right HMAC key and refuses a wrong one with a message
// that says what to check; the host is left as it was.
func TestACMEExternalAccountBinding(t *testing.T) {
	ownHost(t)
	backend(t, "127.0.0.1:9000")
	const hmac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
	ca, bundle := pebble(t, testpebble.Options{EABKeys: map[string]string{"kid-1": hmac}})
	f := writeAnswers(t, acmeAnswers("nginx", ca.DirectoryURL, bundle)+"  eab_kid: kid-1\n")
	before := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2")
	r := rpwizard(t, []string{"RPWIZARD_EAB_HMAC=" + strings.Repeat("A", len(hmac))}, "--answers", f)
	if r.code != 1 || !strings.Contains(r.stderr, "external account binding") || !strings.Contains(r.stderr, "RPWIZARD_EAB_HMAC") {
		t.Fatalf("wrong HMAC: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, hmac) || strings.Contains(r.stdout+r.stderr, strings.Repeat("A", 20)) {
		t.Error("the HMAC key was printed")
	}
	if after := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2"); after != before {
		t.Error("a failed EAB run changed the server config")
	}
	r = rpwizard(t, []string{"RPWIZARD_EAB_HMAC=" + hmac}, "--answers", f)
	if r.code != 0 {
		t.Fatalf("right HMAC: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	verifyIssuedBy(t, served(t, "jatos.test"), ca.RootFile, "jatos.test")
}

// TestRenewProvenWithHooksAndNotify: a renewal whose deploy hook fails is
// rolled back (the old serial is served again for every name), renew
// exits 1 and rpwizard notify's command gets the JSON event on stdin; with
// a working hook the renewal stays, and the hook saw the new certificate.
// On nginx and on Apache.
func TestRenewProvenWithHooksAndNotify(t *testing.T) {
	onEachServer(t, renewProvenWithHooksAndNotify)
}

// renewProvenWithHooksAndNotify is TestRenewProvenWithHooksAndNotify on
// one server.
func renewProvenWithHooksAndNotify(t *testing.T, srv acmeServer) {
	ownHost(t)
	backend(t, "127.0.0.1:9000")
	ca, bundle := pebble(t, testpebble.Options{})
	dir := t.TempDir()
	got := filepath.Join(dir, "event.json")
	notifyCmd := filepath.Join(dir, "notify-cmd")
	os.WriteFile(notifyCmd, []byte("#!/bin/sh\ncat > "+got+"\n"), 0o755)
	hookOut := filepath.Join(dir, "hook.out")
	hook := filepath.Join(dir, "deploy-hook")
	os.WriteFile(hook, []byte("#!/bin/sh\necho \"$RPWIZARD_DOMAIN $RPWIZARD_CERT_FILE $1\" >> "+hookOut+"\n[ -e "+dir+"/fail ] && { echo 'cannot reach the app' >&2; exit 3; }\nexit 0\n"), 0o755)
	if err := os.MkdirAll("/etc/rpwizard", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/rpwizard/config.yaml", []byte("notify:\n  commands:\n    - ["+notifyCmd+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	answers := acmeAnswers(srv.name, ca.DirectoryURL, bundle) + "hooks:\n  deploy:\n    - [" + hook + ", copied]\n"
	mustApply(t, answers)
	old := served(t, "jatos.test")[0].SerialNumber

	os.WriteFile(filepath.Join(dir, "fail"), nil, 0o644)
	r := rpwizard(t, nil, "renew", "--force")
	if r.code != 1 || !strings.Contains(r.stderr, "hooks.deploy[0]") || !strings.Contains(r.stderr, "serving again") {
		t.Fatalf("failing hook: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, n := range []string{"jatos.test", "www.jatos.test"} {
		if s := served(t, n)[0].SerialNumber; s.Cmp(old) != 0 {
			t.Errorf("%s serves %x after the rollback, want the old %x", n, s, old)
		}
	}
	ev, err := os.ReadFile(got)
	if err != nil || !strings.Contains(string(ev), `"event": "renewal-failed"`) || !strings.Contains(string(ev), `"site": "jatos.test"`) ||
		!strings.Contains(string(ev), "cannot reach the app") {
		t.Errorf("notify command got %q, %v\n%s", ev, err, r.stderr)
	}

	os.Remove(filepath.Join(dir, "fail"))
	r = rpwizard(t, nil, "renew", "--force")
	if r.code != 0 || !strings.Contains(r.stdout, "renewed") {
		t.Fatalf("working hook: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, n := range []string{"jatos.test", "www.jatos.test"} {
		if s := served(t, n)[0].SerialNumber; s.Cmp(old) == 0 {
			t.Errorf("%s still serves the old certificate", n)
		}
	}
	if out, _ := os.ReadFile(hookOut); !strings.Contains(string(out), "jatos.test /etc/rpwizard/certs/jatos.test/") || !strings.Contains(string(out), " copied") {
		t.Errorf("hook output: %q", out)
	}
}

// TestBadACMEInputExit2: an unknown profile (checked against the CA's
// directory), a preset that needs EAB without it and a bad deploy hook
// are refused naming the key, exit 2, nothing touched.
func TestBadACMEInputExit2(t *testing.T) {
	ownHost(t)
	backend(t, "127.0.0.1:9000")
	ca, bundle := pebble(t, testpebble.Options{})
	loose := filepath.Join(t.TempDir(), "hook")
	os.WriteFile(loose, []byte("#!/bin/sh\n"), 0o777)
	os.Chmod(loose, 0o777)
	before := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard")
	for _, tc := range []struct{ name, answers, key string }{
		{"unknown profile", acmeAnswers("nginx", ca.DirectoryURL, bundle) + "  profile: weekly\n", "tls.profile"},
		{"preset without EAB", strings.Replace(acmeAnswers("nginx", ca.DirectoryURL, bundle), "  directory: "+ca.DirectoryURL+"\n", "  ca: zerossl\n", 1), "tls.eab_kid"},
		{"bad hook", acmeAnswers("nginx", ca.DirectoryURL, bundle) + "hooks:\n  deploy:\n    - [" + loose + "]\n", "hooks.deploy[0]"},
		{"relative hook", acmeAnswers("nginx", ca.DirectoryURL, bundle) + "hooks:\n  deploy:\n    - [deploy.sh]\n", "hooks.deploy[0]"},
	} {
		r := rpwizard(t, nil, "--answers", writeAnswers(t, tc.answers))
		if r.code != 2 || !strings.Contains(r.stderr, tc.key) {
			t.Errorf("%s: exit %d, want 2 naming %s\n%s", tc.name, r.code, tc.key, r.stderr)
		}
	}
	if ca.Orders() != 0 {
		t.Errorf("%d orders reached the CA", ca.Orders())
	}
	if after := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard"); after != before {
		t.Error("refused inputs changed files")
	}
}
