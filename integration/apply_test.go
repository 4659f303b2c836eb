package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/internal/testenv"
)

// appCase is one app profile with answers that suit it and the WebSocket
// paths its vendor uses.
type appCase struct {
	app, domain, upstream, extra string
	base                         string   // the base path the site lives under
	wsPaths                      []string // relative to base
}

var appCases = []appCase{
	{app: "jatos", domain: "jatos.test", upstream: "127.0.0.1:9000", base: "/",
		wsPaths: []string{"publix/2f1d8a62-0b0e-4a43-b7ba-5c2f1e0d9a11/batch/open", "publix/abc-123/group/join"}},
	{app: "jupyterhub", domain: "hub.test", upstream: "127.0.0.1:8000", base: "/jhub/", extra: "base_path: /jhub/\n",
		wsPaths: []string{"user/alice/api/kernels/1234/channels", "user/alice/terminals/websocket/1"}},
	{app: "cryosparc", domain: "cryo.test", upstream: "127.0.0.1:61000", base: "/",
		extra:   "restrict:\n  site_networks: [127.0.0.0/8, '::1']\n",
		wsPaths: []string{"websocket", "sockjs/123/abc/websocket"}},
	{app: "generic", domain: "app.test", upstream: "127.0.0.1:8081", base: "/", extra: "upstream: 127.0.0.1:8081\n",
		wsPaths: []string{"ws", "any/deep/path"}},
}

func (a appCase) answers(server string) string {
	return fmt.Sprintf("app: %s\nserver: %s\ndomain: %s\ntls:\n  mode: self-signed\n%s", a.app, server, a.domain, a.extra)
}

// TestApplyServesEveryApp applies each app profile on each server and
// checks real traffic: the backend sees HTTPS and the original Host, HTTP
// redirects to HTTPS, and WebSockets echo on the app's WebSocket paths.
func TestApplyServesEveryApp(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		for _, tc := range appCases {
			t.Run(server+"/"+tc.app, func(t *testing.T) {
				ownHost(t)
				backend(t, tc.upstream)
				mustApply(t, tc.answers(server))
				c := client(t, tc.domain)
				base := "https://" + tc.domain + tc.base

				e := echo(t, c, base+"some/page?x=1")
				if e.Headers["X-Forwarded-Proto"] != "https" {
					t.Errorf("backend saw X-Forwarded-Proto %q, want https", e.Headers["X-Forwarded-Proto"])
				}
				if e.Headers["Host"] != tc.domain {
					t.Errorf("backend saw Host %q, want %q", e.Headers["Host"], tc.domain)
				}
				if e.Headers["X-Forwarded-For"] == "" || e.Headers["X-Real-Ip"] == "" {
					t.Errorf("backend saw no client address: %v", e.Headers)
				}
				if !strings.HasPrefix(e.Path, tc.base+"some/page") {
					t.Errorf("backend saw path %q, want the prefix %q kept", e.Path, tc.base)
				}
				code, h := status(t, c, "http://"+tc.domain+tc.base+"x")
				if code != http.StatusMovedPermanently || h.Get("Location") != "https://"+tc.domain+tc.base+"x" {
					t.Errorf("http: %d Location %q, want 301 to https", code, h.Get("Location"))
				}
				if _, h := status(t, c, base); h.Get("Strict-Transport-Security") != "max-age=63072000" {
					t.Errorf("HSTS = %q", h.Get("Strict-Transport-Security"))
				}
				for _, p := range tc.wsPaths {
					wsEcho(t, c, "wss://"+tc.domain+tc.base+p)
				}
			})
		}
	}
}

// jatosSite takes the host, starts JATOS's stand-in on 127.0.0.1:9000 and
// applies a JATOS site on server (answers plus extra), returning a client
// for it.
func jatosSite(t *testing.T, server, extra string) *http.Client {
	t.Helper()
	ownHost(t)
	backend(t, "127.0.0.1:9000")
	mustApply(t, appCases[0].answers(server)+extra)
	return client(t, "jatos.test")
}

