package wizard

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/internal/testenv"
	"github.com/rpwizard/rpwizard/steps"
)

// startModel runs the full-screen model headlessly on a fake backend.
func startModel(t *testing.T, b *fakeBackend, edit func(*Config)) (*model, *pump) {
	t.Helper()
	cfg := testConfig(t, b)
	if edit != nil {
		edit(cfg)
	}
	m := newModel(context.Background(), cfg, &session{quit: make(chan struct{})})
	t.Cleanup(func() { close(m.sess.quit) })
	return m, modelPump(t, m)
}

// toReview answers every question for a generic app on wiz.test served
// by nginx with a self-signed certificate, checking that each screen fits.
func toReview(t *testing.T, m *model, p *pump) {
	t.Helper()
	steps := [][]string{
		{"enter"},                      // welcome
		{"end", "enter"},               // another web app
		{"home", "enter"},              // nginx
		{"wiz.test", "enter", "enter"}, // domain, no aliases
		{"127.0.0.1:9", "enter"},       // upstream
		{"enter"},                      // base path /
		{"home", "enter"},              // no restriction
		{"end", "enter"},               // self-signed
	}
	for _, k := range steps {
		fits(t, m.render(), 80, 24)
		p.keys(k...)
	}
	p.until("the review", 5*time.Second, func() bool { return m.phase == phaseReview })
}

// fits fails when a screen is wider or taller than the terminal.
func fits(t *testing.T, screen string, w, h int) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
	if len(lines) > h {
		t.Errorf("screen has %d lines, more than %d:\n%s", len(lines), h, screen)
	}
	for _, l := range lines {
		if ansi.StringWidth(l) > w {
			t.Errorf("line wider than %d: %q", w, ansi.Strip(l))
		}
	}
}

func plain(s string) string { return ansi.Strip(s) }

// keepScreen writes a screen, as text, where the integration tests keep
// theirs ($RPWIZARD_ARTIFACTS or artifacts/screens/ in the repository).
func keepScreen(t *testing.T, name, screen string) {
	root := os.Getenv("RPWIZARD_ARTIFACTS")
	if root == "" {
		root = filepath.Join("..", "artifacts", "screens")
	}
	dir := filepath.Join(root, t.Name())
	if err := os.MkdirAll(dir, 0o755); err == nil {
		os.WriteFile(filepath.Join(dir, name+".txt"), []byte(plain(screen)), 0o644)
	}
}

func TestModelAppliesAndSavesAnswers(t *testing.T) {
	b := newFakeBackend(t)
	m, p := startModel(t, b, nil)
	toReview(t, m, p)
	screen := plain(m.render())
	for _, want := range []string{"review the plan", "== site config", "rpwizard-wiz.test.conf", "+    server_name wiz.test;", "a apply", "q quit"} {
		if !strings.Contains(screen, want) {
			t.Errorf("review lacks %q:\n%s", want, screen)
		}
	}
	fits(t, m.render(), 80, 24)

	p.keys("a")
	p.until("the run to end", 5*time.Second, func() bool { return m.prog.finished })
	screen = plain(m.render())
	for _, want := range []string{"✓ site config", "✓ config test and reload", "✓ self-test", "✓ done", "lego: [INFO] working on site config"} {
		if !strings.Contains(screen, want) {
			t.Errorf("progress lacks %q:\n%s", want, screen)
		}
	}
	fits(t, m.render(), 80, 24)

	p.keys("enter")
	screen = plain(m.render())
	for _, want := range []string{"is served at https://wiz.test/ by nginx", "PASSED", "scroll the summary", "Save these answers"} {
		if !strings.Contains(screen, want) {
			t.Errorf("result lacks %q:\n%s", want, screen)
		}
	}
	for _, want := range []string{"self-signed, valid until", "previous files:", "to undo: sudo rpwizard undo --server nginx"} {
		if !strings.Contains(plain(m.resultText), want) {
			t.Errorf("summary lacks %q:\n%s", want, plain(m.resultText))
		}
	}
	fits(t, m.render(), 80, 24)

	p.keys("enter") // save: yes
	p.keys("enter") // at the offered path
	if !p.quit {
		t.Fatal("the wizard did not end after saving")
	}
	o := m.sess.outcome
	if o.Status != Applied || o.SavedTo != m.cfg.SavePath {
		t.Fatalf("outcome = %+v", o)
	}
	fi, err := os.Stat(o.SavedTo)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved file: %v, mode %v", err, fi.Mode())
	}
	a, err := answers.Load(o.SavedTo, b.host.Installed)
	if err != nil {
		t.Fatalf("the saved answers do not load: %v", err)
	}
	if !reflect.DeepEqual(a, b.plans()[0]) {
		t.Errorf("saved answers differ from the applied ones:\n%+v\n%+v", a, b.plans()[0])
	}
	if !strings.Contains(o.Summary, "is served at https://wiz.test/") || strings.Contains(o.Summary, "\x1b[3") {
		t.Errorf("summary for the terminal: %q", o.Summary)
	}
}

