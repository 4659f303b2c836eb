package selftest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVerdictTable: which check results give which verdict and exit status.
func TestVerdictTable(t *testing.T) {
	pass := Check{Name: CheckTLSCert, Status: Pass}
	warn := Check{Name: CheckDNS, Status: Warn}
	skip := Check{Name: CheckIdleHold, Status: Skip}
	fail := Check{Name: CheckWebSocket, Status: Fail}
	down := Check{Name: CheckAppWebSocket, Status: Warn, AppDown: true}
	cut := Check{Name: CheckIdleHold, Status: Skip, Interrupted: true}
	cases := []struct {
		name        string
		checks      []Check
		interrupted bool
		verdict     Verdict
		exit        int
		label       string
	}{
		{"all pass", []Check{pass, pass}, false, VerdictOK, 0, "PASSED"},
		{"warnings and skips pass", []Check{pass, warn, skip}, false, VerdictOK, 0, "PASSED"},
		{"no checks", nil, false, VerdictOK, 0, "PASSED"},
		{"a failure is a proxy fault", []Check{pass, fail}, false, VerdictProxyFault, 1, "FAILED"},
		{"app down", []Check{pass, down, warn}, false, VerdictAppDown, 3, "APP DOWN"},
		{"app down and a failure: the proxy first", []Check{down, fail}, false, VerdictProxyFault, 1, "FAILED"},
		{"an app-down mark on a failure is a failure", []Check{{Status: Fail, AppDown: true}}, false, VerdictProxyFault, 1, "FAILED"},
		{"interrupted", []Check{pass, cut}, true, VerdictInterrupted, 130, "STOPPED"},
		{"interrupted beats a failure", []Check{fail, cut}, true, VerdictInterrupted, 130, "STOPPED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Report{Checks: tc.checks, Interrupted: tc.interrupted, App: "jupyterhub", Upstream: "127.0.0.1:8000"}
			if got := r.Verdict(); got != tc.verdict {
				t.Errorf("verdict %s, want %s", got, tc.verdict)
			}
			if got := r.ExitCode(); got != tc.exit {
				t.Errorf("exit %d, want %d", got, tc.exit)
			}
			if h := r.Headline(); !strings.HasPrefix(h, tc.label) {
				t.Errorf("headline %q, want it to start with %q", h, tc.label)
			}
			var b bytes.Buffer
			if err := r.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, tc.label+": ") {
				t.Errorf("last line %q, want it to start with %q", last, tc.label+": ")
			}
			for _, l := range lines {
				if n := len([]rune(l)); n > TextWidth {
					t.Errorf("line of %d runes: %q", n, l)
				}
			}
		})
	}
}

func TestAppDownHeadline(t *testing.T) {
	cases := []struct{ app, upstream, headline, advice string }{
		{"jupyterhub", "127.0.0.1:8000", "APP DOWN: the proxy works, but JupyterHub does not answer on 127.0.0.1:8000",
			"Start JupyterHub so that it listens on 127.0.0.1:8000"},
		{"jatos", "127.0.0.1:9000", "but JATOS does not answer on 127.0.0.1:9000", "./loader.sh start"},
		{"cryosparc", "127.0.0.1:61000", "but CryoSPARC does not answer on 127.0.0.1:61000", "cryosparcm start"},
		{"generic", "[::1]:8081", "but the app does not answer on [::1]:8081", "Start the app so that it listens on [::1]:8081"},
		{"generic", "", "but the app does not answer behind it", "proxy_pass / ProxyPass line"},
	}
	for _, tc := range cases {
		r := Report{App: tc.app, Upstream: tc.upstream, Checks: []Check{{Status: Warn, AppDown: true}}}
		if h := r.Headline(); !strings.Contains(h, tc.headline) {
			t.Errorf("%s: headline %q, want %q in it", tc.app, h, tc.headline)
		}
		if a := r.Advice(); !strings.Contains(a, tc.advice) || !strings.Contains(a, "will not work until") {
			t.Errorf("%s: advice %q, want %q in it", tc.app, a, tc.advice)
		}
	}
}