// TestJATOSLargeUpload sends 100 MB through each server to JATOS.
func TestJATOSLargeUpload(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			c := jatosSite(t, server, "")
			const size = 100 << 20
			resp, err := c.Post("https://jatos.test/publix/upload", "application/octet-stream", io.LimitReader(rand.Reader, size))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Contains(body, []byte(fmt.Sprintf(`"body_len":%d`, size))) {
				t.Fatalf("100 MB upload: %d %s", resp.StatusCode, body)
			}
		})
	}
}

// TestAdminRestriction: with admin networks that do not contain loopback,
// JATOS's GUI answers 403 while the study paths reach the backend.
func TestAdminRestriction(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			c := jatosSite(t, server, "restrict:\n  admin_networks: [192.168.0.0/16]\n")
			for _, p := range []string{"/jatos", "/jatos/admin", "/jatos/testWebSocket"} {
				if code, _ := status(t, c, "https://jatos.test"+p); code != http.StatusForbidden {
					t.Errorf("%s from loopback: %d, want 403", p, code)
				}
			}
			echo(t, c, "https://jatos.test/publix/123/start")
			wsEcho(t, c, "wss://jatos.test/publix/abc/batch/open")
			// The ACME challenge path stays open on port 80.
			os.MkdirAll("/var/lib/rpwizard/acme-webroot/.well-known/acme-challenge", 0o755)
			os.WriteFile("/var/lib/rpwizard/acme-webroot/.well-known/acme-challenge/tok", []byte("tok.key"), 0o644)
			if code, _ := status(t, c, "http://jatos.test/.well-known/acme-challenge/tok"); code != 200 {
				t.Errorf("challenge path: %d, want 200", code)
			}
		})
	}
}

// TestNginxSiteAccessLog: an nginx site logs to its own file in batches,
// not with a write per request, and a reopen (what logrotate sends) writes
// the batch out.
func TestNginxSiteAccessLog(t *testing.T) {
	ownHost(t)
	backend(t, "127.0.0.1:9000")
	start := time.Now()
	mustApply(t, appCases[0].answers("nginx"))
	const logFile = "/var/log/nginx/jatos.test.access.log"
	probe := []byte("GET /publix/access-log-probe HTTP/1.1")
	echo(t, client(t, "jatos.test"), "https://jatos.test/publix/access-log-probe")
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("the site's access log: %v", err)
	}
	// The flush timer (5 s) starts with the first buffered line, after start.
	if time.Since(start) < 4*time.Second && bytes.Contains(data, probe) {
		t.Errorf("%s has the request at once: the log is not buffered", logFile)
	}
	if out, err := exec.Command("nginx", "-s", "reopen").CombinedOutput(); err != nil {
		t.Fatalf("nginx -s reopen: %v\n%s", err, out)
	}
	for i := 0; ; i++ {
		data, _ = os.ReadFile(logFile)
		if bytes.Contains(data, probe) {
			break
		}
		if i == 100 {
			t.Fatalf("%s after a reopen has no %q:\n%s", logFile, probe, data)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if data, _ := os.ReadFile("/var/log/nginx/access.log"); bytes.Contains(data, probe) {
		t.Errorf("the request is in nginx's shared access.log too")
	}
}

// TestKeepAliveConnectionsLast: one client connection carries 300
// requests. Debian's Apache closes a connection after 100 requests
// (MaxKeepAliveRequests), and each new one costs a full TLS handshake.
func TestKeepAliveConnectionsLast(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			c := jatosSite(t, server, "")
			conns := 0
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				GotConn: func(i httptrace.GotConnInfo) {
					if !i.Reused {
						conns++
					}
				}})
			for i := 0; i < 300; i++ {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://jatos.test/publix/keep-alive", nil)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatalf("request %d: %v", i+1, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("request %d: %d", i+1, resp.StatusCode)
				}
			}
			if conns != 1 {
				t.Errorf("300 requests took %d connections, want 1", conns)
			}
		})
	}
}