func TestModelCtrlCAtQuestionChangesNothing(t *testing.T) {
	b := newFakeBackend(t)
	m, p := startModel(t, b, nil)
	p.keys("enter", "enter", "enter") // welcome, app, server
	p.keys("ctrl+c")
	if !p.quit || m.sess.outcome.Status != Aborted {
		t.Fatalf("quit=%v outcome=%+v", p.quit, m.sess.outcome)
	}
	if len(b.plans()) != 0 || b.applied != 0 {
		t.Error("planned or applied after Ctrl+C")
	}
}

func TestModelQuitAtReviewChangesNothing(t *testing.T) {
	b := newFakeBackend(t)
	m, p := startModel(t, b, nil)
	toReview(t, m, p)
	p.keys("q")
	if !p.quit || m.sess.outcome.Status != Quit || b.applied != 0 {
		t.Fatalf("quit=%v outcome=%+v applied=%d", p.quit, m.sess.outcome, b.applied)
	}
}

func TestModelDryRunCannotApply(t *testing.T) {
	b := newFakeBackend(t)
	m, p := startModel(t, b, func(c *Config) { c.DryRun = true })
	toReview(t, m, p)
	if s := plain(m.render()); !strings.Contains(s, "dry run") || strings.Contains(s, "a apply") {
		t.Errorf("dry-run review footer:\n%s", s)
	}
	p.keys("a")
	if m.phase != phaseReview || b.applied != 0 {
		t.Fatal("applied in a dry run")
	}
}

// shift+tab on a page's first field goes back one question; "change an
// answer" at the review goes to that question and asks the rest again.
func TestModelBackAndChange(t *testing.T) {
	b := newFakeBackend(t)
	m, p := startModel(t, b, nil)
	p.keys("enter", "end", "enter", "home", "enter") // welcome, app, server
	if id := m.flow.pages[m.page].id; id != "names" {
		t.Fatalf("on %s, want names", id)
	}
	p.keys("shift+tab")
	if id := m.flow.pages[m.page].id; id != "server" {
		t.Fatalf("shift+tab went to %s, want server", id)
	}
	p.keys("enter", "wiz.test", "enter", "enter", "127.0.0.1:9", "enter", "enter", "home", "enter", "end", "enter")
	p.until("the review", 5*time.Second, func() bool { return m.phase == phaseReview })

	p.keys("b")
	if m.phase != phaseChange {
		t.Fatal("b does not offer to change an answer")
	}
	fits(t, m.render(), 80, 24)
	p.keys("down", "down", "down", "enter") // Nothing, App, Proxy server, Domain
	if id := m.flow.pages[m.page].id; id != "names" {
		t.Fatalf("changing the domain went to %s", id)
	}
	p.keys("ctrl+u", "wiz2.test", "enter", "enter", "enter", "enter", "enter", "enter")
	p.until("the review again", 5*time.Second, func() bool { return m.phase == phaseReview })
	plans := b.plans()
	if len(plans) != 2 || plans[1].Domain != "wiz2.test" || plans[1].Upstream != "127.0.0.1:9" {
		t.Fatalf("plans after the change: %d, last %+v", len(plans), plans[len(plans)-1])
	}
}

