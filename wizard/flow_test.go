package wizard

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"charm.land/huh/v2"

	"github.com/rpwizard/rpwizard/answers"
)

// scenario is one set of answers, given as keys for the full-screen
// forms and as lines for the accessible prompts.
type scenario struct {
	keys  map[string][]string // page id → keys
	lines []string            // accessible answers, one per prompt
	want  answers.Answers     // after Validate
}

// hubScenario touches most branches: an app with a base path, a server
// other than the default, aliases, a site restriction, ACME over DNS-01.
// Both modes start with a wrong domain, which validation refuses. The CA
// is "another ACME CA": ca, a real directory on loopback.
func hubScenario(ca *testCA) scenario {
	return scenario{
		keys: map[string][]string{
			"welcome":  {"enter"},
			"app":      {"down", "enter"},
			"server":   {"end", "enter"},
			"names":    {"bad..name", "enter", "ctrl+u", "hub.example.org", "enter", "www.hub.example.org", "enter"},
			"upstream": {"enter"},
			"basepath": {"jhub/", "enter"},
			"restrict": {"end", "enter"},
			"networks": {"ctrl+u", "10.0.0.0/8 192.168.1.7", "enter"},
			"tls":      {"enter"},
			"ca":       {"end", "enter"},
			"cadir":    {ca.URL, "enter", ca.Bundle, "enter"},
			"profile":  {"enter"},
			"acme":     {"down", "enter", "admin@example.org", "enter"},
			"dns":      {"enter"},
		},
		lines: []string{
			"2",                      // app: JupyterHub
			"2",                      // server: Apache
			"bad..name",              // domain, refused
			"hub.example.org",        // domain
			"www.hub.example.org",    // aliases
			"",                       // upstream: keep 127.0.0.1:8000
			"/jhub/",                 // base path
			"3",                      // restrict: whole site
			"10.0.0.0/8 192.168.1.7", // networks
			"",                       // certificate: keep ACME
			"8",                      // CA: another ACME CA
			ca.URL,                   // its directory
			ca.Bundle,                // the CA bundle for its server
			"",                       // profile: keep the CA's default
			"2",                      // challenge: DNS-01
			"admin@example.org",      // e-mail
			"1",                      // DNS provider: cloudflare
		},
		want: answers.Answers{
			App: "jupyterhub", Server: "apache", Domain: "hub.example.org", Aliases: []string{"www.hub.example.org"},
			Upstream: "127.0.0.1:8000", BasePath: "/jhub/",
			Restrict: answers.Restrict{SiteNetworks: []string{"10.0.0.0/8", "192.168.1.7/32"}},
			TLS:      answers.TLS{Mode: "acme", Challenge: "dns-01", DNSProvider: "cloudflare", Email: "admin@example.org", CABundle: ca.Bundle},
		},
	}
}

// walkForms answers the chain of pages in full-screen form mode, page by
// page, the way the model does; it returns the pages visited.
func walkForms(t *testing.T, s *State, keys map[string][]string) []string {
	t.Helper()
	f := newFlow()
	var visited []string
	for i := f.next(s, -1); i >= 0 && i < len(f.pages); i = f.done(s, i) {
		p := f.pages[i]
		if p.prepare != nil {
			if _, run := p.prepare(s); run != nil {
				run(t.Context())(s)
			}
		}
		b := &fields{}
		p.build(s, b)
		form := newForm(b.list, false, false, 0)
		formPump(t, form).keys(keys[p.id]...)
		if form.State != huh.StateCompleted {
			t.Fatalf("page %s: not completed after %q; errors %v\n%s", p.id, keys[p.id], form.Errors(), form.View())
		}
		visited = append(visited, p.id)
	}
	return visited
}

// comparable strips the defaults Validate fills in, for comparison.
func comparable(a *answers.Answers) answers.Answers {
	c := *a
	c.HSTS, c.SelfTest, c.MaxBodySize, c.TLS.Directory, c.TLS.KeyType, c.TLS.CA = nil, nil, "", "", "", ""
	return c
}