// TestTwoSites applies two sites one after the other; both serve.
func TestTwoSites(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			ownHost(t)
			backend(t, "127.0.0.1:9000")
			backend(t, "127.0.0.1:8000")
			mustApply(t, appCases[0].answers(server))
			mustApply(t, appCases[1].answers(server))
			echo(t, client(t, "jatos.test"), "https://jatos.test/x")
			echo(t, client(t, "hub.test"), "https://hub.test/jhub/x")
			wsEcho(t, client(t, "jatos.test"), "wss://jatos.test/publix/a/batch/open")
			wsEcho(t, client(t, "hub.test"), "wss://hub.test/jhub/user/a/api/kernels/1/channels")
		})
	}
}

// TestSecondRunChangesNothing: the same answers again change no file and
// do not reload.
func TestSecondRunChangesNothing(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			ownHost(t)
			backend(t, "127.0.0.1:9000")
			mustApply(t, appCases[0].answers(server))
			before := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard")
			pids := serverPIDs(t)
			r := mustApply(t, appCases[0].answers(server))
			if !strings.Contains(r.stdout, "no changes") {
				t.Errorf("second run did not say \"no changes\":\n%s", r.stdout)
			}
			if after := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard"); after != before {
				t.Error("second run changed files")
			}
			if got := serverPIDs(t); got != pids {
				t.Errorf("second run reloaded the server: workers %s, then %s", pids, got)
			}
		})
	}
}

// serverPIDs lists the system server's master and its workers (a reload
// replaces the workers).
func serverPIDs(t *testing.T) string {
	t.Helper()
	for _, pidFile := range []string{"/run/nginx.pid", "/run/apache2/apache2.pid"} {
		data, err := os.ReadFile(pidFile)
		if err != nil {
			continue
		}
		master := strings.TrimSpace(string(data))
		out, _ := exec.Command("pgrep", "-d", ",", "-P", master).Output()
		return master + ":" + strings.TrimSpace(string(out))
	}
	t.Fatal("no server runs")
	return ""
}

// TestFailedConfigTestRollsBack: a broken site file that was already there
// makes the config test fail; rpwizard restores every file byte for byte,
// exits 1, and the old config keeps serving.
func TestFailedConfigTestRollsBack(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			ownHost(t)
			backend(t, "127.0.0.1:9000")
			backend(t, "127.0.0.1:8000")
			mustApply(t, appCases[0].answers(server))
			broken := "/etc/nginx/sites-enabled/broken"
			if server == "apache" {
				broken = "/etc/apache2/sites-enabled/broken.conf"
			}
			if err := os.WriteFile(broken, []byte("this is not a directive {\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			before := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard")
			r := apply(t, appCases[1].answers(server))
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout+r.stderr, "config test failed") || !strings.Contains(r.stderr, "rolled back") {
				t.Errorf("output does not explain the failed config test and the rollback:\n%s\n%s", r.stdout, r.stderr)
			}
			if after := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard"); after != before {
				t.Error("files differ after the rollback")
			}
			echo(t, client(t, "jatos.test"), "https://jatos.test/still/serving")
		})
	}
}