func TestModelFailedStepShowsItsLogAndRollback(t *testing.T) {
	b := newFakeBackend(t)
	b.fail = "config test and reload"
	m, p := startModel(t, b, nil)
	toReview(t, m, p)
	p.keys("a")
	p.until("the run to end", 5*time.Second, func() bool { return m.prog.finished })
	keepScreen(t, "progress-failed", m.render())
	screen := plain(m.render())
	for _, want := range []string{"✓ site config", "✗ config test and reload", "unknown directive \"proxy_pas\"", "configuration file /etc/nginx/nginx.conf test failed", "↺ rolled back", "✗ failed"} {
		if !strings.Contains(screen, want) {
			t.Errorf("progress lacks %q:\n%s", want, screen)
		}
	}
	fits(t, m.render(), 80, 24)
	if o := m.sess.outcome; o.Status != Failed || !errors.Is(o.Err, steps.ErrRolledBack) {
		t.Errorf("outcome = %+v", o)
	}
	p.keys("enter")
	keepScreen(t, "result-failed", m.render())
	if s := plain(m.render()); !strings.Contains(s, "Every change was rolled back") {
		t.Errorf("result:\n%s", s)
	}
}

func TestModelCtrlCDuringApplyRollsBack(t *testing.T) {
	for _, at := range []string{"site config", "self-test"} {
		t.Run(strings.ReplaceAll(at, " ", "-"), func(t *testing.T) { testCtrlCDuringApply(t, at) })
	}
}

// testCtrlCDuringApply presses Ctrl+C while the step at runs: the run is
// rolled back, and what the user reads says they stopped it — not that
// the step (or the proxy) failed, nor "context canceled".
func testCtrlCDuringApply(t *testing.T, at string) {
	b := newFakeBackend(t)
	b.block = true
	if at != "site config" {
		b.blockAt = at
	}
	m, p := startModel(t, b, nil)
	toReview(t, m, p)
	p.keys("a")
	p.until("the run to start", 5*time.Second, func() bool {
		select {
		case <-b.started:
			return true
		default:
			return false
		}
	})
	p.keys("ctrl+c")
	if p.quit {
		t.Fatal("Ctrl+C during apply quit instead of rolling back")
	}
	keepScreen(t, "progress-stopping", m.render())
	if s := plain(m.render()); !strings.Contains(s, "rolling back") {
		t.Errorf("no word of the rollback:\n%s", s)
	}
	p.until("the rollback", 5*time.Second, func() bool { return m.prog.finished })
	keepScreen(t, "progress-rolled-back", m.render())
	s := plain(m.render())
	for _, want := range []string{"↺ rolled back", "■ " + at, "stopped by you, every change rolled back"} {
		if !strings.Contains(s, want) {
			t.Errorf("progress lacks %q:\n%s", want, s)
		}
	}
	// The log pane shows the self-test's own lines as they came; the step
	// list and the footer must not blame anything.
	if strings.Contains(s, "context canceled") || strings.Contains(s, "✗") || strings.Contains(s, "failed after") {
		t.Errorf("the progress blames a step after a Ctrl+C:\n%s", s)
	}
	p.keys("enter")
	keepScreen(t, "result-stopped", m.render())
	s = plain(m.render())
	if first := strings.SplitN(s, "\n", 3)[1]; !strings.Contains(first, StoppedHeadline) {
		t.Errorf("the result's headline is %q, want %q:\n%s", first, StoppedHeadline, s)
	}
	noBlame(t, "result", plain(m.resultText))
	o := m.sess.outcome
	if o.Status != Stopped || !strings.HasPrefix(o.Summary, StoppedHeadline) {
		t.Errorf("outcome %v, summary %q", o.Status, o.Summary)
	}
	noBlame(t, "summary for the terminal", o.Summary)
}

// noBlame fails when text blames a step or the proxy for a stop, or
// shows Go's "context canceled".
func noBlame(t *testing.T, what, text string) {
	t.Helper()
	for _, bad := range []string{"context canceled", "Failed", "FAILED:", "✗"} {
		if strings.Contains(text, bad) {
			t.Errorf("%s says %q after a Ctrl+C:\n%s", what, bad, text)
		}
	}
}

