package selftest

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runSite runs the self-test against a site with a bounded context.
func runSite(tb testing.TB, s *site) Report {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Run(ctx, s.Target)
}

// TestHealthy proves that a correct nginx or Apache config in front of a
// JATOS-like or JupyterHub-like app passes every check.
func TestHealthy(t *testing.T) {
	t.Parallel()
	for _, server := range []string{"nginx", "apache"} {
		for _, app := range []struct{ name, base string }{{"jatos", "/"}, {"jupyterhub", "/jhub/"}} {
			t.Run(server+"/"+app.name, func(t *testing.T) {
				t.Parallel()
				s := newSite(t, siteSpec{Server: server, App: app.name, BasePath: app.base})
				rep := runSite(t, s)
				for _, c := range rep.Checks {
					if c.Name == CheckAdmin && app.name != "jatos" && c.Status == Skip {
						continue // no admin paths for this app
					}
					if c.Status != Pass {
						t.Errorf("check %q: %s (%s)", c.Name, c.Status, c.Detail)
					}
				}
				if t.Failed() {
					t.Logf("report:\n%s\nerror log:\n%s", reportText(rep), s.errorLogTail())
				}
				if len(rep.Checks) != 15 {
					t.Errorf("got %d checks, want 15", len(rep.Checks))
				}
			})
		}
	}
}

