package wizard

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"charm.land/huh/v2"

	"github.com/rpwizard/rpwizard/acme"
	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/internal/testenv"
)

// testCA is a real ACME directory served over HTTPS on loopback by
// httptest, with the PEM file of its server certificate for
// tls.ca_bundle. Only the directory answers: the wizard reads nothing else.
type testCA struct {
	URL    string // the directory
	Bundle string // PEM file that makes its TLS certificate trusted
	srv    *httptest.Server
	hang   chan struct{} // when set, the directory answers only once it is closed
	fails  atomic.Int32  // the directory answers 503 this many more times
}

// leProfiles are Let's Encrypt's profiles as its directory lists them
// (descriptions are links), and one whose description gives its lifetime.
var leProfiles = map[string]string{
	"classic":    "https://letsencrypt.org/docs/profiles#classic",
	"shortlived": "https://letsencrypt.org/docs/profiles#shortlived",
	"tlsserver":  "https://letsencrypt.org/docs/profiles#tlsserver",
	"campus":     "Campus servers, 30 days",
}

// newTestCA serves a directory listing profiles (none when nil) and,
// with eab, meta.externalAccountRequired.
func newTestCA(t testing.TB, profiles map[string]string, eab bool) *testCA {
	t.Helper()
	ca := &testCA{}
	mux := http.NewServeMux()
	mux.HandleFunc("/directory", func(w http.ResponseWriter, r *http.Request) {
		if ca.fails.Add(-1) >= 0 {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		if ca.hang != nil {
			select {
			case <-ca.hang:
			case <-r.Context().Done():
				return
			}
		}
		base := ca.srv.URL
		meta := map[string]any{"termsOfService": base + "/terms", "externalAccountRequired": eab}
		if profiles != nil {
			meta["profiles"] = profiles
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"newNonce": base + "/nonce", "newAccount": base + "/account", "newOrder": base + "/order",
			"revokeCert": base + "/revoke", "keyChange": base + "/key-change", "meta": meta,
		})
	})
	ca.srv = httptest.NewUnstartedServer(mux)
	ca.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point of some tests
	ca.srv.StartTLS()
	t.Cleanup(ca.srv.Close)
	ca.URL = ca.srv.URL + "/directory"
	ca.Bundle = filepath.Join(t.TempDir(), "test-acme-ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.srv.Certificate().Raw})
	if err := os.WriteFile(ca.Bundle, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return ca
}

// closedURL is an https URL on a loopback port nobody listens on.
func closedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "https://" + addr + "/directory"
}

// envWith is a LookupEnv that knows only vars.
func envWith(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

// toCA answers the questions up to the CA page: another web app at a
// public name on nginx, no restriction, an ACME certificate.
func toCA(t *testing.T, m *model, p *pump) {
	t.Helper()
	for _, k := range [][]string{
		{"enter"},                             // welcome
		{"end", "enter"},                      // another web app
		{"home", "enter"},                     // nginx
		{"app.example.org", "enter", "enter"}, // domain, no aliases
		{"127.0.0.1:9", "enter"},              // upstream
		{"enter"},                             // base path /
		{"home", "enter"},                     // no restriction
		{"home", "enter"},                     // ACME
	} {
		p.keys(k...)
	}
	if id := m.flow.pages[m.page].id; id != "ca" {
		t.Fatalf("on %s, want the CA question", id)
	}
}

// onPage waits until the wizard asks page id (a page that asks the CA
// first shows a spinner meanwhile).
func onPage(t *testing.T, m *model, p *pump, id string) {
	t.Helper()
	p.until("page "+id, 10*time.Second, func() bool { return m.phase == phaseAsk && m.flow.pages[m.page].id == id })
}

// contains fails unless text has each of wants, read as words: the
// lines a field wraps its text into, and its focus bar, do not count.
func contains(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	words := flat(text)
	for _, w := range wants {
		if !strings.Contains(words, flat(w)) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

func flat(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "┃", " ")), " ")
}

const testHMAC = "c2VjcmV0LWhtYWMta2V5LW5ldmVyLXNob3du"

// A preset whose accounts have their own URL (HARICA): its hint, a bad
// URL refused inline, the profiles of its (real, loopback) directory with
// lifetimes in words, the EAB key id with the HMAC key from the
// environment; the review says it all in words, and the saved answers
// carry tls.ca, tls.directory, tls.profile and tls.eab_kid — never the
// HMAC key, which no screen shows either.
func TestModelPresetProfilesAndEAB(t *testing.T) {
	ca := newTestCA(t, leProfiles, false)
	b := newFakeBackend(t)
	m, p := startModel(t, b, func(c *Config) {
		c.LookupEnv = envWith(map[string]string{EABHMACEnv: testHMAC})
	})
	var screens []string
	shot := func(name string) string {
		fits(t, m.render(), 80, 24)
		keepScreen(t, name, m.render())
		screens = append(screens, m.render())
		return plain(m.render())
	}
	toCA(t, m, p)
	contains(t, "the CA page", shot("ca"), "Which certificate authority (ACME CA)?", "> Let's Encrypt", "no account needed",
		"GÉANT TCS via HARICA (needs your account's URL and an EAB key)", "Another ACME CA")
	p.keys("down", "down", "down", "down", "down", "down")
	contains(t, "the CA page on HARICA", shot("ca-harica"), "> GÉANT TCS via HARICA", "validated need no challenge")
	p.keys("enter")
	if id := m.flow.pages[m.page].id; id != "cadir" {
		t.Fatalf("on %s, want the directory URL", id)
	}
	p.keys("http://acme.harica.example/dir", "enter")
	contains(t, "a bad URL", shot("cadir-invalid"), "GÉANT TCS via HARICA: your account's ACME directory URL", "cm.harica.gr",
		"ACME directory URL “http://acme.harica.example/dir”: not an ACME directory URL")
	if id := m.flow.pages[m.page].id; id != "cadir" {
		t.Fatalf("a bad URL went on to %s", id)
	}
	p.keys("ctrl+u", ca.URL, "enter", ca.Bundle, "enter")
	onPage(t, m, p, "profile")
	contains(t, "the profiles", shot("profile"), "Which certificate profile? (GÉANT TCS via HARICA lists 4 profiles)",
		"> The CA's default", "campus: 30 days", "classic: 90 days", "shortlived: 6 days, renewed every 2–4 days", "tlsserver: 45 days")
	p.keys("down", "down", "down")
	contains(t, "the shortlived profile", shot("profile-shortlived"), "> shortlived", "Valid only 6 days", "every 4 hours")
	p.keys("enter")
	onPage(t, m, p, "eab")
	contains(t, "the EAB page", shot("eab"), "External account binding (GÉANT TCS via HARICA)", "never asks for it here",
		"✓ RPWIZARD_EAB_HMAC is set in the environment (its value is not shown)", "EAB key id")
	p.keys("enter")
	contains(t, "an empty key id", plain(m.render()), "required by GÉANT TCS via HARICA")
	p.keys("kid-123", "enter", "enter")
	onPage(t, m, p, "acme")
	contains(t, "the challenge page", shot("challenge"), "How should GÉANT TCS via HARICA check the domain?", "validated at GÉANT TCS via HARICA need neither")
	p.keys("enter", "enter")
	p.until("the review", 5*time.Second, func() bool { return m.phase == phaseReview })
	contains(t, "the review", shot("review"), "Certificate  GÉANT TCS via HARICA (ACME), asked for during the apply",
		"directory "+ca.URL, "profile shortlived: 6 days, renewed every 2–4 days", "the domain checked by HTTP-01 (port 80)",
		"EAB key id kid-123; HMAC key from RPWIZARD_EAB_HMAC (not shown)", "the CA's server trusted with")

	p.keys("a")
	p.until("the run to end", 5*time.Second, func() bool { return m.prog.finished })
	p.keys("enter") // the result
	contains(t, "the result", plain(m.resultText), "from GÉANT TCS via HARICA, profile shortlived: 6 days, renewed every 2–4 days")
	p.keys("enter", "enter") // save: yes, at the offered path
	o := m.sess.outcome
	if o.SavedTo == "" {
		t.Fatalf("not saved: %+v", o)
	}
	data, err := os.ReadFile(o.SavedTo)
	if err != nil {
		t.Fatal(err)
	}
	a, err := answers.Load(o.SavedTo, b.host.Installed)
	if err != nil {
		t.Fatalf("the saved answers do not load: %v", err)
	}
	// The plan's own check of the profile (acme.CheckProfile, as steps.Plan
	// runs it) accepts what the wizard offered, against the same directory.
	if err := acme.CheckProfile(t.Context(), acme.Request{Directory: a.TLS.Directory, CABundle: a.TLS.CABundle, Profile: a.TLS.Profile}); err != nil {
		t.Errorf("the saved profile is refused by the plan's check: %v", err)
	}
	want := answers.TLS{Mode: "acme", CA: "harica", Directory: ca.URL, CABundle: ca.Bundle, Profile: "shortlived", EABKID: "kid-123", Challenge: "http-01", KeyType: "ec256"}
	if !reflect.DeepEqual(a.TLS, want) {
		t.Errorf("saved tls:\n got %+v\nwant %+v", a.TLS, want)
	}
	for _, text := range append(screens, string(data), o.Summary, m.resultText, m.reviewText) {
		if strings.Contains(text, testHMAC) {
			t.Fatalf("the HMAC key is shown or saved:\n%s", text)
		}
	}
}

// toCustomProfile chooses another ACME CA at url (with bundle, if any)
// and waits for the profile page.
func toCustomProfile(t *testing.T, m *model, p *pump, url, bundle string) {
	t.Helper()
	toCA(t, m, p)
	p.keys("end", "enter", url, "enter")
	if bundle != "" {
		p.keys(bundle)
	}
	p.keys("enter")
}

// The CA cannot be asked: the wizard says why, never hangs (a CA that
// does not answer is given up after the timeout, with a spinner
// meanwhile), and lets the user go on with the CA's default, type a
// profile, or fix what was wrong and ask again.
func TestModelUnreachableCA(t *testing.T) {
	hanging := newTestCA(t, leProfiles, false)
	hanging.hang = make(chan struct{})
	t.Cleanup(func() { close(hanging.hang) })
	untrusted := newTestCA(t, leProfiles, false)
	for _, c := range []struct {
		name     string
		url      string
		bundle   string
		why      string
		then     []string // keys on the unreachable page
		profile  string   // in the planned answers
		spinning bool     // the spinner is seen while the CA is asked
	}{
		{name: "refused", url: closedURL(t), why: "connection refused", then: []string{"enter", "down", "enter", "tlsserver", "enter"}, profile: "tlsserver"},
		{name: "hangs", url: hanging.URL, bundle: hanging.Bundle, why: "No answer within 500ms", then: []string{"enter", "enter"}, spinning: true},
		{name: "untrusted", url: untrusted.URL, why: "signed by a root this host does not trust", then: []string{"shift+tab", "enter", untrusted.Bundle, "enter"}, profile: "classic"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newFakeBackend(t)
			m, p := startModel(t, b, func(cfg *Config) { cfg.CATimeout = 500 * time.Millisecond })
			toCustomProfile(t, m, p, c.url, c.bundle)
			if c.spinning {
				if m.phase != phaseLoading {
					t.Fatalf("phase %v on %s while the CA is asked, want the spinner:\n%s", m.phase, m.flow.pages[m.page].id, plain(m.render()))
				}
				contains(t, "the waiting screen", plain(m.render()), "asking your ACME CA at "+c.url+" for its certificate profiles…", "gives up after 500ms")
				keepScreen(t, "asking", m.render())
			}
			start := time.Now()
			onPage(t, m, p, "profile")
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("the question to the CA took %s", d)
			}
			keepScreen(t, "unreachable", m.render())
			fits(t, m.render(), 80, 24)
			contains(t, "the unreachable page", plain(m.render()), "✗ your ACME CA did not answer", c.why,
				"Outbound HTTP proxy to the CA (optional)", "Go on with the CA's default profile", "Type a profile name", "Ask the CA again")
			p.keys(c.then...)
			if c.name == "untrusted" {
				onPage(t, m, p, "profile")
				contains(t, "the profiles after the fix", plain(m.render()), "Which certificate profile?", "classic: 90 days")
				p.keys("down", "down", "enter")
			}
			onPage(t, m, p, "acme")
			p.keys("enter", "enter")
			p.until("the review", 5*time.Second, func() bool { return m.phase == phaseReview })
			a := b.plans()[0]
			if a.TLS.Profile != c.profile || a.TLS.Directory != c.url {
				t.Errorf("planned directory %q profile %q, want %q %q", a.TLS.Directory, a.TLS.Profile, c.url, c.profile)
			}
		})
	}
}

