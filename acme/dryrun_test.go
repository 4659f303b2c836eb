package acme

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/internal/testenv"
)

// TestChooseTestCA: which CA a dry run orders from, for the TLS answers
// as Validate leaves them (tls.ca the preset's name, tls.directory its URL).
func TestChooseTestCA(t *testing.T) {
	const (
		le       = "https://acme-v02.api.letsencrypt.org/directory"
		leStage  = "https://acme-staging-v02.api.letsencrypt.org/directory"
		google   = "https://dv.acme-v02.api.pki.goog/directory"
		private  = "https://acme.example.org/directory"
		testURL  = "https://acme-test.example.org/directory"
		harica   = "https://acme.harica.gr/abc/directory"
		sectigo  = "https://acme.sectigo.com/v2/GEANTOV"
		zerossl  = "https://acme.zerossl.com/v2/DV90"
		stageWhy = "staging environment"
	)
	tests := []struct {
		name   string
		tls    answers.TLS
		dir    string // the test CA's directory
		preset string // its preset name
		same   bool
		whyHas string
	}{
		{"letsencrypt → staging", answers.TLS{CA: "letsencrypt", Directory: le}, leStage, "letsencrypt-staging", false, "Let's Encrypt's staging environment"},
		{"default directory", answers.TLS{}, leStage, "letsencrypt-staging", false, stageWhy},
		{"letsencrypt by URL only", answers.TLS{Directory: le}, leStage, "letsencrypt-staging", false, stageWhy},
		{"already staging", answers.TLS{CA: "letsencrypt-staging", Directory: leStage}, leStage, "letsencrypt-staging", true, "has no staging environment"},
		{"google: staging needs EAB", answers.TLS{CA: "google", Directory: google, EABKID: "k"}, google, "google", true, "external account binding"},
		{"zerossl: no staging", answers.TLS{CA: "zerossl", Directory: zerossl, EABKID: "k"}, zerossl, "zerossl", true, "ZeroSSL has no staging environment"},
		{"harica: no staging", answers.TLS{CA: "harica", Directory: harica, EABKID: "k"}, harica, "harica", true, "no staging environment"},
		{"sectigo: no staging", answers.TLS{CA: "sectigo-geant", Directory: sectigo, EABKID: "k"}, sectigo, "sectigo-geant", true, "no staging environment"},
		{"private CA", answers.TLS{Directory: private}, private, "", true, "tls.staging"},
		{"tls.staging URL", answers.TLS{Directory: private, Staging: testURL}, testURL, "", false, "tls.staging"},
		{"tls.staging preset", answers.TLS{CA: "harica", Directory: harica, Staging: "letsencrypt-staging"}, leStage, "letsencrypt-staging", false, "tls.staging"},
		{"tls.staging URL of a preset", answers.TLS{Directory: private, Staging: leStage}, leStage, "letsencrypt-staging", false, "tls.staging"},
		{"tls.staging same", answers.TLS{CA: "letsencrypt", Directory: le, Staging: "same"}, le, "letsencrypt", true, "tls.staging: same"},
		{"tls.staging is the site's URL", answers.TLS{Directory: private, Staging: private + "/"}, private, "", true, "site's own CA"},
		{"tls.staging names an EAB preset", answers.TLS{CA: "letsencrypt", Directory: le, Staging: "google-staging"}, le, "letsencrypt", true, "not a test CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ChooseTestCA(tt.tls)
			if got.Directory != tt.dir || got.Name != tt.preset || got.Same != tt.same || !strings.Contains(got.Why, tt.whyHas) {
				t.Errorf("ChooseTestCA = %+v, want directory %s, name %q, same %v, why with %q", got, tt.dir, tt.preset, tt.same, tt.whyHas)
			}
			if got.Why == "" {
				t.Error("no reason given")
			}
		})
	}
}

func TestProfileOffered(t *testing.T) {
	d := &Directory{URL: "https://test.example/dir", Profiles: map[string]string{"classic": "", "tlsserver": ""}}
	none := &Directory{URL: "https://test.example/dir"}
	tests := []struct {
		dir     *Directory
		profile string
		want    string // "" = offered
	}{
		{d, "", ""},
		{d, "classic", ""},
		{d, "shortlived", `does not offer the profile "shortlived"; it offers: classic, tlsserver`},
		{none, "classic", "offers no profiles"},
		{none, "", ""},
	}
	for _, tt := range tests {
		err := profileOffered(tt.dir, tt.profile)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v", tt.profile, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "tls.profile")):
			t.Errorf("%q: %v, want tls.profile: …%s", tt.profile, err, tt.want)
		}
	}
}

// TestTestOrderWritesNothingWithoutAccount: against the site's own CA
// without a stored account, a dry run does not register (nor create a
// key) and says so; without the webroot's challenge directory it creates
// none. Neither reaches the CA (the directory URL does not resolve).
func TestTestOrderWritesNothingWithoutAccount(t *testing.T) {
	for _, tt := range []struct {
		name, want     string
		mkChallengeDir bool
	}{
		{"no account", "a dry run does not register", true},
		{"no challenge directory", "a dry run creates none", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			webroot := filepath.Join(root, "webroot")
			os.MkdirAll(webroot, 0o755)
			if tt.mkChallengeDir {
				os.MkdirAll(filepath.Join(webroot, ".well-known", "acme-challenge"), 0o755)
			}
			before := testenv.TreeHash(t, root)
			r := Request{Domains: []string{"a.example.org"}, Directory: "https://acme.invalid/dir", Webroot: webroot,
				StateDir: filepath.Join(root, "state"), Challenge: ChallengeHTTP01}
			ca := TestCA{Directory: "https://acme.invalid/dir", Same: true, Why: "test"}
			res, err := TestOrder(context.Background(), r, ca)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("TestOrder: %v, want an error with %q", err, tt.want)
			}
			if tt.mkChallengeDir && !IsNotRegistered(err) {
				t.Errorf("IsNotRegistered(%v) = false", err)
			}
			if res == nil || res.CA.Directory != ca.Directory {
				t.Errorf("result %+v, want the CA named", res)
			}
			if after := testenv.TreeHash(t, root); after != before {
				t.Error("TestOrder wrote files")
			}
		})
	}
}