// TestSignalMidApplyRollsBack interrupts an apply after the site file is
// written (SIGTERM, as when an SSH session drops) and after a SIGKILL,
// whose journal the next run restores.
func TestSignalMidApplyRollsBack(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			ownHost(t)
			backend(t, "127.0.0.1:9000")
			backend(t, "127.0.0.1:8000")
			mustApply(t, appCases[0].answers("nginx"))
			before := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard")
			f := writeAnswers(t, appCases[1].answers("nginx"))
			cmd := exec.Command(binary, "--answers", f)
			cmd.Env = append(os.Environ(), "RPWIZARD_TEST_STALL_AFTER=enable")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return strings.Contains(out.String(), "enable") }, "the apply to reach the enable step")
			if _, err := os.Lstat("/etc/nginx/sites-enabled/rpwizard-hub.test.conf"); err != nil {
				t.Fatalf("the stalled run has not linked the site yet: %v", err)
			}
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			if sig == syscall.SIGKILL {
				// The next run finds the journal and restores first.
				r := rpwizard(t, nil, "--answers", writeAnswers(t, appCases[0].answers("nginx")))
				if r.code != 0 || !strings.Contains(r.stdout, "interrupted") {
					t.Fatalf("recovery run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
				}
			} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 || !strings.Contains(out.String(), "rolled back") {
				t.Fatalf("interrupted run: %v\n%s", err, out.String())
			}
			if after := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard"); after != before {
				t.Errorf("files differ after the interrupted run\n%s", out.String())
			}
			echo(t, client(t, "jatos.test"), "https://jatos.test/still/serving")
			if _, err := os.Lstat("/etc/nginx/sites-enabled/rpwizard-hub.test.conf"); err == nil {
				t.Error("the interrupted site is still enabled")
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestDryRunChangesNothing: --dry-run prints diffs and commands and
// touches nothing.
func TestDryRunChangesNothing(t *testing.T) {
	ownHost(t)
	// Start from a host without rpwizard's files or Apache's proxy modules
	// (ownHost restores them afterwards).
	os.RemoveAll("/etc/rpwizard")
	for _, m := range []string{"proxy", "proxy_http", "proxy_wstunnel"} {
		os.Remove("/etc/apache2/mods-enabled/" + m + ".load")
	}
	before := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard", "/var/lib/rpwizard")
	r := apply(t, appCases[0].answers("apache"), "--dry-run")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"+++ /etc/apache2/sites-available/rpwizard-jatos.test.conf", "a2enmod proxy_wstunnel", "apache2ctl configtest", "privkey.pem: made when applied, not shown"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run output lacks %q", want)
		}
	}
	if after := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard", "/var/lib/rpwizard"); after != before {
		t.Error("--dry-run changed files")
	}
	if pidAlive("/run/apache2/apache2.pid") {
		t.Error("--dry-run started Apache")
	}
}