// A directory URL the answers validation refuses is refused under the
// field, which the line names, in the wizard's words (no answers keys).
func TestCADirectoryRefusedInline(t *testing.T) {
	for _, c := range []struct {
		ca, url, want string
	}{
		{CACustom, "http://acme.example.org/directory", "ACME directory URL “http://acme.example.org/directory”: not an ACME directory URL"},
		{CACustom, "acme.example.org/directory", "ACME directory URL “acme.example.org/directory”: not an ACME directory URL: it starts with https:// — e.g. https://acme.example.org/directory"},
		{CACustom, "", "ACME directory URL: needed: the URL of the CA's ACME directory"},
		{"sectigo-geant", "https://acme.example.org/v2/GEANTOV", "not a directory URL of GÉANT TCS via Sectigo (the CA sectigo-geant) — https://acme.sectigo.com/…"},
		{"harica", "", "required with the CA harica: every account of this CA has its own directory URL — the server URL shown for your ACME account in HARICA Certificate Manager"},
	} {
		t.Run(c.ca+"/"+c.url, func(t *testing.T) {
			s := testConfig(t, newFakeBackend(t)).newState()
			s.App, s.Domain, s.Upstream, s.TLSMode, s.CA = "generic", "app.example.org", "127.0.0.1:9", "acme", c.ca
			afterCA(s)
			f := newFlow()
			b := &fields{}
			f.pages[f.find("cadir")].build(s, b)
			form := newForm(b.list, false, false, 0)
			formPump(t, form).keys(append([]string{"ctrl+u"}, c.url, "enter")...)
			if form.State == huh.StateCompleted || s.Directory != c.url && c.url != "" {
				t.Fatalf("a bad URL passed: %q", s.Directory)
			}
			view := form.View()
			contains(t, "the directory page", plain(view), c.want)
			if k := reAnyKey.FindString(plain(view)); k != "" {
				t.Errorf("the error names the key %s:\n%s", k, plain(view))
			}
		})
	}
}