// The screens follow window resizes: the review reflows to the new width.
func TestModelFollowsResizes(t *testing.T) {
	b := newFakeBackend(t)
	m, p := startModel(t, b, nil)
	toReview(t, m, p)
	p.send(tea.WindowSizeMsg{Width: 60, Height: 20})
	fits(t, m.render(), 60, 20)
	p.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	fits(t, m.render(), 120, 40)
	if m.review.Height() != 38 {
		t.Errorf("review height %d after resize to 40 lines", m.review.Height())
	}
}

// toReviewJATOS answers for JATOS on nginx at wiz.test with the admin GUI
// restricted to networks (typed over the found subnet).
func toReviewJATOS(t *testing.T, m *model, p *pump, networks string) {
	t.Helper()
	p.keys("enter", "home", "enter", "home", "enter", "wiz.test", "enter", "enter", "ctrl+u", "127.0.0.1:9", "enter", "enter")
	if id := m.flow.pages[m.page].id; id != "restrict" {
		t.Fatalf("on %s, want restrict", id)
	}
	p.keys("home", "down", "enter") // admin GUI only
	if id := m.flow.pages[m.page].id; id != "networks" {
		t.Fatalf("on %s, want networks", id)
	}
	p.keys("ctrl+u", networks, "enter")
	p.keys("enter")        // participants: keep the limits
	p.keys("end", "enter") // self-signed
	p.until("the review", 5*time.Second, func() bool { return m.phase == phaseReview })
}

// A restriction with no networks restricts nothing: Enter on an empty
// networks field is refused with a message, and nothing is planned.
func TestModelRestrictionNeedsANetwork(t *testing.T) {
	b := newFakeBackend(t)
	m, p := startModel(t, b, func(c *Config) { c.Found.Subnets = nil }) // nothing to prefill
	p.keys("enter", "home", "enter", "home", "enter", "wiz.test", "enter", "enter", "ctrl+u", "127.0.0.1:9", "enter", "enter")
	p.keys("home", "down", "enter") // admin GUI only
	if id := m.flow.pages[m.page].id; id != "networks" {
		t.Fatalf("on %s, want networks", id)
	}
	if m.s.Networks != "" {
		t.Fatalf("networks prefilled with %q", m.s.Networks)
	}
	p.keys("enter")
	screen := plain(m.render())
	keepScreen(t, "networks-empty", m.render())
	if id := m.flow.pages[m.page].id; id != "networks" {
		t.Fatalf("an empty networks answer went on to %s", id)
	}
	if !strings.Contains(screen, "type at least one network") {
		t.Errorf("no word why the empty answer is refused:\n%s", screen)
	}
	fits(t, m.render(), 80, 24)
	p.keys("10.0.0.0/8", "enter")
	if id := m.flow.pages[m.page].id; id != "load" {
		t.Fatalf("with a network, on %s, want load", id)
	}
	if len(b.plans()) != 0 {
		t.Error("planned before the questions were done")
	}
}

// The same refusal holds when the networks are emptied through "change
// an answer" or any other way around the page: Validate refuses it.
func TestStateRestrictionWithoutNetworksInvalid(t *testing.T) {
	s := NewState(fakeHost(t), Findings{}, false, false)
	s.App, s.Server, s.Domain, s.Upstream, s.TLSMode = "jatos", "nginx", "wiz.test", "127.0.0.1:9", "self-signed"
	s.Restrict = RestrictAdmin
	_, err := s.Validate()
	var ve *answers.Error
	if !errors.As(err, &ve) || ve.Field("restrict.admin_networks") == nil {
		t.Fatalf("Validate = %v, want a problem with the admin networks", err)
	}
	s.Restrict = RestrictNone
	if _, err := s.Validate(); err != nil {
		t.Fatalf("no restriction, no networks: %v", err)
	}
}