// TestBadInputTouchesNothing: broken answers exit 2 with a message naming
// the key, and nothing under /etc changes.
func TestBadInputTouchesNothing(t *testing.T) {
	ownHost(t)
	dir := t.TempDir()
	worldReadable := filepath.Join(dir, "hmac")
	os.WriteFile(worldReadable, []byte("c2VjcmV0"), 0o644)
	cases := []struct{ name, yaml, key string }{
		{"domain with semicolon", "app: jatos\nserver: nginx\ndomain: 'a.test; include /etc/passwd'\ntls: {mode: self-signed}\n", "domain"},
		{"domain with newline", "app: jatos\nserver: nginx\ndomain: \"a.test\\nserver_name x\"\ntls: {mode: self-signed}\n", "domain"},
		{"domain with brace", "app: jatos\nserver: nginx\ndomain: 'a.test{'\ntls: {mode: self-signed}\n", "domain"},
		{"alias with space", "app: jatos\nserver: nginx\ndomain: a.test\naliases: ['b.test c.test']\ntls: {mode: self-signed}\n", "aliases[0]"},
		{"wildcard self-signed", "app: jatos\nserver: nginx\ndomain: '*.a.test'\ntls: {mode: self-signed}\n", "domain"},
		{"bad CIDR", "app: jatos\nserver: nginx\ndomain: a.test\nrestrict: {admin_networks: [192.168.0.0/33]}\ntls: {mode: self-signed}\n", "restrict.admin_networks[0]"},
		{"CIDR injection", "app: jatos\nserver: nginx\ndomain: a.test\nrestrict: {site_networks: ['10.0.0.0/8; allow all']}\ntls: {mode: self-signed}\n", "restrict.site_networks[0]"},
		{"port out of range", "app: jatos\nserver: nginx\ndomain: a.test\nupstream: 127.0.0.1:70000\ntls: {mode: self-signed}\n", "upstream"},
		{"upstream with scheme", "app: jatos\nserver: nginx\ndomain: a.test\nupstream: http://127.0.0.1:9000\ntls: {mode: self-signed}\n", "upstream"},
		{"unknown key", "app: jatos\nserver: nginx\ndomain: a.test\nupstrem: 127.0.0.1:9000\ntls: {mode: self-signed}\n", "upstrem"},
		{"wrong type", "app: jatos\nserver: nginx\ndomain: a.test\nhsts: maybe\ntls: {mode: self-signed}\n", "hsts"},
		{"unknown app", "app: wordpress\nserver: nginx\ndomain: a.test\ntls: {mode: self-signed}\n", "app"},
		{"missing domain", "app: jatos\nserver: nginx\ntls: {mode: self-signed}\n", "domain"},
		{"missing cert file", "app: jatos\nserver: nginx\ndomain: a.test\ntls: {mode: existing, cert_file: /nonexistent/cert.pem, key_file: /nonexistent/key.pem}\n", "tls.cert_file"},
		{"cert path injection", "app: jatos\nserver: nginx\ndomain: a.test\ntls: {mode: existing, cert_file: '/etc/ssl/x.pem;', key_file: /etc/ssl/x.key}\n", "tls.cert_file"},
		{"base path injection", "app: jupyterhub\nserver: nginx\ndomain: a.test\nbase_path: '/jhub/ { return 200; }'\ntls: {mode: self-signed}\n", "base_path"},
		{"cryosparc sub-path", "app: cryosparc\nserver: nginx\ndomain: a.test\nbase_path: /cryo/\nrestrict: {site_networks: [10.0.0.0/8]}\ntls: {mode: self-signed}\n", "base_path"},
		{"cryosparc without barrier", "app: cryosparc\nserver: nginx\ndomain: a.test\ntls: {mode: self-signed}\n", "restrict"},
		{"admin networks without admin GUI", "app: cryosparc\nserver: nginx\ndomain: a.test\nrestrict: {admin_networks: [10.0.0.0/8], site_networks: [10.0.0.0/8]}\ntls: {mode: self-signed}\n", "restrict.admin_networks"},
		{"bad max body", "app: jatos\nserver: nginx\ndomain: a.test\nmax_body_size: 5T\ntls: {mode: self-signed}\n", "max_body_size"},
		{"unknown tls mode", "app: jatos\nserver: nginx\ndomain: a.test\ntls: {mode: letsencrypt}\n", "tls.mode"},
		{"unknown challenge", "app: jatos\nserver: nginx\ndomain: a.test\ntls: {mode: acme, challenge: http-02}\n", "tls.challenge"},
		{"dns-01 without provider", "app: jatos\nserver: nginx\ndomain: a.test\ntls: {mode: acme, challenge: dns-01}\n", "tls.dns_provider"},
		{"http directory", "app: jatos\nserver: nginx\ndomain: a.test\ntls: {mode: acme, directory: 'http://ca.test/dir'}\n", "tls.directory"},
		{"world-readable EAB key", "app: jatos\nserver: nginx\ndomain: a.test\ntls: {mode: acme, eab_kid: kid1, eab_hmac_file: " + worldReadable + "}\n", "tls.eab_hmac_file"},
		{"unknown server", "app: jatos\nserver: caddy\ndomain: a.test\ntls: {mode: self-signed}\n", "server"},
		{"not YAML", "app: [jatos\n", ""},
	}
	before := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := writeAnswers(t, tc.yaml)
			r := rpwizard(t, nil, "--answers", f)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, f+":") {
				t.Errorf("message does not name the file:\n%s", r.stderr)
			}
			if tc.key != "" && !strings.Contains(r.stderr, ": "+tc.key) {
				t.Errorf("message does not name the key %q:\n%s", tc.key, r.stderr)
			}
		})
	}
	if after := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard"); after != before {
		t.Error("bad input changed files")
	}
}