// Another CA whose directory says it needs external account binding:
// the key id is asked, and refused when empty; with no HMAC key in the
// environment or a file the user may quit, name a file or go on.
func TestCustomCAWhoseDirectoryNeedsEAB(t *testing.T) {
	ca := newTestCA(t, nil, true)
	s := testConfig(t, newFakeBackend(t)).newState()
	s.LookupEnv = envWith(nil)
	s.App, s.Server, s.Domain, s.Upstream, s.TLSMode = "generic", "nginx", "app.example.org", "127.0.0.1:9", "acme"
	s.CA, s.Directory, s.CABundle = CACustom, ca.URL, ca.Bundle
	if showEAB(s) {
		t.Fatal("EAB asked before the CA said it needs it")
	}
	what, run := prepareProfile(s)
	if run == nil || !strings.Contains(what, ca.URL) {
		t.Fatalf("the CA is not asked: %q", what)
	}
	run(t.Context())(s)
	if s.caErr != nil || !s.caDir.EABRequired {
		t.Fatalf("directory %+v, %v", s.caDir, s.caErr)
	}
	if _, again := prepareProfile(s); again != nil {
		t.Error("the CA is asked again for the same URL, bundle and proxy")
	}
	if !showEAB(s) || !showEABEnv(s) {
		t.Fatalf("EAB page %v, HMAC page %v; want both", showEAB(s), showEABEnv(s))
	}
	_, err := s.Validate()
	if err == nil || !strings.Contains(explainError(err), "EAB key id: required: the CA's directory says it registers accounts only with external account binding") {
		t.Fatalf("no key id: %v", err)
	}
	s.EABKID = "kid-1"
	if _, err := s.Validate(); err != nil {
		t.Fatalf("with a key id: %v", err)
	}
	f := newFlow()
	i := f.find("eabenv")
	b := &fields{}
	f.pages[i].build(s, b)
	form := newForm(b.list, false, false, 0)
	formPump(t, form)
	contains(t, "the HMAC page", plain(form.View()), "neither RPWIZARD_EAB_HMAC nor a key file gives it", "read -rs RPWIZARD_EAB_HMAC", "sudo --preserve-env=RPWIZARD_EAB_HMAC rpwizard")
	for _, c := range []struct {
		choice string
		want   int
	}{{EnvQuit, -1}, {EnvOther, f.find("eab")}, {EnvContinue, f.find("acme")}} {
		s.EABEnv = c.choice
		if got := f.done(s, i); got != c.want {
			t.Errorf("%s → page %d, want %d", c.choice, got, c.want)
		}
	}
	s.EABHMACFile = "/root/eab.hmac"
	if showEABEnv(s) {
		t.Error("the HMAC page is shown although a key file is named")
	}
}