// The review opens with a summary that states the restriction in words,
// and warns when the admin's own address would be shut out.
func TestModelReviewSummaryStatesRestriction(t *testing.T) {
	b := newFakeBackend(t)
	b.adminFrom = netip.MustParseAddr("10.1.2.3")
	m, p := startModel(t, b, nil)
	toReviewJATOS(t, m, p, "192.168.0.0/16")
	keepScreen(t, "review-summary", m.render())
	screen := plain(m.render())
	for _, want := range []string{"JATOS at https://wiz.test/", "Server       nginx", "Upstream     127.0.0.1:9",
		"Access       /jatos only from 192.168.0.0/16", "the rest of the site: anyone",
		"Certificate  self-signed, made now", "config test, then start nginx",
		"! warning access: you are connected from 10.1.2.3", "403 Forbidden", "allow your network too (e.g. 10.1.2.0/24)"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the review's first screen lacks %q:\n%s", want, screen)
		}
	}
	fits(t, m.render(), 80, 24)
	if a := b.plans()[0]; !reflect.DeepEqual(a.Restrict.AdminNetworks, []string{"192.168.0.0/16"}) {
		t.Errorf("planned admin networks %q", a.Restrict.AdminNetworks)
	}

	// Allowed from where the admin is: no warning.
	b = newFakeBackend(t)
	b.adminFrom = netip.MustParseAddr("192.168.4.5")
	m, p = startModel(t, b, nil)
	toReviewJATOS(t, m, p, "192.168.0.0/16")
	if s := plain(m.render()); strings.Contains(s, "warning access") {
		t.Errorf("lockout warning although the admin's address is allowed:\n%s", s)
	}
}

// An existing certificate from an in-house CA: the wizard finds that no
// system root signed it and asks for the CA bundle before the review;
// a bundle of another CA is refused; the right one reaches the answers.
func TestModelInHouseCAAsksForBundle(t *testing.T) {
	dir := t.TempDir()
	ca := testenv.NewInHouseCA(t, dir, "wiz.test")
	other := testenv.NewInHouseCA(t, t.TempDir(), "wiz.test")
	b := newFakeBackend(t)
	m, p := startModel(t, b, nil)
	p.keys("enter", "end", "enter", "home", "enter", "wiz.test", "enter", "enter", "127.0.0.1:9", "enter", "enter", "home", "enter")
	p.keys("home", "down", "enter") // existing files
	p.keys(ca.CertFile, "enter", ca.KeyFile, "enter")
	if id := m.flow.pages[m.page].id; id != "cabundle" {
		t.Fatalf("on %s, want the CA bundle question", id)
	}
	keepScreen(t, "ca-bundle", m.render())
	screen := plain(m.render())
	for _, want := range []string{"issuer is not trusted", "Institute Test Root CA", "CA bundle (PEM) for the self-test"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the CA bundle page lacks %q:\n%s", want, screen)
		}
	}
	fits(t, m.render(), 80, 24)
	p.keys(other.CAFile, "enter")
	if m.phase != phaseAsk || !strings.Contains(plain(m.render()), "does not verify with this bundle") {
		t.Fatalf("another CA's bundle was not refused:\n%s", plain(m.render()))
	}
	p.keys("ctrl+u", ca.CAFile, "enter")
	p.until("the review", 5*time.Second, func() bool { return m.phase == phaseReview })
	if s := plain(m.render()); !strings.Contains(s, "the self-test trusts the CA in") || !strings.Contains(s, "/institute-ca.pem") {
		t.Errorf("the review does not say which CA the self-test trusts:\n%s", s)
	}
	if a := b.plans()[0]; a.TLS.Mode != "existing" || a.TLS.CABundle != ca.CAFile {
		t.Errorf("planned tls %+v", a.TLS)
	}
}

// The CA bundle is asked for an existing certificate that no system root
// signed, and for nothing else.
func TestStateCABundleAskedOnlyWhenUntrusted(t *testing.T) {
	ca := testenv.NewInHouseCA(t, t.TempDir(), "wiz.test")
	s := NewState(fakeHost(t), Findings{}, false, false)
	s.TLSMode, s.CertFile = "existing", ca.CertFile
	afterExisting(s)
	if !showCABundle(s) {
		t.Fatal("an in-house CA's certificate does not ask for a bundle")
	}
	if err := verifyChain(ca.CertFile, ca.CAFile); err != nil {
		t.Fatalf("the chain does not verify with its own CA: %v", err)
	}
	s.TLSMode = "self-signed"
	if showCABundle(s) {
		t.Error("the CA bundle is asked for a self-signed certificate")
	}
}

