package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/internal/testenv"
)

// allReport is the part of `selftest --all --json` these tests read.
type allReport struct {
	Schema   int    `json:"schema"`
	Verdict  string `json:"verdict"`
	ExitCode int    `json:"exit_code"`
	Sites    []struct {
		Domain   string    `json:"domain"`
		Verdict  string    `json:"verdict"`
		ExitCode int       `json:"exit_code"`
		Time     time.Time `json:"time"`
		Headline string    `json:"headline"`
		Checks   []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
			Detail string `json:"detail"`
		} `json:"checks"`
	} `json:"sites"`
}

// storedResult is the part of /var/lib/rpwizard/selftest/DOMAIN.json these
// tests read.
type storedResult struct {
	Schema   int       `json:"schema"`
	Domain   string    `json:"domain"`
	Time     time.Time `json:"time"`
	Source   string    `json:"source"`
	Verdict  string    `json:"verdict"`
	ExitCode int       `json:"exit_code"`
}

func readStored(t *testing.T, domain string) storedResult {
	t.Helper()
	b, err := os.ReadFile("/var/lib/rpwizard/selftest/" + domain + ".json")
	if err != nil {
		t.Fatalf("no stored self-test result: %v", err)
	}
	var r storedResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("stored result: %v\n%s", err, b)
	}
	return r
}

func selfTestAll(t *testing.T, args ...string) (allReport, result) {
	t.Helper()
	r := rpwizard(t, nil, append([]string{"selftest", "--all", "--json", "--resolve", "127.0.0.1"}, args...)...)
	var rep allReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("selftest --all --json: exit %d, not JSON: %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	return rep, r
}

// siteVerdicts maps each listed domain to its verdict.
func siteVerdicts(rep allReport) map[string]string {
	m := map[string]string{}
	for _, s := range rep.Sites {
		m[s.Domain] = s.Verdict
	}
	return m
}

// breakWebSockets removes the WebSocket upgrade from the config rpwizard
// wrote (nginx: the Upgrade/Connection headers of the shared proxy
// snippet; Apache: upgrade=websocket on the site's ProxyPass lines),
// reloads the server and waits until WebSockets fail through it.
func breakWebSockets(t *testing.T, server, domain string) {
	t.Helper()
	l := host.Debian("/")
	file, from, to := "/etc/nginx/rpwizard/proxy.conf", "proxy_set_header Upgrade $rpwizard_upgrade;\nproxy_set_header Connection $rpwizard_connection;\n", ""
	reload, pidFile := []string{"nginx", "-s", "reload"}, l.NginxPIDFile
	if server == "apache" {
		file, from, to = "/etc/apache2/sites-available/rpwizard-"+domain+".conf", "upgrade=websocket ", ""
		reload, pidFile = []string{"apachectl", "graceful"}, l.ApachePIDFile
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), from) {
		t.Fatalf("%s does not contain %q:\n%s", file, from, b)
	}
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(string(b), from, to)), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Reload(t, pidFile, reload...)
	c := client(t, domain)
	waitFor(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		conn, _, err := websocket.Dial(ctx, "wss://"+domain+"/publix/x/batch/open", &websocket.DialOptions{HTTPClient: c})
		if err == nil {
			conn.CloseNow()
		}
		return err != nil
	}, "WebSockets to fail after the reload")
}