// TestBroken runs one broken setup per row and asserts that the check that
// must catch it reports the specific diagnosis.
func TestBroken(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		spec   siteSpec
		target func(*Target)
		check  string
		status Status
		cause  string // substring of Cause (or Detail, see detail)
		detail string // substring of Detail
		also   map[string]Status
	}{
		{
			name:  "nginx missing Upgrade/Connection headers",
			spec:  siteSpec{Server: "nginx", App: "jatos", NoWSHeaders: true},
			check: CheckWebSocket, status: Fail,
			cause: "does not pass the Upgrade and Connection headers", detail: "Upgrade and Connection headers missing",
		},
		{
			name:  "nginx missing Upgrade: JATOS route answers 426",
			spec:  siteSpec{Server: "nginx", App: "jatos", NoWSHeaders: true},
			check: CheckAppWebSocket, status: Fail,
			cause: "dropped the WebSocket upgrade", detail: "426",
		},
		{
			// On Apache 2.4.47+ mod_proxy_http also handles ws:// (so the
			// vendor-style rewrite works without mod_proxy_wstunnel, see
			// TestApacheVendorRewriteWithoutWstunnel); what breaks
			// WebSockets there is a ProxyPass without upgrade=websocket.
			name:  "apache ProxyPass without upgrade=websocket",
			spec:  siteSpec{Server: "apache", App: "jatos", ApacheNoUpgrade: true},
			check: CheckWebSocket, status: Fail,
			cause: "does not pass the Upgrade and Connection headers", detail: "Upgrade and Connection headers missing",
		},
		{
			name:  "apache ProxyPass without upgrade=websocket: JATOS route answers 426",
			spec:  siteSpec{Server: "apache", App: "jatos", ApacheNoUpgrade: true},
			check: CheckAppWebSocket, status: Fail,
			cause: "dropped the WebSocket upgrade", detail: "426",
		},
		{
			name:  "backend down",
			spec:  siteSpec{Server: "nginx", App: "jatos", BackendDown: true},
			check: CheckAppWebSocket, status: Warn,
			cause: "(connection refused), so JATOS is not running there", detail: "502",
		},
		{
			name:   "proxy read timeout shorter than the hold",
			spec:   siteSpec{Server: "nginx", App: "generic", ReadTimeout: 1},
			target: func(t *Target) { t.Hold = 2 * time.Second },
			check:  CheckIdleHold, status: Fail,
			cause: "(proxy_read_timeout) is shorter than 2.0s", detail: "closed after",
		},
		{
			name:   "apache ProxyTimeout shorter than the hold",
			spec:   siteSpec{Server: "apache", App: "generic", ReadTimeout: 1},
			target: func(t *Target) { t.Hold = 2 * time.Second },
			check:  CheckIdleHold, status: Fail,
			cause: "(the larger of Timeout and ProxyTimeout) is shorter than 2.0s", detail: "closed after",
		},
		{
			// Apache does not apply LimitRequestBody to reverse-proxied
			// requests that carry a Content-Length (found by this test).
			name:  "apache LimitRequestBody alone does not limit proxied uploads",
			spec:  siteSpec{Server: "apache", ApacheLimitOnly: true},
			check: CheckUpload, status: Fail,
			cause: "does not enforce the 10 MiB upload limit", detail: "want 413",
		},
		{
			name:  "nginx buffers answers (proxy_buffering on)",
			spec:  siteSpec{Server: "nginx", App: "jupyterhub", BasePath: "/jhub/", Buffered: true},
			check: CheckStreaming, status: Fail,
			cause: "spawn progress sits at 0", detail: "held back and delivered at once",
		},
		{
			name:  "config without the probe location",
			spec:  siteSpec{Server: "nginx", App: "jatos", NoProbeLocation: true},
			check: CheckHeaders, status: Warn,
			cause: "has no probe location", detail: "no probe at /.well-known/rpwizard/probe",
			also: map[string]Status{CheckWebSocket: Skip, CheckIdleHold: Skip, CheckUpload: Skip,
				CheckAppWebSocket: Pass, CheckAdmin: Pass},
		},
		{
			name: "probe socket not reachable by the proxy",
			spec: siteSpec{Server: "nginx"},
			target: func(t *Target) {
				t.ProbeSocket = filepath.Join(filepath.Dir(t.ProbeSocket), "elsewhere.sock")
			},
			check: CheckHeaders, status: Fail,
			cause: "cannot reach the rpwizard probe", detail: "502",
			also: map[string]Status{CheckWebSocket: Skip},
		},
		{
			name:  "certificate for another name",
			spec:  siteSpec{Server: "nginx", Cert: "wrongname"},
			check: CheckTLSCert, status: Fail,
			cause: "not valid for app.test", detail: "certificate is for other.test",
		},
		{
			name:  "expired certificate",
			spec:  siteSpec{Server: "nginx", Cert: "expired"},
			check: CheckTLSCert, status: Fail,
			cause: "expired on", detail: "expired",
		},
		{
			// Debian 12's OpenSSL 3 still speaks TLS 1.0 on the server side
			// once nginx lowers the security level (ssl_ciphers
			// DEFAULT@SECLEVEL=0), so this is real nginx, with an RSA key.
			name:  "only TLS 1.0 offered",
			spec:  siteSpec{Server: "nginx", TLS10Only: true},
			check: CheckTLSVersion, status: Fail,
			cause: "only offers TLS 1.0", detail: "TLS 1.0 accepted",
		},
		{
			name:  "port 80 closed",
			spec:  siteSpec{Server: "nginx", NoPort80: true},
			check: CheckTCPHTTP, status: Fail,
			cause: "is closed", detail: "connection refused",
		},
		{
			name:  "upload limit too small",
			spec:  siteSpec{Server: "nginx", ProxyMaxBody: "1k"},
			check: CheckUpload, status: Fail,
			cause: "413 Request Entity Too Large", detail: "upload limit too small (413)",
		},
		{
			name:  "redirect loop (app never sees X-Forwarded-Proto)",
			spec:  siteSpec{Server: "nginx", NoXFP: true, BackendForceHTTPS: true},
			check: CheckRedirect, status: Fail,
			cause: "X-Forwarded-Proto", detail: "redirect loop",
		},
		{
			name:  "Host header not preserved (nginx inheritance trap)",
			spec:  siteSpec{Server: "nginx", HostTrap: true},
			check: CheckHeaders, status: Fail,
			cause: "a location that sets any proxy_set_header of its own loses all", detail: "Host not preserved",
		},
		{
			name:  "served certificate differs from the one on disk",
			spec:  siteSpec{Server: "nginx", RenewOnDisk: true},
			check: CheckCertFile, status: Fail,
			cause: "not reloaded", detail: "on disk",
		},
		{
			name:   "admin path served from outside the admin network",
			spec:   siteSpec{Server: "nginx", App: "jatos", AdminOpen: true},
			target: func(t *Target) { t.AdminPaths = []string{"/jatos"} },
			check:  CheckAdmin, status: Fail,
			cause: "reachable from an address outside the admin networks", detail: "want 403",
		},
		{
			name:   "admin path refused although loopback is an admin network",
			spec:   siteSpec{Server: "apache", App: "jatos"},
			target: func(t *Target) { t.AdminAllowedFromHere = true },
			check:  CheckAdmin, status: Fail,
			cause: "refuses an address that should be allowed", detail: "403",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSite(t, tc.spec)
			if tc.target != nil {
				tc.target(&s.Target)
			}
			rep := runSite(t, s)
			c, ok := rep.Find(tc.check)
			switch {
			case !ok:
				t.Errorf("no check %q in the report", tc.check)
			case c.Status != tc.status:
				t.Errorf("check %q: status %s, want %s (%s)", tc.check, c.Status, tc.status, c.Detail)
			case !strings.Contains(c.Cause, tc.cause):
				t.Errorf("check %q: cause %q does not mention %q", tc.check, c.Cause, tc.cause)
			case !strings.Contains(c.Detail, tc.detail):
				t.Errorf("check %q: detail %q does not mention %q", tc.check, c.Detail, tc.detail)
			case c.Fix == "":
				t.Errorf("check %q: no fix", tc.check)
			}
			for name, want := range tc.also {
				if c, _ := rep.Find(name); c.Status != want {
					t.Errorf("check %q: status %s, want %s (%s)", name, c.Status, want, c.Detail)
				}
			}
			if tc.status == Fail && rep.OK() {
				t.Errorf("report OK despite a failed check")
			}
			if t.Failed() {
				t.Logf("report:\n%s\nerror log:\n%s", reportText(rep), s.errorLogTail())
			} else if testing.Verbose() {
				t.Logf("report:\n%s", reportText(rep))
			}
		})
	}
}