func TestFormsChainGivesValidAnswers(t *testing.T) {
	sc := hubScenario(newTestCA(t, leProfiles, false))
	b := newFakeBackend(t)
	cfg := testConfig(t, b)
	s := cfg.newState()
	visited := walkForms(t, s, sc.keys)
	want := []string{"welcome", "app", "server", "names", "upstream", "basepath", "restrict", "networks", "tls", "ca", "cadir", "profile", "acme", "dns"}
	if !reflect.DeepEqual(visited, want) {
		t.Errorf("pages = %v, want %v", visited, want)
	}
	a, err := s.Validate()
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if got := comparable(a); !reflect.DeepEqual(got, sc.want) {
		t.Errorf("answers:\n got %+v\nwant %+v", got, sc.want)
	}
}

// TestAccessibleAsksTheSameQuestions runs the same scenario as plain
// prompts with the answers piped in: the answers must be identical, and
// the pages asked the same, in the same order.
func TestAccessibleAsksTheSameQuestions(t *testing.T) {
	sc := hubScenario(newTestCA(t, leProfiles, false))
	b := newFakeBackend(t)
	cfg := testConfig(t, b)
	var out bytes.Buffer
	cfg.In = strings.NewReader(strings.Join(append(sc.lines, "3"), "\n") + "\n") // 3: quit at the review
	cfg.Out = &out
	cfg.Accessible = true
	o := Run(context.Background(), *cfg)
	if o.Status != Quit {
		t.Fatalf("status = %v, want Quit; transcript:\n%s", o.Status, out.String())
	}
	plans := b.plans()
	if len(plans) != 1 {
		t.Fatalf("planned %d times, want 1", len(plans))
	}
	if got := comparable(plans[0]); !reflect.DeepEqual(got, sc.want) {
		t.Errorf("answers:\n got %+v\nwant %+v", got, sc.want)
	}
	if b.applied != 0 {
		t.Error("applied although the user quit")
	}
	text := out.String()
	if strings.Contains(text, "\x1b") {
		t.Error("accessible output contains escape codes")
	}
	if !strings.Contains(text, "not a valid DNS name") {
		t.Error("the wrong domain was not refused")
	}
	var sections []string
	for _, m := range regexp.MustCompile(`(?m)^== (.+)$`).FindAllStringSubmatch(text, -1) {
		sections = append(sections, m[1])
		if strings.HasPrefix(m[1], "Review") {
			break
		}
	}
	f := newFlow()
	var want []string
	for _, id := range []string{"welcome", "app", "server", "names", "upstream", "basepath", "restrict", "networks", "tls", "ca", "cadir", "profile", "acme", "dns"} {
		want = append(want, f.pages[f.find(id)].title)
	}
	want = append(want, "Review the plan: 1 file change, 1 command")
	if !reflect.DeepEqual(sections, want) {
		t.Errorf("sections = %q\nwant %q", sections, want)
	}
}

func TestAccessibleInputEndsEarly(t *testing.T) {
	b := newFakeBackend(t)
	cfg := testConfig(t, b)
	var out bytes.Buffer
	cfg.In = strings.NewReader("1\n1\nwiz.test") // then nothing
	cfg.Out, cfg.Accessible = &out, true
	o := Run(context.Background(), *cfg)
	if o.Status != Aborted || !errors.Is(o.Err, ErrInputEnded) {
		t.Fatalf("outcome = %v %v, want Aborted with ErrInputEnded", o.Status, o.Err)
	}
	if len(b.plans()) != 0 {
		t.Error("planned although the questions were not all answered")
	}
}