// forgetSites removes every rpwizard site from the owned host (ownHost puts
// them back afterwards), so that --all sees only the sites this test
// applies, whatever an earlier, killed run left behind.
func forgetSites(t *testing.T) {
	t.Helper()
	var paths []string
	for _, pattern := range []string{"/etc/rpwizard/sites/*.yaml", "/etc/nginx/sites-*/rpwizard-*", "/etc/apache2/sites-*/rpwizard-*"} {
		m, _ := filepath.Glob(pattern)
		paths = append(paths, m...)
	}
	for _, p := range append(paths, "/var/lib/rpwizard/selftest") {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSelfTestVerdict, on nginx and Apache: an apply while the app is down
// succeeds and says APP DOWN; `selftest` then exits 3 with the APP DOWN
// headline naming the upstream, and 0 once the app runs; `selftest --all
// --json` lists both sites and exits with the worst verdict: 0, then 3 when
// one app stops, then 1 when the proxy drops WebSocket upgrades. Every run
// stores its result.
func TestSelfTestVerdict(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			ownHost(t)
			forgetSites(t)
			backend(t, "127.0.0.1:9000") // JATOS's stand-in; JupyterHub's is not running yet
			r := mustApply(t, appCases[1].answers(server))
			if !strings.Contains(r.stdout, "APP DOWN: the proxy is set up, but the site will not work until JupyterHub answers on 127.0.0.1:8000") {
				t.Errorf("apply with JupyterHub down does not say so:\n%s", r.stdout)
			}
			if s := readStored(t, "hub.test"); s.Schema != 1 || s.Source != "apply" || s.Verdict != "app_down" || s.ExitCode != 3 ||
				time.Since(s.Time) > time.Minute {
				t.Errorf("stored after the apply: %+v", s)
			}

			hubAnswers := "/etc/rpwizard/sites/hub.test.yaml"
			r = rpwizard(t, nil, "selftest", "--answers", hubAnswers, "--resolve", "127.0.0.1", "--hold", "0")
			if r.code != 3 || !strings.Contains(r.stdout, "APP DOWN: the proxy works, but JupyterHub does not answer on 127.0.0.1:8000") ||
				!strings.Contains(r.stdout, "Start JupyterHub so that it listens on 127.0.0.1:8000") {
				t.Errorf("selftest with JupyterHub down: exit %d, want 3 and the APP DOWN headline\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			if s := readStored(t, "hub.test"); s.Source != "selftest" || s.Verdict != "app_down" {
				t.Errorf("stored after selftest: %+v", s)
			}

			hub := backend(t, "127.0.0.1:8000")
			r = rpwizard(t, nil, "selftest", "--answers", hubAnswers, "--resolve", "127.0.0.1", "--hold", "0")
			if r.code != 0 || !strings.Contains(r.stdout, "PASSED: ") {
				t.Errorf("selftest with JupyterHub up: exit %d, want 0\n%s\n%s", r.code, r.stdout, r.stderr)
			}

			mustApply(t, appCases[0].answers(server))
			rep, r := selfTestAll(t) // the default short idle hold
			if r.code != 0 || rep.Schema != 1 || rep.ExitCode != 0 || rep.Verdict != "ok" || len(rep.Sites) != 2 {
				t.Fatalf("--all with both apps up: exit %d, %+v\n%s", r.code, rep, r.stderr)
			}
			for _, s := range rep.Sites {
				if s.Verdict != "ok" || s.ExitCode != 0 || time.Since(s.Time) > time.Minute || len(s.Checks) != 15 {
					t.Errorf("site %s: %s, exit %d, time %s, %d checks", s.Domain, s.Verdict, s.ExitCode, s.Time, len(s.Checks))
				}
				for _, c := range s.Checks {
					if c.Name == "WebSocket idle hold" && (c.Status != "pass" || !strings.Contains(c.Detail, "idle for 5.0s")) {
						t.Errorf("site %s: idle hold %s %q, want the short 5 s hold", s.Domain, c.Status, c.Detail)
					}
				}
			}

			hub.Close()
			rep, r = selfTestAll(t, "--hold", "1s")
			if r.code != 3 || rep.ExitCode != 3 || rep.Verdict != "app_down" {
				t.Errorf("--all with JupyterHub down: exit %d (json %d, %s), want 3\n%s", r.code, rep.ExitCode, rep.Verdict, r.stdout)
			}
			if v := siteVerdicts(rep); v["jatos.test"] != "ok" || v["hub.test"] != "app_down" {
				t.Errorf("--all with JupyterHub down: %v", v)
			}
			for _, d := range []string{"jatos.test", "hub.test"} {
				if s := readStored(t, d); s.Source != "selftest --all" || time.Since(s.Time) > time.Minute {
					t.Errorf("stored for %s after --all: %+v", d, s)
				}
			}

			breakWebSockets(t, server, "jatos.test")
			r = rpwizard(t, nil, "selftest", "--all", "--resolve", "127.0.0.1", "--hold", "1s")
			lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
			// nginx's proxy header snippet is shared, so there both sites
			// lose the upgrade; on Apache only JATOS's site does.
			hubLine := "hub.test    APP DOWN"
			if server == "nginx" {
				hubLine = "hub.test    FAILED: the proxy is at fault"
			}
			if r.code != 1 || len(lines) != 3 || !strings.Contains(r.stdout, "jatos.test  FAILED: the proxy is at fault: WebSocket upgrade") ||
				!strings.Contains(r.stdout, hubLine) || !strings.Contains(lines[2], "worst: FAILED (exit status 1)") {
				t.Errorf("--all with JATOS's WebSockets broken and JupyterHub down: exit %d, want 1 and one line per site\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			if s := readStored(t, "jatos.test"); s.Verdict != "proxy_fault" || s.ExitCode != 1 {
				t.Errorf("stored for jatos.test: %+v", s)
			}
		})
	}
}

// TestSelfTestAllBadInput: --all with --answers is refused with exit 2.
func TestSelfTestAllBadInput(t *testing.T) {
	ownHost(t)
	r := rpwizard(t, nil, "selftest", "--all", "--answers", "/etc/rpwizard/sites/x.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, "--all") {
		t.Errorf("exit %d, want 2 naming --all\n%s", r.code, r.stderr)
	}
}