func TestWorst(t *testing.T) {
	cases := []struct {
		in   []Verdict
		want Verdict
	}{
		{nil, VerdictOK},
		{[]Verdict{VerdictOK, VerdictAppDown}, VerdictAppDown},
		{[]Verdict{VerdictAppDown, VerdictProxyFault, VerdictOK}, VerdictProxyFault},
		{[]Verdict{VerdictProxyFault, VerdictAppDown}, VerdictProxyFault},
		{[]Verdict{VerdictAppDown, VerdictUntestable}, VerdictUntestable},
		{[]Verdict{VerdictUntestable, VerdictProxyFault}, VerdictProxyFault},
		{[]Verdict{VerdictProxyFault, VerdictInterrupted}, VerdictInterrupted},
	}
	for _, tc := range cases {
		if got := Worst(tc.in...); got != tc.want {
			t.Errorf("Worst(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestInNetworks(t *testing.T) {
	cases := []struct {
		ip   string
		nets []string
		want bool
	}{
		{"127.0.0.1", []string{"127.0.0.0/8"}, true},
		{"127.0.0.1", []string{"10.0.0.0/8", "127.0.0.1"}, true},
		{"127.0.0.1", []string{"192.168.0.0/16"}, false},
		{"::1", []string{"127.0.0.0/8", "::1"}, true},
		{"::1", []string{"::/0"}, true},
		{"::1", []string{"127.0.0.0/8"}, false},
		{"", []string{"0.0.0.0/0"}, false},
	}
	for _, tc := range cases {
		if got := inNetworks(tc.ip, tc.nets); got != tc.want {
			t.Errorf("inNetworks(%q, %v) = %v, want %v", tc.ip, tc.nets, got, tc.want)
		}
	}
}

// TestResultStore: a stored result reads back with its time and verdict;
// an interrupted run is not stored; unsafe names and oversized or foreign
// files are refused.
func TestResultStore(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	rep := Report{Target: "hub.test, via 127.0.0.1", App: "jupyterhub", Upstream: "127.0.0.1:8000", Duration: 1500 * time.Millisecond,
		Checks: []Check{{Name: CheckAppWebSocket, Status: Warn, AppDown: true, Duration: 3 * time.Millisecond, Detail: "502", Cause: "down", Fix: "start it"}}}
	if _, err := LoadLast(dir, "hub.test"); !errors.Is(err, ErrNoResult) {
		t.Errorf("LoadLast before any result: %v, want ErrNoResult", err)
	}
	if err := SaveResult(dir, Result{Domain: "Hub.Test.", Time: at, Source: SourceSelfTest, Report: rep}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "selftest", "hub.test.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	got, err := LoadLast(dir, "hub.test")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Time.Equal(at) || got.Source != SourceSelfTest || got.Verdict() != VerdictAppDown ||
		got.Report.Upstream != "127.0.0.1:8000" || len(got.Report.Checks) != 1 || got.Report.Checks[0] != rep.Checks[0] ||
		got.Report.Duration != rep.Duration {
		t.Errorf("read back %+v, want %+v", got, rep)
	}
	raw, _ := os.ReadFile(path)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m["schema"] != float64(1) || m["verdict"] != "app_down" || m["exit_code"] != float64(3) || m["time"] != "2026-03-04T05:06:07Z" {
		t.Errorf("stored object: schema %v verdict %v exit_code %v time %v", m["schema"], m["verdict"], m["exit_code"], m["time"])
	}

	// An interrupted run leaves the last verdict in place.
	stopped := Report{Interrupted: true, Checks: []Check{{Name: CheckDNS, Status: Skip, Interrupted: true}}}
	if err := SaveResult(dir, Result{Domain: "hub.test", Time: at.Add(time.Hour), Report: stopped}); err != nil {
		t.Fatal(err)
	}
	if got, _ := LoadLast(dir, "hub.test"); !got.Time.Equal(at) {
		t.Errorf("an interrupted run replaced the stored result (time %s)", got.Time)
	}

	for _, bad := range []string{"../etc/passwd", "a/b", "", ".hidden", "a..b", "x y"} {
		if err := SaveResult(dir, Result{Domain: bad, Report: rep}); err == nil {
			t.Errorf("SaveResult(%q) accepted the name", bad)
		}
		if _, err := LoadLast(dir, bad); err == nil || errors.Is(err, ErrNoResult) {
			t.Errorf("LoadLast(%q): %v, want a refusal", bad, err)
		}
	}

	if err := os.WriteFile(filepath.Join(dir, "selftest", "big.test.json"), bytes.Repeat([]byte(" "), maxResultSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLast(dir, "big.test"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "selftest", "new.test.json"), []byte(`{"schema": 2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLast(dir, "new.test"); err == nil || !strings.Contains(err.Error(), "schema 2") {
		t.Errorf("schema 2: %v", err)
	}
}

// TestWriteAll: the --all outputs list every site, the worst verdict wins,
// and a site whose answers do not load is "not tested" with exit 2.
func TestWriteAll(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	ok := Result{Domain: "jatos.test", Time: at, Report: Report{Checks: []Check{{Name: CheckDNS, Status: Pass}}}}
	down := Result{Domain: "hub.test", Time: at, Report: Report{App: "jupyterhub", Upstream: "127.0.0.1:8000",
		Checks: []Check{{Name: CheckAppWebSocket, Status: Warn, AppDown: true}}}}
	broken := Result{Domain: "bad.test", Time: at, Err: "its saved answers do not load"}

	var js bytes.Buffer
	if err := WriteAllJSON(&js, at, []Result{ok, down}); err != nil {
		t.Fatal(err)
	}
	var all struct {
		Schema   int     `json:"schema"`
		Verdict  Verdict `json:"verdict"`
		ExitCode int     `json:"exit_code"`
		Sites    []struct {
			Domain   string          `json:"domain"`
			Verdict  Verdict         `json:"verdict"`
			ExitCode int             `json:"exit_code"`
			Time     time.Time       `json:"time"`
			Checks   json.RawMessage `json:"checks"`
		} `json:"sites"`
	}
	if err := json.Unmarshal(js.Bytes(), &all); err != nil {
		t.Fatal(err)
	}
	if all.Schema != 1 || all.Verdict != VerdictAppDown || all.ExitCode != 3 || len(all.Sites) != 2 {
		t.Fatalf("got %+v", all)
	}
	if s := all.Sites[1]; s.Domain != "hub.test" || s.Verdict != VerdictAppDown || s.ExitCode != 3 || !s.Time.Equal(at) || !bytes.Contains(s.Checks, []byte(CheckAppWebSocket)) {
		t.Errorf("site 2: %+v", s)
	}

	var txt bytes.Buffer
	if err := WriteAllText(&txt, []Result{ok, down, broken}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(txt.String(), "\n"), "\n")
	want := []string{"jatos.test  PASSED", "hub.test    APP DOWN: the proxy works, but JupyterHub", "bad.test    NOT TESTED: its saved answers", "3 sites; worst: NOT TESTED (exit status 2)"}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), txt.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: %q, want it to start with %q", i+1, lines[i], w)
		}
	}
	if got := WorstOf([]Result{ok, down, broken, {Report: Report{Checks: []Check{{Status: Fail}}}}}); got != VerdictProxyFault {
		t.Errorf("WorstOf with a proxy fault: %s", got)
	}
}