// The lifetimes in words, as the profile page and the review say them.
func TestProfileWords(t *testing.T) {
	for _, c := range []struct {
		ca, name, desc  string
		short, longPart string
	}{
		{"letsencrypt", "", "", "classic, 90 days", "Let's Encrypt's default is classic"},
		{"harica", "", "", "the CA's usual certificate", "a third of its lifetime"},
		{"letsencrypt", "classic", leProfiles["classic"], "90 days", "64 days from 2027-02-10"},
		{"zerossl", "classic", "", "90 days", "when 30 days are left"},
		{"letsencrypt", "tlsserver", leProfiles["tlsserver"], "45 days", "renews it when 15 days are left"},
		{"letsencrypt", "shortlived", leProfiles["shortlived"], "6 days, renewed every 2–4 days", "the timer then runs every 4 hours"},
		{CACustom, "campus", "Campus servers, 30 days", "30 days", "renews it when about 10 days are left"},
		{CACustom, "x", "", "no description", "a third of its lifetime"},
		{CACustom, "y", "Only for the lab", "Only for the lab", "The CA says: Only for the lab"},
	} {
		if got := profileShort(c.ca, c.name, c.desc); !strings.Contains(got, c.short) {
			t.Errorf("profileShort(%s, %q) = %q, want %q", c.ca, c.name, got, c.short)
		}
		if got := profileLong(c.ca, c.name, c.desc); !strings.Contains(got, c.longPart) {
			t.Errorf("profileLong(%s, %q) = %q, want %q in it", c.ca, c.name, got, c.longPart)
		}
	}
}

