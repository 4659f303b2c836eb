package wizard_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/internal/testenv"
)

// term is the real binary running in an 80×24 tmux window, on a tmux
// server of its own (so the environment is the test's).
type term struct {
	t      *testing.T
	socket string
	name   string
	shots  string
	n      int
}

// startTerm runs rpwizard with args in tmux; after it exits the pane
// shows RPWIZARD-EXIT=<status>.
func startTerm(t *testing.T, env []string, args ...string) *term {
	t.Helper()
	s := &term{t: t, socket: fmt.Sprintf("rpwizard-test-%d", os.Getpid()), name: "wiz", shots: artifacts(t)}
	cmdline := "env " + strings.Join(append(env, binary(t)), " ") + " " + strings.Join(args, " ") +
		"; echo RPWIZARD-EXIT=$?; sleep 600"
	s.tmux("kill-server") // a leftover of an aborted run
	if out, err := s.tmux("new-session", "-d", "-s", s.name, "-x", "80", "-y", "24", cmdline); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { s.tmux("kill-server") })
	return s
}

func (s *term) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	return string(out), err
}

// screen is the window's text.
func (s *term) screen() string {
	out, _ := s.tmux("capture-pane", "-p", "-t", s.name)
	return out
}

// escapes is the window with its colours and attributes.
func (s *term) escapes() string {
	out, _ := s.tmux("capture-pane", "-p", "-e", "-t", s.name)
	return out
}

// waitFor waits until the screen contains text, failing after timeout.
func (s *term) waitFor(text string, timeout time.Duration) string {
	s.t.Helper()
	return s.waitUntil(text, timeout, func(sc string) bool { return strings.Contains(sc, text) })
}