// TestApacheVendorRewriteWithoutWstunnel documents that the JATOS docs'
// ws:// RewriteRules work on Apache 2.4.71 without mod_proxy_wstunnel:
// since 2.4.47 mod_proxy_http handles ws:// itself, so the AH01144 / 500
// diagnosis (unit-tested in TestDiagnoseHandshake) only concerns older
// Apache or a missing mod_proxy_http.
func TestApacheVendorRewriteWithoutWstunnel(t *testing.T) {
	t.Parallel()
	s := newSite(t, siteSpec{Server: "apache", App: "jatos", VendorNoWstunnel: true})
	rep := runSite(t, s)
	for _, name := range []string{CheckWebSocket, CheckIdleHold, CheckAppWebSocket} {
		if c, _ := rep.Find(name); c.Status != Pass {
			t.Errorf("check %q: %s (%s)", name, c.Status, c.Detail)
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s\nerror log:\n%s", reportText(rep), s.errorLogTail())
	}
}

// TestVerdict proves the verdict and exit status on real nginx and Apache:
// a working site is 0, an app that is down behind a working proxy is 3 with
// an APP DOWN headline that names the upstream, a proxy that drops the
// WebSocket upgrade is 1, also when the app is down as well.
func TestVerdict(t *testing.T) {
	t.Parallel()
	for _, server := range []string{"nginx", "apache"} {
		noUpgrade := siteSpec{Server: server, App: "jatos", NoWSHeaders: server == "nginx", ApacheNoUpgrade: server == "apache"}
		noUpgradeDown := noUpgrade
		noUpgradeDown.BackendDown = true
		cases := []struct {
			name     string
			spec     siteSpec
			verdict  Verdict
			headline []string // substrings of the headline
			text     []string // substrings of the text report
		}{
			{"healthy", siteSpec{Server: server, App: "jupyterhub", BasePath: "/jhub/"}, VerdictOK,
				[]string{"PASSED"}, []string{"PASSED: "}},
			{"app down", siteSpec{Server: server, App: "jupyterhub", BasePath: "/jhub/", BackendDown: true}, VerdictAppDown,
				[]string{"APP DOWN", "JupyterHub does not answer on 127.0.0.1:"},
				[]string{"The site will not work until JupyterHub runs", "Start JupyterHub so that it listens on 127.0.0.1:",
					"APP DOWN: "}},
			{"no WebSocket upgrade", noUpgrade, VerdictProxyFault,
				[]string{"FAILED: the proxy is at fault", CheckWebSocket}, []string{"FAILED: "}},
			{"no WebSocket upgrade and app down", noUpgradeDown, VerdictProxyFault,
				[]string{"FAILED: the proxy is at fault", CheckWebSocket}, []string{"FAILED: "}},
		}
		for _, tc := range cases {
			t.Run(server+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				s := newSite(t, tc.spec)
				rep := runSite(t, s)
				text := reportText(rep)
				if got := rep.Verdict(); got != tc.verdict {
					t.Errorf("verdict %s, want %s", got, tc.verdict)
				}
				if got, want := rep.ExitCode(), tc.verdict.ExitCode(); got != want {
					t.Errorf("exit code %d, want %d", got, want)
				}
				for _, w := range tc.headline {
					if !strings.Contains(rep.Headline(), w) {
						t.Errorf("headline %q does not say %q", rep.Headline(), w)
					}
				}
				for _, w := range tc.text {
					if !strings.Contains(text, w) {
						t.Errorf("report does not say %q", w)
					}
				}
				if tc.verdict == VerdictAppDown {
					// The self-test asked the upstream itself.
					for _, name := range []string{CheckRedirect, CheckAppWebSocket} {
						c, _ := rep.Find(name)
						if !c.AppDown || c.Status != Warn || !strings.Contains(c.Cause, "nothing listens on "+s.Target.Upstream+" (connection refused)") {
							t.Errorf("check %q: %s, app down %v, cause %q; want an app-down warning naming the refused upstream", name, c.Status, c.AppDown, c.Cause)
						}
					}
				}
				if t.Failed() {
					t.Logf("report:\n%s\nerror log:\n%s", text, s.errorLogTail())
				}
			})
		}
	}
}