func TestInlineValidation(t *testing.T) {
	cases := []struct {
		page  string
		keys  []string
		error string
	}{
		{"names", []string{"ctrl+u", "-bad-.example", "enter"}, "not a valid DNS name"},
		{"names", []string{"ctrl+u", "10.1.2.3", "enter"}, "an IP address"},
		{"names", []string{"ctrl+u", "https://jatos.example.org/jatos", "enter"}, "drop https:// and the path — type just jatos.example.org"},
		{"names", []string{"ctrl+u", "jatos.example.org", "enter", "www.example.org jatos.example.org:443", "enter"}, "jatos.example.org:443: a URL, not a name"},
		{"upstream", []string{"ctrl+u", "http://x:80", "enter"}, "not host:port"},
		{"upstream", []string{"ctrl+u", "127.0.0.1:99999", "enter"}, "port out of range"},
		{"basepath", []string{"ctrl+u", "jhub", "enter"}, "not a URL path"},
		{"networks", []string{"ctrl+u", "10.0.0.300/8", "enter"}, "not an IP network"},
		{"networks", []string{"ctrl+u", "enter"}, "type at least one network"},
		{"existing", []string{"/nonexistent/cert.pem", "enter"}, "file not found"},
	}
	for _, c := range cases {
		t.Run(c.page+"/"+c.error, func(t *testing.T) {
			b := newFakeBackend(t)
			s := testConfig(t, b).newState()
			s.App, s.Restrict, s.TLSMode = "jupyterhub", RestrictSite, "existing"
			f := newFlow()
			fb := &fields{}
			f.pages[f.find(c.page)].build(s, fb)
			form := newForm(fb.list, false, false, 0)
			formPump(t, form).keys(c.keys...)
			if form.State == huh.StateCompleted {
				t.Fatal("completed despite a bad answer")
			}
			if !strings.Contains(form.View(), c.error) {
				t.Errorf("view lacks %q:\n%s", c.error, form.View())
			}
		})
	}
}

// A wildcard is only possible with some certificate sources: the domain
// page lets it through, the certificate question refuses self-signed.
func TestWildcardJudgedAtCertificate(t *testing.T) {
	b := newFakeBackend(t)
	s := testConfig(t, b).newState()
	s.Domain = "*.apps.example.org"
	if err := s.problem(nil, "domain"); err != nil {
		t.Fatalf("domain page refuses a wildcard: %v", err)
	}
	f := newFlow()
	fb := &fields{}
	f.pages[f.find("tls")].build(s, fb)
	form := newForm(fb.list, false, false, 0)
	formPump(t, form).keys("end", "enter") // self-signed
	if form.State == huh.StateCompleted || !strings.Contains(form.View(), "wildcard") {
		t.Fatalf("self-signed accepted for a wildcard:\n%s", form.View())
	}
}

func TestProblemsSendUserToTheirPage(t *testing.T) {
	b := newFakeBackend(t)
	s := testConfig(t, b).newState()
	s.TLSMode = "existing"
	f := newFlow()
	err := &answers.Error{Problems: []*answers.FieldError{{Key: "tls.key_file", Msg: "file not found"}}}
	if got := f.pages[pageOfProblem(f, s, err)].id; got != "existing" {
		t.Errorf("tls.key_file → %s, want existing", got)
	}
	err = &answers.Error{Problems: []*answers.FieldError{{Key: "restrict.site_networks[1]", Msg: "x"}}}
	if got := f.pages[pageOfProblem(f, s, err)].id; got != "restrict" {
		t.Errorf("restrict.site_networks[1] → %s, want restrict", got)
	}
	err = &answers.Error{Problems: []*answers.FieldError{{Key: "aliases[0]", Msg: "x"}}}
	if got := f.pages[pageOfProblem(f, s, err)].id; got != "names" {
		t.Errorf("aliases[0] → %s, want names", got)
	}
}

// CryoSPARC may not be served without a barrier: "no restriction" is not
// offered, and the networks are asked.
func TestCryoSPARCNeedsBarrier(t *testing.T) {
	b := newFakeBackend(t)
	s := testConfig(t, b).newState()
	s.App = "cryosparc"
	afterApp(s)
	if s.Restrict != RestrictSite {
		t.Errorf("restrict = %s, want site", s.Restrict)
	}
	if s.Upstream != "127.0.0.1:61000" {
		t.Errorf("upstream = %s, want the CryoSPARC default", s.Upstream)
	}
	for _, c := range restrictChoices("cryosparc") {
		if c == RestrictNone {
			t.Error("no restriction offered for CryoSPARC")
		}
	}
}