// The header counts the questions without a total, which would grow as
// answers open more pages (networks, the participants, the certificate
// files): each page is the next number, and nothing claims "of N".
func TestModelQuestionCounterIsStable(t *testing.T) {
	b := newFakeBackend(t)
	m, p := startModel(t, b, nil)
	steps := jatosSteps
	for i, k := range steps {
		head := strings.SplitN(plain(m.render()), "\n", 2)[0]
		want := fmt.Sprintf("question %d · %s", i+1, m.flow.pages[m.page].title)
		if !strings.Contains(head, want) || strings.Contains(head, " of ") {
			t.Errorf("page %d header %q, want %q and no total", i+1, head, want)
		}
		p.keys(k...)
	}
}

// jatosSteps answer the pages of a JATOS setup up to the certificate.
var jatosSteps = [][]string{
	{"enter"},                          // welcome
	{"home", "enter"},                  // JATOS: opens base path and participants
	{"home", "enter"},                  // nginx
	{"wiz.test", "enter", "enter"},     // domain
	{"ctrl+u", "127.0.0.1:9", "enter"}, // upstream
	{"enter"},                          // base path
	{"home", "down", "enter"},          // admin GUI only: opens networks
	{"ctrl+u", "10.0.0.0/8", "enter"},  // networks
	{"enter"},                          // participants
}

// Every page after the first shows shift+tab (back) in its help line,
// also where huh would not (a page's first field), and it works there.
func TestModelHelpLineShowsBack(t *testing.T) {
	b := newFakeBackend(t)
	m, p := startModel(t, b, nil)
	for i, k := range jatosSteps {
		screen := plain(m.render())
		if i > 0 && !strings.Contains(screen, "shift+tab back") {
			t.Errorf("page %s: no shift+tab in the help line:\n%s", m.flow.pages[m.page].id, screen)
		}
		if strings.Count(screen, "shift+tab back") > 1 {
			t.Errorf("page %s: shift+tab twice:\n%s", m.flow.pages[m.page].id, screen)
		}
		fits(t, m.render(), 80, 24)
		p.keys(k...)
	}
	page := m.page
	p.keys("shift+tab")
	if m.page == page {
		t.Error("shift+tab did not go back")
	}
}

// What stays in the terminal after the wizard is wrapped at words to the
// terminal's width: no line is wider, and commands stay whole.
func TestModelSummaryWrapsAtWords(t *testing.T) {
	b := newFakeBackend(t)
	m, p := startModel(t, b, nil)
	toReview(t, m, p)
	p.send(tea.WindowSizeMsg{Width: 50, Height: 24})
	p.keys("a")
	p.until("the run to end", 5*time.Second, func() bool { return m.prog.finished })
	o := m.sess.outcome
	for _, l := range strings.Split(o.Summary, "\n") {
		if w := ansi.StringWidth(l); w > 50 {
			t.Errorf("line of %d columns: %q", w, l)
		}
	}
	if !strings.Contains(o.Summary, "`sudo rpwizard --answers FILE`") {
		t.Errorf("the renewal command is cut:\n%s", o.Summary)
	}
}

func TestWrapWords(t *testing.T) {
	for _, c := range []struct {
		in    string
		width int
		want  string
	}{
		{"  renewal: run `sudo rpwizard --answers FILE` again", 30, "  renewal: run `sudo\n    rpwizard --answers FILE`\n    again"},
		{"short", 30, "short"},
		{"  " + strings.Repeat("x", 40), 20, "  " + strings.Repeat("x", 16) + "\n    " + strings.Repeat("x", 16) + "\n    xxxxxxxx"},
	} {
		if got := wrapWords(c.in, c.width); got != c.want {
			t.Errorf("wrapWords(%q, %d) =\n%s\nwant\n%s", c.in, c.width, got, c.want)
		}
	}
}