// TestInterrupted stops a self-test in the middle of its idle hold, as
// Ctrl+C does: the cut-off checks are skipped as interrupted, not failed,
// the report says it was interrupted, and no text says "context canceled".
func TestInterrupted(t *testing.T) {
	t.Parallel()
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			t.Parallel()
			s := newSite(t, siteSpec{Server: server, App: "jatos"})
			s.Target.Hold = 20 * time.Second
			ctx, cancel := context.WithCancel(context.Background())
			timer := time.AfterFunc(2*time.Second, cancel)
			defer timer.Stop()
			defer cancel()
			rep := Run(ctx, s.Target)
			if rep.Duration > 15*time.Second {
				t.Errorf("the run took %s after the interrupt at 2s", rep.Duration)
			}
			if !rep.Interrupted || rep.Verdict() != VerdictInterrupted || rep.ExitCode() != ExitInterrupted {
				t.Errorf("interrupted %v, verdict %s, exit %d; want true, interrupted, %d",
					rep.Interrupted, rep.Verdict(), rep.ExitCode(), ExitInterrupted)
			}
			hold, _ := rep.Find(CheckIdleHold)
			if hold.Status != Skip || !hold.Interrupted || !strings.Contains(hold.Detail, "interrupted") {
				t.Errorf("idle hold: %s %q (interrupted %v), want skip, interrupted", hold.Status, hold.Detail, hold.Interrupted)
			}
			for _, c := range rep.Checks {
				if c.Status == Fail {
					t.Errorf("check %q failed after the interrupt: %s", c.Name, c.Detail)
				}
			}
			var js bytes.Buffer
			if err := rep.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			text := reportText(rep)
			for _, out := range []string{text, js.String(), rep.Headline(), rep.Advice()} {
				if strings.Contains(out, "context canceled") || strings.Contains(out, "deadline exceeded") {
					t.Errorf("a user reads %q:\n%s", "context canceled", out)
				}
			}
			if !strings.Contains(text, "STOPPED by you") {
				t.Errorf("report does not say it was stopped:\n%s", text)
			}
		})
	}
}