// Missing DNS credentials: the user may pick another provider or quit.
func TestDNSCredentialsMissing(t *testing.T) {
	b := newFakeBackend(t)
	s := testConfig(t, b).newState()
	s.MissingEnv = func(p string) []string {
		if p == "cloudflare" {
			return []string{"CLOUDFLARE_DNS_API_TOKEN"}
		}
		return nil
	}
	s.TLSMode, s.Challenge, s.DNSProvider = "acme", "dns-01", "cloudflare"
	f := newFlow()
	i := f.find("dnsenv")
	if !f.pages[i].show(s) {
		t.Fatal("the credentials page is not shown")
	}
	fb := &fields{}
	f.pages[i].build(s, fb)
	form := newForm(fb.list, false, false, 0)
	p := formPump(t, form)
	if !strings.Contains(form.View(), "CLOUDFLARE_DNS_API_TOKEN") {
		t.Errorf("the missing variable is not named:\n%s", form.View())
	}
	p.keys("down", "enter") // "pick another provider" (the note is not focused)
	if form.State != huh.StateCompleted {
		t.Fatalf("not completed:\n%s", form.View())
	}
	if got := f.pages[f.done(s, i)].id; got != "dns" {
		t.Errorf("after 'another provider' → %s, want dns", got)
	}
	s.DNSEnv = EnvQuit
	if f.done(s, i) != -1 {
		t.Error("'quit' does not end the wizard")
	}
}

// TestJATOSAsksForParticipants: JATOS studies ask how many participants
// come at once, which becomes expected_websockets; a word is refused.
func TestJATOSAsksForParticipants(t *testing.T) {
	b := newFakeBackend(t)
	cfg := testConfig(t, b)
	s := cfg.newState()
	keys := map[string][]string{
		"welcome":  {"enter"},
		"app":      {"home", "enter"},
		"server":   {"home", "enter"},
		"names":    {"ctrl+u", "jatos.example.org", "enter", "enter"},
		"upstream": {"ctrl+u", "127.0.0.1:9000", "enter"},
		"basepath": {"enter"},
		"restrict": {"home", "enter"},
		"load":     {"many", "enter", "ctrl+u", "2500", "enter"},
		"tls":      {"end", "enter"},
	}
	visited := walkForms(t, s, keys)
	if !strings.Contains(strings.Join(visited, " "), "restrict load tls") {
		t.Errorf("pages = %v, want the participants question after the restriction", visited)
	}
	a, err := s.Validate()
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if a.App != "jatos" || a.ExpectedWebSockets != 2500 {
		t.Errorf("app %q, expected_websockets %d; want jatos, 2500", a.App, a.ExpectedWebSockets)
	}
	s.Concurrent = "many"
	_, err = s.Validate()
	if err == nil || !strings.Contains(err.Error(), "expected_websockets") || !strings.Contains(err.Error(), "not a number") || strings.Contains(err.Error(), "out of range") {
		t.Errorf("a word as the number of participants: %v, want \"not a number\" only", err)
	}
}