// TestUndo puts back what the last run changed and reloads.
func TestUndo(t *testing.T) {
	ownHost(t)
	backend(t, "127.0.0.1:9000")
	backend(t, "127.0.0.1:8000")
	mustApply(t, appCases[0].answers("nginx"))
	before := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2")
	mustApply(t, appCases[1].answers("nginx"))
	r := rpwizard(t, nil, "undo", "--server", "nginx")
	if r.code != 0 {
		t.Fatalf("undo: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2"); after != before {
		t.Error("undo did not restore the files")
	}
	if _, err := os.Stat("/etc/rpwizard/certs/hub.test"); err == nil {
		t.Error("the undone site's certificate is still there")
	}
	echo(t, client(t, "jatos.test"), "https://jatos.test/x")
	if served(t, "hub.test")[0].Subject.CommonName == "hub.test" {
		t.Error("hub.test is still served after undo")
	}
}

// TestOptionsPassConfigTest applies the less common answers on both
// servers: each config must pass the real config test and serve.
func TestOptionsPassConfigTest(t *testing.T) {
	// The server's workers (www-data) read the file: it lives in a tree
	// that ownHost restores, written after the snapshot.
	htpasswd := "/etc/apache2/rpwizard-test.htpasswd"
	// "alice:secret" (apr1 hash made by openssl passwd -apr1).
	out, err := exec.Command("openssl", "passwd", "-apr1", "secret").Output()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, extra string }{
		{"aliases, ipv6 upstream, no hsts, no selftest", "aliases: [www.app.test, app2.test]\nupstream: '[::1]:8081'\nhsts: false\nselftest: false\n"},
		{"trusted proxies and site networks", "upstream: 127.0.0.1:8081\ntrusted_proxies: [10.0.0.0/8]\nrestrict:\n  site_networks: [127.0.0.0/8, '::1', 192.168.0.0/16]\n"},
		{"basic auth and admin paths", "upstream: 127.0.0.1:8081\nrestrict:\n  basic_auth_file: " + htpasswd + "\n  admin_paths: [/admin]\n  admin_networks: [10.0.0.0/8]\n"},
		{"client certificates", "upstream: 127.0.0.1:8081\nselftest: false\nrestrict:\n  client_ca_file: /etc/ssl/certs/ca-certificates.crt\n"},
		{"unlimited body", "upstream: 127.0.0.1:8081\nmax_body_size: '0'\n"},
	}
	for _, server := range []string{"nginx", "apache"} {
		for _, tc := range cases {
			t.Run(server+"/"+tc.name, func(t *testing.T) {
				ownHost(t)
				os.WriteFile(htpasswd, []byte("alice:"+strings.TrimSpace(string(out))+"\n"), 0o644)
				backend(t, "127.0.0.1:8081")
				backend(t, "[::1]:8081")
				mustApply(t, "app: generic\nserver: "+server+"\ndomain: app.test\ntls: {mode: self-signed}\n"+tc.extra)
				if strings.Contains(tc.name, "client certificates") {
					return // no client certificate to present here; the config test passed
				}
				c := client(t, "app.test")
				if strings.Contains(tc.name, "basic auth") {
					if code, _ := status(t, c, "https://app.test/"); code != http.StatusUnauthorized {
						t.Errorf("without credentials: %d, want 401", code)
					}
					req, _ := http.NewRequest("GET", "https://app.test/x", nil)
					req.SetBasicAuth("alice", "secret")
					resp, err := c.Do(req)
					if err != nil || resp.StatusCode != 200 {
						t.Fatalf("with credentials: %v %v", resp, err)
					}
					resp.Body.Close()
					return
				}
				echo(t, c, "https://app.test/x")
			})
		}
	}
}