// TestTestOrderPebble: a test order against a real CA (Debian's Pebble)
// from a test CA registers a throwaway account in memory and writes
// nothing but the challenge file, which it removes; from the site's own
// CA it uses the stored account without touching it.
func TestTestOrderPebble(t *testing.T) {
	e := env(t)
	p := e.ca(t, false)
	webroot := t.TempDir()
	startNginx(t, e.httpPort, webroot)
	os.MkdirAll(filepath.Join(webroot, ".well-known", "acme-challenge"), 0o755)

	r := e.request(t, p, "dry.test")
	r.Challenge, r.Webroot, r.Email = ChallengeHTTP01, webroot, "admin@example.org"
	before := testenv.TreeHash(t, webroot, r.StateDir)
	res, err := TestOrder(context.Background(), r, TestCA{Directory: p.DirectoryURL, Why: "test CA"})
	if err != nil {
		t.Fatalf("TestOrder: %v", err)
	}
	if res.Serial == "" || strings.Join(res.Names, ",") != "dry.test" || res.CA.Same || !strings.Contains(res.Account, "throwaway") ||
		len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "token file was written") {
		t.Errorf("result %+v", res)
	}
	if after := testenv.TreeHash(t, webroot, r.StateDir); after != before {
		t.Error("a test order from a test CA wrote files")
	}
	if _, err := os.Stat(r.StateDir); err == nil {
		t.Error("the state directory was created")
	}

	// The site's own CA: its stored account, read-only.
	if _, err := Obtain(context.Background(), r); err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	data, uri, mod := readAccount(t, r.StateDir)
	before = testenv.TreeHash(t, webroot, r.StateDir)
	res, err = TestOrder(context.Background(), r, TestCA{Directory: p.DirectoryURL, Same: true, Why: "same"})
	if err != nil {
		t.Fatalf("TestOrder, same CA: %v", err)
	}
	if !strings.Contains(res.Account, uri) || !strings.Contains(res.Account, "read only") {
		t.Errorf("account %q, want the stored %s, read only", res.Account, uri)
	}
	data2, _, mod2 := readAccount(t, r.StateDir)
	if string(data2) != string(data) || !mod2.Equal(mod) || testenv.TreeHash(t, webroot, r.StateDir) != before {
		t.Error("a test order from the site's CA changed files")
	}

	// A test CA that requires EAB: the site's own CA instead, saying why.
	eab := e.ca(t, true)
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	a, _ := os.ReadFile(p.ListenerRoot)
	b, _ := os.ReadFile(eab.ListenerRoot)
	os.WriteFile(bundle, append(append(a, '\n'), b...), 0o644)
	r.CABundle = bundle
	eabOrders := eab.Orders()
	res, err = TestOrder(context.Background(), r, TestCA{Directory: eab.DirectoryURL, Why: "named by tls.staging"})
	if err != nil {
		t.Fatalf("TestOrder, EAB test CA: %v", err)
	}
	if !res.CA.Same || res.CA.Directory != p.DirectoryURL || !strings.Contains(res.CA.Why, "requires external account binding") ||
		!strings.Contains(res.Account, uri) || eab.Orders() != eabOrders {
		t.Errorf("EAB test CA: %+v (%d orders there), want the site's own CA %s and its account", res, eab.Orders()-eabOrders, p.DirectoryURL)
	}
	if testenv.TreeHash(t, webroot, r.StateDir) != before {
		t.Error("the fallback to the site's CA changed files")
	}
}

// TestTestOrderDNS01: a dry run by DNS-01 sets and removes its TXT
// records through the provider, as a renewal does, and says so.
func TestTestOrderDNS01(t *testing.T) {
	e := env(t)
	p := e.ca(t, false)
	script, calls := execScript(t, e, true)
	t.Setenv("EXEC_PATH", script)
	t.Setenv("EXEC_POLLING_INTERVAL", "1")
	t.Setenv("EXEC_PROPAGATION_TIMEOUT", "20")
	t.Setenv("EXEC_SEQUENCE_INTERVAL", "1")
	r := e.request(t, p, "*.drywild.test")
	r.Challenge, r.DNSProvider = ChallengeDNS01, "exec"
	r.DNSResolvers, r.DNSResolversOnly = []string{e.dnsAddr}, true
	res, err := TestOrder(context.Background(), r, TestCA{Directory: p.DirectoryURL, Why: "test CA"})
	if err != nil {
		t.Fatalf("TestOrder: %v", err)
	}
	if strings.Join(res.Names, ",") != "*.drywild.test" || len(res.Notes) != 1 ||
		!strings.Contains(res.Notes[0], "DNS-01 for drywild.test: exec set a TXT record for the validation and removed it") {
		t.Errorf("result %+v", res)
	}
	log, _ := os.ReadFile(calls)
	if !strings.Contains(string(log), "cleanup _acme-challenge.drywild.test. ") {
		t.Errorf("the TXT record was not cleaned up:\n%s", log)
	}
	if txt := e.lookupTXT(t, "_acme-challenge.drywild.test."); len(txt) != 0 {
		t.Errorf("TXT records left: %v", txt)
	}
	if _, err := os.Stat(r.StateDir); err == nil {
		t.Error("the state directory was created")
	}
}