// TestAccessibleTranscript pipes the answers of a whole run — JATOS with
// its admin GUI restricted, applied and saved — and checks the
// transcript: every answer is echoed after its prompt, errors start on
// their own line, the review states the restriction, the self-test
// appears once.
func TestAccessibleTranscript(t *testing.T) {
	b := newFakeBackend(t)
	cfg := testConfig(t, b)
	cfg.Found.Subnets = nil // nothing to prefill the networks with
	var out bytes.Buffer
	lines := []string{
		"1",           // app: JATOS
		"1",           // server: nginx
		"wiz..test",   // domain: refused
		"wiz.test",    // domain
		"",            // other names: none
		"127.0.0.1:9", // upstream
		"",            // base path: keep /
		"2",           // restrict the admin GUI
		"",            // networks: refused, none given
		"192.168.0.0/16",
		"",  // participants: keep the limits
		"3", // self-signed
		"1", // review: apply
		"y", // save
		"",  // at the offered path
	}
	cfg.In = strings.NewReader(strings.Join(lines, "\n") + "\n")
	cfg.Out, cfg.Accessible = &out, true
	o := Run(context.Background(), *cfg)
	text := out.String()
	keepTranscript(t, text)
	if o.Status != Applied || o.SavedTo != cfg.SavePath {
		t.Fatalf("outcome %v, saved to %q; transcript:\n%s", o.Status, o.SavedTo, text)
	}
	inOrder(t, text,
		"Welcome", "this page reads none",
		"Enter a number between 1 and 4: 1\n",
		"Enter a number between 1 and 2: 1\n",
		"Domain name wiz..test\nnot a valid DNS name",
		"Domain name wiz.test\n",
		"Other names (optional) \n",
		"(host:port) [127.0.0.1:9000] 127.0.0.1:9\n",
		"URL path of the app [/] \n",
		"Enter a number between 1 and 3: 2\n",
		"Allowed networks \ntype at least one network",
		"Allowed networks 192.168.0.0/16\n",
		"Participants at the same time, at most \n",
		"Enter a number between 1 and 3: 3\n",
		"== Review the plan",
		"Access       /jatos only from 192.168.0.0/16",
		"Enter a number between 1 and 3: 1\n",
		"done: site config",
		"is served at https://wiz.test/ by nginx",
		"Saved to "+cfg.SavePath,
	)
	if n := strings.Count(text, "200 from the app"); n != 1 {
		t.Errorf("the self-test's checks appear %d times, want once:\n%s", n, text)
	}
	if a := b.plans()[0]; !reflect.DeepEqual(a.Restrict.AdminNetworks, []string{"192.168.0.0/16"}) {
		t.Errorf("admin networks %q", a.Restrict.AdminNetworks)
	}
}

// inOrder fails unless each of parts occurs in text after the one before.
func inOrder(t *testing.T, text string, parts ...string) {
	t.Helper()
	rest := text
	for _, p := range parts {
		i := strings.Index(rest, p)
		if i < 0 {
			t.Fatalf("the transcript lacks %q after the earlier parts; the rest:\n%s", p, rest)
		}
		rest = rest[i+len(p):]
	}
}

// keepTranscript keeps an accessible transcript beside the screens.
func keepTranscript(t *testing.T, text string) { keepScreen(t, "transcript", text) }

// The restriction's label names the admin GUI as the browser asks for
// it: under the base path.
func TestRestrictLabelHasBasePath(t *testing.T) {
	s := NewState(fakeHost(t), Findings{}, true, false)
	s.App, s.BasePath = "jupyterhub", "/jhub/"
	b := &fields{accessible: true}
	buildRestrict(s, b)
	var out bytes.Buffer
	form := newForm(b.list, true, true, 0).WithInput(strings.NewReader("\n")).WithOutput(&out)
	if err := form.Run(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Admin GUI (/jhub/hub/admin) only from some networks") {
		t.Errorf("labels:\n%s", out.String())
	}
}

func TestURLHost(t *testing.T) {
	for _, c := range []struct{ in, host string }{
		{"https://jatos.example.org/jatos", "jatos.example.org"},
		{"http://jatos.example.org", "jatos.example.org"},
		{"jatos.example.org/jatos/", "jatos.example.org"},
		{"https://user@hub.example.org:8443/hub?x=1", "hub.example.org"},
		{"jatos.example.org:443", "jatos.example.org"},
		{"jatos.example.org", ""},
		{"*.example.org", ""},
		{"https://", ""},
		{"", ""},
	} {
		h, ok := urlHost(c.in)
		if h != c.host || ok != (c.host != "") {
			t.Errorf("urlHost(%q) = %q, %v; want %q", c.in, h, ok, c.host)
		}
	}
}