// The plain prompts offer the same choices: the CA, its URL (a bad one
// refused), the profiles the CA lists with their lifetimes, the EAB key
// id with the HMAC key from the environment; and an unreachable CA.
func TestAccessibleCAChoices(t *testing.T) {
	ca := newTestCA(t, leProfiles, false)
	head := []string{
		"4",               // another web app
		"1",               // nginx
		"app.example.org", // domain
		"",                // no aliases
		"127.0.0.1:9",     // upstream
		"",                // base path /
		"1",               // no restriction
		"1",               // ACME
	}
	for _, c := range []struct {
		name  string
		lines []string
		want  answers.TLS
		text  []string
	}{
		{"harica", []string{"7", "http://bad", ca.URL, ca.Bundle, "5", "kid-9", ""},
			answers.TLS{CA: "harica", Directory: ca.URL, CABundle: ca.Bundle, Profile: "tlsserver", EABKID: "kid-9"},
			[]string{"7. GÉANT TCS via HARICA (needs your account's URL and an EAB key)", "ACME directory URL “http://bad”: not an ACME directory URL",
				"Asking GÉANT TCS via HARICA at " + ca.URL + " for its certificate profiles…", "tlsserver: Valid 45 days", "5. tlsserver: 45 days, for web servers only",
				"The HMAC key is a secret", "✓ RPWIZARD_EAB_HMAC is set in the environment", "EAB key id kid-9; HMAC key from RPWIZARD_EAB_HMAC (not shown)"}},
		{"unreachable", []string{"8", closedURL(t), "", "", "2", "tlsserver"},
			answers.TLS{Profile: "tlsserver"},
			[]string{"✗ your ACME CA did not answer", "connection refused", "Type a profile name", "profile tlsserver"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newFakeBackend(t)
			cfg := testConfig(t, b)
			cfg.LookupEnv = envWith(map[string]string{EABHMACEnv: testHMAC})
			var out bytes.Buffer
			lines := append(append(append([]string{}, head...), c.lines...), "", "", "3") // HTTP-01, no e-mail, quit at the review
			cfg.In = strings.NewReader(strings.Join(lines, "\n") + "\n")
			cfg.Out, cfg.Accessible = &out, true
			o := Run(t.Context(), *cfg)
			text := out.String()
			keepTranscript(t, text)
			if o.Status != Quit || len(b.plans()) != 1 {
				t.Fatalf("status %v, %d plans; transcript:\n%s", o.Status, len(b.plans()), text)
			}
			contains(t, "the transcript", text, c.text...)
			if strings.Contains(text, testHMAC) {
				t.Error("the HMAC key is printed")
			}
			got := b.plans()[0].TLS
			if c.want.Directory == "" {
				c.want.Directory = lines[len(head)+1]
			}
			c.want.Mode, c.want.Challenge, c.want.KeyType = "acme", "http-01", "ec256"
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("planned tls:\n got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// "Ask the CA again" asks again: a CA that answered 503 once offers its
// profiles the second time.
func TestModelAskTheCAAgain(t *testing.T) {
	ca := newTestCA(t, leProfiles, false)
	ca.fails.Store(1)
	b := newFakeBackend(t)
	m, p := startModel(t, b, nil)
	toCustomProfile(t, m, p, ca.URL, ca.Bundle)
	onPage(t, m, p, "profile")
	contains(t, "the unreachable page", plain(m.render()), "did not answer", "HTTP 503")
	p.keys("enter", "down", "down", "enter") // no proxy; ask again
	onPage(t, m, p, "profile")
	contains(t, "the profiles", plain(m.render()), "Which certificate profile?", "tlsserver: 45 days")
}

// While the CA is asked, shift+tab goes back and ctrl+c quits at once,
// whatever the CA does.
func TestModelKeysWhileAskingTheCA(t *testing.T) {
	ca := newTestCA(t, leProfiles, false)
	ca.hang = make(chan struct{})
	t.Cleanup(func() { close(ca.hang) })
	b := newFakeBackend(t)
	m, p := startModel(t, b, func(c *Config) { c.CATimeout = time.Minute })
	toCustomProfile(t, m, p, ca.URL, ca.Bundle)
	if m.phase != phaseLoading {
		t.Fatalf("phase %v, want the spinner", m.phase)
	}
	p.keys("shift+tab")
	if m.phase != phaseAsk || m.flow.pages[m.page].id != "cadir" {
		t.Fatalf("shift+tab while asking: phase %v on %s, want the directory page", m.phase, m.flow.pages[m.page].id)
	}
	p.keys("enter", "enter")
	if m.phase != phaseLoading {
		t.Fatalf("phase %v, want the spinner again", m.phase)
	}
	start := time.Now()
	p.keys("ctrl+c")
	if !p.quit || m.sess.outcome.Status != Aborted || time.Since(start) > 2*time.Second {
		t.Fatalf("ctrl+c while asking: quit %v, outcome %+v after %s", p.quit, m.sess.outcome, time.Since(start))
	}
	if len(b.plans()) != 0 {
		t.Error("planned after ctrl+c")
	}
}

// inspectingProxy is an HTTPS proxy that inspects TLS, as some campus
// and company firewalls do: it answers CONNECT, and then presents its own
// certificate for the host asked for, signed by a root this host does not
// trust (Bundle), and answers for the CA with a directory listing
// profiles. Only the directory is served: the wizard reads nothing else.
type inspectingProxy struct {
	URL    string // http://127.0.0.1:port
	Bundle string // the proxy's root (PEM)
}

func newInspectingProxy(t *testing.T, host string, profiles map[string]string) *inspectingProxy {
	t.Helper()
	ca := testenv.NewInHouseCA(t, t.TempDir(), host)
	cert, err := tls.LoadX509KeyPair(ca.CertFile, ca.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + host
	dir, _ := json.Marshal(map[string]any{
		"newNonce": base + "/nonce", "newAccount": base + "/account", "newOrder": base + "/order",
		"revokeCert": base + "/revoke", "keyChange": base + "/key-change", "meta": map[string]any{"profiles": profiles},
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		tc := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{cert}})
		req, err := http.ReadRequest(bufio.NewReader(tc))
		if err != nil {
			return // the client refused the certificate
		}
		resp := &http.Response{StatusCode: http.StatusNotFound, ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{}, Close: true,
			Body: io.NopCloser(strings.NewReader("not found")), ContentLength: 9}
		if req.URL.Path == "/directory" {
			resp.StatusCode, resp.Body, resp.ContentLength = http.StatusOK, io.NopCloser(bytes.NewReader(dir)), int64(len(dir))
			resp.Header.Set("Content-Type", "application/json")
		}
		resp.Write(tc)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(srv.Close)
	return &inspectingProxy{URL: srv.URL, Bundle: ca.CAFile}
}

// Let's Encrypt behind a firewall that inspects TLS: the CA's server is
// not trusted, and the unreachable page offers the CA bundle (validated
// by the answers' rules: a missing file is refused under the field) and
// to ask again, which it picks itself. With the firewall's root the CA
// answers with its profiles, the bundle is asked on a page of its own
// from then on, and it reaches the answers (tls.ca_bundle with tls.ca
// letsencrypt) and the review.
func TestModelPresetBehindInspectingProxy(t *testing.T) {
	px := newInspectingProxy(t, "acme-v02.api.letsencrypt.org", leProfiles)
	b := newFakeBackend(t)
	m, p := startModel(t, b, func(c *Config) {
		c.CATimeout = 5 * time.Second
		c.LookupEnv = envWith(nil)
	})
	m.s.Proxy = px.URL // as if typed on an earlier visit of the page
	toCA(t, m, p)
	p.keys("enter") // Let's Encrypt
	onPage(t, m, p, "profile")
	screen := plain(m.render())
	fits(t, m.render(), 80, 24)
	keepScreen(t, "untrusted", m.render())
	contains(t, "the unreachable page", screen, "✗ Let's Encrypt did not answer", "acme-v02.api.letsencrypt.org presents a TLS certificate signed by a root this host does not trust",
		"CA bundle for the CA's server", "root-only or world-readable", "> Ask the CA again (with the CA bundle above)")
	if strings.Contains(flat(screen), "You may go on") {
		t.Errorf("the page says that going on is fine, but the apply would fail the same way:\n%s", screen)
	}

	missing := filepath.Join(t.TempDir(), "no-such-root.pem")
	p.keys(missing, "enter")
	contains(t, "a missing bundle", plain(m.render()), "file not found")
	if m.flow.pages[m.page].id != "profile" || m.s.CABundleForCA {
		t.Fatalf("a missing bundle was taken (page %s)", m.flow.pages[m.page].id)
	}
	p.keys("ctrl+u", px.Bundle, "enter", "enter", "enter") // the bundle, the proxy as it is, ask again
	onPage(t, m, p, "profile")
	contains(t, "the profiles through the firewall", plain(m.render()), "Which certificate profile? (Let's Encrypt lists 4 profiles)", "shortlived: 6 days")
	if !showCABundleCA(m.s) {
		t.Error("the bundle given for Let's Encrypt has no page of its own")
	}
	if i := m.flow.forKey(m.s, "tls.ca_bundle"); i < 0 || m.flow.pages[i].id != "cabundleca" {
		t.Errorf("a problem with tls.ca_bundle goes to page %d, want cabundleca", i)
	}
	p.keys("down", "down", "down", "enter") // shortlived
	onPage(t, m, p, "acme")
	p.keys("enter", "enter")
	p.until("the review", 5*time.Second, func() bool { return m.phase == phaseReview })
	contains(t, "the review", plain(m.reviewText), "the CA's server trusted with", "profile shortlived")
	if nows := strings.Join(strings.Fields(plain(m.reviewText)), ""); !strings.Contains(nows, "trustedwith"+px.Bundle) {
		t.Errorf("the review does not name the bundle %s", px.Bundle)
	}
	got := b.plans()[0].TLS
	want := answers.TLS{Mode: "acme", CA: "letsencrypt", Directory: "https://acme-v02.api.letsencrypt.org/directory", CABundle: px.Bundle, Proxy: px.URL, Profile: "shortlived", Challenge: "http-01", KeyType: "ec256"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("planned tls:\n got %+v\nwant %+v", got, want)
	}

	// Back to the CA page and on again: the bundle is asked on its own
	// page, before the CA is asked.
	p.keys("b")
	contains(t, "the change menu", plain(m.render()), "CA bundle")
}

// The plain prompts ask for the CA bundle when the CA's server is not
// trusted, and ask the CA again by default (an empty line).
func TestAccessibleUntrustedCAAsksForBundle(t *testing.T) {
	ca := newTestCA(t, leProfiles, false)
	b := newFakeBackend(t)
	cfg := testConfig(t, b)
	cfg.LookupEnv = envWith(nil)
	lines := []string{"4", "1", "app.example.org", "", "127.0.0.1:9", "", "1", "1", // up to ACME
		"8", ca.URL, "", // another CA, its URL, no bundle
		"/no/such/root.pem", ca.Bundle, "", "", // refused, then the bundle; no proxy; ask again
		"5",         // tlsserver
		"", "", "3"} // HTTP-01, no e-mail, quit at the review
	var out bytes.Buffer
	cfg.In = strings.NewReader(strings.Join(lines, "\n") + "\n")
	cfg.Out, cfg.Accessible = &out, true
	o := Run(t.Context(), *cfg)
	text := out.String()
	keepTranscript(t, text)
	if o.Status != Quit || len(b.plans()) != 1 {
		t.Fatalf("status %v, %d plans; transcript:\n%s", o.Status, len(b.plans()), text)
	}
	contains(t, "the transcript", text, "presents a TLS certificate signed by a root this host does not trust",
		"CA bundle for the CA's server", "file not found", "3. Ask the CA again (with the CA bundle above)", "What now? [3]", "tlsserver: Valid 45 days")
	if got := b.plans()[0].TLS; got.CABundle != ca.Bundle || got.Profile != "tlsserver" || got.Directory != ca.URL {
		t.Errorf("planned tls %+v", got)
	}
}