func (s *term) waitUntil(what string, timeout time.Duration, cond func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		sc := s.screen()
		if cond(sc) {
			return sc
		}
		if time.Now().After(deadline) {
			s.shot("timeout")
			s.t.Fatalf("timed out after %s waiting for %s; the screen:\n%s", timeout, what, sc)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// keys sends named keys (tmux names: Enter, Down, End, C-c…).
func (s *term) keys(keys ...string) {
	s.t.Helper()
	if out, err := s.tmux(append([]string{"send-keys", "-t", s.name}, keys...)...); err != nil {
		s.t.Fatalf("send-keys: %v\n%s", err, out)
	}
}

// text types literally.
func (s *term) text(str string) {
	s.t.Helper()
	if out, err := s.tmux("send-keys", "-t", s.name, "-l", str); err != nil {
		s.t.Fatalf("send-keys: %v\n%s", err, out)
	}
}

// shot keeps the screen as an artifact.
func (s *term) shot(name string) string {
	s.n++
	sc := s.screen()
	os.WriteFile(filepath.Join(s.shots, fmt.Sprintf("%02d-%s.txt", s.n, name)), []byte(sc), 0o644)
	return sc
}

// exit waits for the binary to end and returns its status.
func (s *term) exit(timeout time.Duration) int {
	s.t.Helper()
	sc := s.waitFor("RPWIZARD-EXIT=", timeout)
	m := regexp.MustCompile(`RPWIZARD-EXIT=(\d+)`).FindStringSubmatch(sc)
	n, _ := strconv.Atoi(m[1])
	return n
}

// focused reports whether the field titled title has the focus bar.
func focused(title string) func(string) bool {
	return func(sc string) bool {
		for _, l := range strings.Split(sc, "\n") {
			if strings.Contains(l, title) {
				return strings.HasPrefix(strings.TrimSpace(l), "┃")
			}
		}
		return false
	}
}

// answerQuestions walks the wizard to the review: another web app on
// nginx at wiz.test (alias www.wiz.test) proxying to upstream, no
// restriction, a self-signed certificate. Each screen is kept.
func answerQuestions(s *term, upstream string) {
	s.t.Helper()
	const w = 15 * time.Second
	toCertificate(s, upstream, "wiz.test")
	s.keys("End")
	s.waitUntil("self-signed chosen", w, func(sc string) bool { return strings.Contains(sc, "> Self-signed") })
	s.shot("certificate")
	s.keys("Enter")
	s.waitFor("review the plan", 60*time.Second)
	s.shot("review")
}

// toCertificate walks the wizard to the certificate question: another
// web app on nginx at domain (alias www.domain) proxying to upstream, no
// restriction. Each screen is kept.
func toCertificate(s *term, upstream, domain string) {
	s.t.Helper()
	const w = 15 * time.Second
	s.waitFor("Welcome", w)
	s.shot("welcome")
	s.keys("Enter")
	s.waitFor("Which app do you want", w)
	s.keys("End")
	s.waitUntil("the last app", w, func(sc string) bool { return strings.Contains(sc, "> Another web app") })
	s.shot("app")
	s.keys("Enter")
	s.waitFor("Which web server", w)
	s.keys("Home")
	s.waitUntil("nginx chosen", w, func(sc string) bool { return strings.Contains(sc, "> nginx") })
	s.shot("server")
	s.keys("Enter")
	s.waitFor("Domain name", w)
	s.text(strings.Replace(domain, ".", "..", 1))
	s.keys("Enter")
	s.waitFor("not a valid DNS name", w)
	s.shot("domain-invalid")
	s.keys("C-u")
	s.text(domain)
	s.keys("Enter")
	s.waitUntil("the aliases field", w, focused("Other names"))
	s.text("www." + domain)
	s.shot("domain")
	s.keys("Enter")
	s.waitFor("listen? (host:port)", w)
	s.keys("C-u")
	s.text(upstream)
	s.waitFor("✓ something answers on "+upstream, w)
	s.shot("upstream")
	s.keys("Enter")
	s.waitFor("URL path of the app", w)
	s.shot("base-path")
	s.keys("Enter")
	s.waitFor("Restrict access?", w)
	s.keys("Home")
	s.shot("restrict")
	s.keys("Enter")
	s.waitFor("Where does the certificate come from?", w)
}

// TestTmuxWizardAppliesSelfSigned answers every question of the real
// binary with keystrokes, applies on the real nginx, and then finds the
// site served over HTTPS, with WebSockets, and the answers saved.
func TestTmuxWizardAppliesSelfSigned(t *testing.T) {
	ownHost(t)
	b := backend(t)
	s := startTerm(t, nil)
	answerQuestions(s, b.Addr)
	if colour(s.escapes()) == "" {
		t.Error("no colour on the screen without NO_COLOR (is the NO_COLOR check blind?)")
	}
	review := s.scrollReview()
	for _, want := range []string{"rpwizard-wiz.test.conf", "server_name wiz.test www.wiz.test;", "a apply", "fullchain.pem"} {
		if !strings.Contains(review, want) {
			t.Errorf("the review lacks %q", want)
		}
	}
	s.keys("a")
	sc := s.waitUntil("the run to end", 3*time.Minute, func(sc string) bool {
		return strings.Contains(sc, "✓ done") || strings.Contains(sc, "✗ failed")
	})
	s.shot("progress")
	if !strings.Contains(sc, "✓ done") {
		t.Fatalf("the run failed:\n%s", sc)
	}
	s.keys("Enter")
	s.waitFor("Save these answers", 15*time.Second)
	sc = s.shot("result")
	if !strings.Contains(sc, "is served at https://wiz.test/ by nginx") {
		t.Errorf("result screen:\n%s", sc)
	}
	s.keys("PgDn")
	s.waitUntil("the summary to scroll", 5*time.Second, func(next string) bool { return next != sc })
	s.shot("result-scrolled")
	s.keys("Enter")
	s.waitFor("Save the answers to", 15*time.Second)
	s.shot("save-path")
	s.keys("Enter")
	if code := s.exit(15 * time.Second); code != 0 {
		t.Fatalf("exit status %d:\n%s", code, s.screen())
	}
	s.shot("final")
	checkSaved(t, "/etc/rpwizard/answers.yaml", "wiz.test")
	checkServed(t, "wiz.test", "www.wiz.test")
}

// scrollReview pages through the review to its end (keeping each page)
// and returns the text seen.
func (s *term) scrollReview() string {
	s.t.Helper()
	var all strings.Builder
	sc := s.screen()
	for i := 0; i < 30 && !strings.Contains(sc, "100%"); i++ {
		all.WriteString(sc)
		s.keys("PgDn")
		sc = s.waitUntil("the next page", 5*time.Second, func(next string) bool { return next != sc })
		s.shot("review-page")
	}
	all.WriteString(sc)
	return all.String()
}

// TestTmuxWizardQuitAtReview goes to the review and quits: /etc is as it
// was. It runs under NO_COLOR, and no colour reaches the terminal.
func TestTmuxWizardQuitAtReview(t *testing.T) {
	ownHost(t)
	b := backend(t)
	before := treeHash(t)
	s := startTerm(t, []string{"NO_COLOR=1"})
	answerQuestions(s, b.Addr)
	if c := colour(s.escapes()); c != "" {
		t.Errorf("colour %q on the screen under NO_COLOR", c)
	}
	s.keys("q")
	if code := s.exit(15 * time.Second); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if sc := s.shot("quit"); !strings.Contains(sc, "nothing was changed") {
		t.Errorf("no word that nothing changed:\n%s", sc)
	}
	if after := treeHash(t); after != before {
		t.Error("/etc changed although the user quit at the review")
	}
}

// TestTmuxWizardCtrlCAtQuestion: Ctrl+C at a question exits with
// nothing changed.
func TestTmuxWizardCtrlCAtQuestion(t *testing.T) {
	ownHost(t)
	before := treeHash(t)
	s := startTerm(t, nil)
	s.waitFor("Welcome", 15*time.Second)
	s.keys("Enter")
	s.waitFor("Which app do you want", 15*time.Second)
	s.keys("Enter")
	s.waitFor("Which web server", 15*time.Second)
	s.keys("Enter")
	s.waitFor("Domain name", 15*time.Second)
	s.text("wiz.test")
	s.keys("C-c")
	if code := s.exit(15 * time.Second); code != 130 {
		t.Errorf("exit status %d, want 130", code)
	}
	if sc := s.shot("ctrl-c"); !strings.Contains(sc, "nothing was changed") {
		t.Errorf("screen:\n%s", sc)
	}
	if after := treeHash(t); after != before {
		t.Error("/etc changed after Ctrl+C at a question")
	}
}

// colour returns the first escape sequence that sets a colour.
func colour(s string) string {
	for _, m := range regexp.MustCompile(`\x1b\[([0-9;:]*)m`).FindAllStringSubmatch(s, -1) {
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
			n, _ := strconv.Atoi(p)
			if (n >= 30 && n <= 38) || (n >= 40 && n <= 48) || (n >= 90 && n <= 97) || (n >= 100 && n <= 107) {
				return m[0]
			}
		}
	}
	return ""
}

// TestTmuxWizardInHouseCA serves an existing certificate from an
// in-house CA: the wizard, given --ca-bundle, asks about the CA before
// the review with the bundle filled in, the review says the self-test
// trusts it, and the run finishes on the real nginx.
func TestTmuxWizardInHouseCA(t *testing.T) {
	ownHost(t)
	b := backend(t)
	ca := testenv.NewInHouseCA(t, t.TempDir(), "intra.test")
	s := startTerm(t, nil, "--ca-bundle", ca.CAFile)
	const w = 15 * time.Second
	s.waitFor("Welcome", w)
	s.keys("Enter")
	s.waitFor("Which app do you want", w)
	s.keys("End")
	s.waitUntil("the last app", w, func(sc string) bool { return strings.Contains(sc, "> Another web app") })
	s.keys("Enter")
	s.waitFor("Which web server", w)
	s.keys("Home")
	s.waitUntil("nginx chosen", w, func(sc string) bool { return strings.Contains(sc, "> nginx") })
	s.keys("Enter")
	s.waitFor("Domain name", w)
	s.text("intra.test")
	s.keys("Enter")
	s.waitUntil("the aliases field", w, focused("Other names"))
	s.keys("Enter")
	s.waitFor("listen? (host:port)", w)
	s.keys("C-u")
	s.text(b.Addr)
	s.keys("Enter")
	s.waitFor("URL path of the app", w)
	s.keys("Enter")
	s.waitFor("Restrict access?", w)
	s.keys("Home", "Enter")
	s.waitFor("Where does the certificate come from?", w)
	s.keys("Home", "Down")
	s.waitUntil("existing files chosen", w, func(sc string) bool { return strings.Contains(sc, "> Existing certificate files") })
	s.keys("Enter")
	s.waitFor("Certificate file (PEM, full chain)", w)
	s.text(ca.CertFile)
	s.keys("Enter")
	s.waitUntil("the key field", w, focused("Private key file"))
	s.text(ca.KeyFile)
	s.keys("Enter")
	sc := s.waitFor("CA bundle (PEM) for the self-test", w)
	s.shot("ca-bundle")
	if !strings.Contains(sc, "Institute Test Root CA") || !strings.Contains(sc, "institute-ca.pem") {
		t.Errorf("the CA question names no issuer, or --ca-bundle is not filled in:\n%s", sc)
	}
	s.keys("Enter")
	sc = s.waitFor("review the plan", 60*time.Second)
	s.shot("review-summary")
	if !strings.Contains(sc, "the self-test trusts the CA in") || !strings.Contains(sc, "issued by Institute Test Root CA") {
		t.Errorf("the review summary does not state the certificate and its CA:\n%s", sc)
	}
	s.keys("a")
	sc = s.waitUntil("the run to end", 3*time.Minute, func(sc string) bool {
		return strings.Contains(sc, "✓ done") || strings.Contains(sc, "✗ failed")
	})
	s.shot("progress")
	if !strings.Contains(sc, "✓ done") {
		t.Fatalf("the run failed:\n%s", sc)
	}
	s.keys("Enter")
	s.waitFor("Save these answers", 15*time.Second)
	s.shot("result")
	s.keys("n") // don't save
	if code := s.exit(15 * time.Second); code != 0 {
		t.Fatalf("exit status %d:\n%s", code, s.screen())
	}
	c := testenv.ClientTrusting(t, ca.CAFile)
	resp, err := c.Get("https://intra.test/hello")
	if err != nil {
		t.Fatalf("GET https://intra.test/hello with the in-house CA trusted: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET https://intra.test/hello: %d", resp.StatusCode)
	}
}

// TestTmuxWizardCtrlCDuringApply presses Ctrl+C while the apply runs:
// every change is rolled back, the result and the last line say the user
// stopped it (not that a step failed), the status is 130 and /etc is as
// before.
func TestTmuxWizardCtrlCDuringApply(t *testing.T) {
	ownHost(t)
	b := backend(t)
	before := treeHash(t)
	s := startTerm(t, []string{"RPWIZARD_TEST_STALL_AFTER='config test and reload'"})
	answerQuestions(s, b.Addr)
	s.keys("a")
	s.waitFor("✓ config test and reload", 2*time.Minute)
	s.keys("C-c")
	sc := s.waitFor("every change rolled back", time.Minute)
	s.shot("ctrl-c-rolled-back")
	if strings.Contains(sc, "context canceled") || strings.Contains(sc, "✗") {
		t.Errorf("the progress blames a step:\n%s", sc)
	}
	s.keys("Enter")
	sc = s.waitFor("Save these answers", 15*time.Second)
	s.shot("ctrl-c-result")
	if !strings.Contains(sc, "↺ Stopped by you — every change rolled back") || strings.Contains(sc, "Failed") {
		t.Errorf("the result's headline:\n%s", sc)
	}
	s.keys("n") // don't save
	code := s.exit(30 * time.Second)
	sc = s.shot("ctrl-c-final")
	if code != 130 {
		t.Errorf("exit status %d, want 130", code)
	}
	for _, want := range []string{"↺ Stopped by you — every change rolled back", "rpwizard: stopped by you — every change rolled back."} {
		if !strings.Contains(sc, want) {
			t.Errorf("the terminal after exit lacks %q:\n%s", want, sc)
		}
	}
	if strings.Contains(sc, "context canceled") || strings.Contains(sc, "Failed") {
		t.Errorf("the terminal after exit blames a step:\n%s", sc)
	}
	if after := treeHash(t); after != before {
		t.Error("/etc differs after the rollback")
	}
}
