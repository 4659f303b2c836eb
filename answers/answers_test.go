package answers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateDefaultsAndNormalises(t *testing.T) {
	a, _, err := Decode("a.yaml", []byte(`
app: jupyterhub
domain: Hub.Example.ORG.
aliases: [hub2.example.org]
upstream: localhost:8000
base_path: /jhub
restrict:
  admin_networks: [192.168.1.7/16, 10.1.2.3]
tls:
  mode: acme
  directory: letsencrypt-staging
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Validate([]string{"nginx"}); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ got, want string }{
		{a.Server, "nginx"},
		{a.Domain, "hub.example.org"},
		{a.Upstream, "127.0.0.1:8000"},
		{a.BasePath, "/jhub/"},
		{a.Restrict.AdminNetworks[0], "192.168.0.0/16"},
		{a.Restrict.AdminNetworks[1], "10.1.2.3/32"},
		{a.TLS.Directory, LetsEncryptStaging},
		{a.TLS.Challenge, "http-01"},
		{a.TLS.KeyType, "ec256"},
		{a.MaxBodySize, "0"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if !a.HSTSOn() || !a.SelfTestOn() {
		t.Error("hsts and selftest should default to true")
	}
}

func TestValidateProblems(t *testing.T) {
	tests := []struct {
		name      string
		yaml      string
		installed []string
		key, msg  string
		line      int
	}{
		{"server ambiguous", "app: jatos\ndomain: a.test\ntls: {mode: self-signed}\n", []string{"nginx", "apache"}, "server", "both nginx and Apache", 0},
		{"server missing", "app: jatos\ndomain: a.test\ntls: {mode: self-signed}\n", nil, "server", "neither", 0},
		{"generic needs upstream", "app: generic\nserver: nginx\ndomain: a.test\ntls: {mode: self-signed}\n", nil, "upstream", "required", 0},
		{"ipv4 as domain", "app: jatos\nserver: nginx\ndomain: 10.0.0.1\ntls: {mode: self-signed}\n", nil, "domain", "IP address", 3},
		{"duplicate alias", "app: jatos\nserver: nginx\ndomain: a.test\naliases: [A.test]\ntls: {mode: self-signed}\n", nil, "aliases[0]", "twice", 4},
		{"label too long", "app: jatos\nserver: nginx\ndomain: " + strings.Repeat("a", 64) + ".test\ntls: {mode: self-signed}\n", nil, "domain", "not a valid DNS name", 3},
		{"eab kid too long", "app: jatos\nserver: nginx\ndomain: a.test\ntls: {mode: acme, eab_kid: " + strings.Repeat("k", 257) + "}\n", nil, "tls.eab_kid", "not a key identifier", 4},
		{"eab kid with a space", "app: jatos\nserver: nginx\ndomain: a.test\ntls: {mode: acme, eab_kid: 'a b'}\n", nil, "tls.eab_kid", "not a key identifier", 4},
		{"acme key in self-signed", "app: jatos\nserver: nginx\ndomain: a.test\ntls: {mode: self-signed, email: a@b.org}\n", nil, "tls.email", "only used with tls.mode acme", 4},
		{"bad email", "app: jatos\nserver: nginx\ndomain: a.test\ntls: {mode: acme, email: 'a@b'}\n", nil, "tls.email", "not an e-mail", 4},
		{"bad key type", "app: jatos\nserver: nginx\ndomain: a.test\ntls: {mode: acme, key_type: dsa}\n", nil, "tls.key_type", "unknown key type", 4},
		{"provider with shell", "app: jatos\nserver: nginx\ndomain: a.test\ntls: {mode: acme, challenge: dns-01, dns_provider: 'exec;rm'}\n", nil, "tls.dns_provider", "provider name", 4},
		{"admin paths alone", "app: generic\nserver: nginx\ndomain: a.test\nupstream: 127.0.0.1:1\nrestrict: {admin_paths: [/admin]}\ntls: {mode: self-signed}\n", nil, "restrict.admin_paths", "restrict nothing", 5},
		{"expected websockets negative", "app: jatos\nserver: nginx\ndomain: a.test\nexpected_websockets: -1\ntls: {mode: self-signed}\n", nil, "expected_websockets", "out of range", 4},
		{"tls missing", "app: jatos\nserver: nginx\ndomain: a.test\n", nil, "tls.mode", "required", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "a.yaml")
			os.WriteFile(f, []byte(tc.yaml), 0o600)
			_, err := Load(f, tc.installed)
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("Load = %v, want *Error", err)
			}
			p := e.Field(tc.key)
			if p == nil {
				t.Fatalf("no problem reported for %s: %v", tc.key, err)
			}
			if !strings.Contains(p.Msg, tc.msg) {
				t.Errorf("%s: %q, want it to mention %q", tc.key, p.Msg, tc.msg)
			}
			if tc.line != 0 && p.Line != tc.line {
				t.Errorf("%s reported on line %d, want %d", tc.key, p.Line, tc.line)
			}
			if !strings.Contains(err.Error(), f+":") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

// TestLengthLimitsAccepted: the longest DNS label (63) and EAB key ID
// (256) pass.
func TestLengthLimitsAccepted(t *testing.T) {
	f := filepath.Join(t.TempDir(), "a.yaml")
	os.WriteFile(f, []byte("app: jatos\nserver: nginx\ndomain: "+strings.Repeat("a", 63)+".test\ntls: {mode: acme, eab_kid: "+strings.Repeat("k", 256)+"}\n"), 0o600)
	_, err := Load(f, nil)
	if e, ok := err.(*Error); ok {
		for _, key := range []string{"domain", "tls.eab_kid"} {
			if p := e.Field(key); p != nil {
				t.Errorf("%s refused: %s", key, p.Msg)
			}
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	tests := []struct{ name, yaml, key, msg string }{
		{"unknown nested key", "app: jatos\ntls:\n  mode: acme\n  emial: x@y.org\n", "tls.emial", "unknown key"},
		{"wrong type", "app: jatos\naliases: a.test\n", "aliases", "wrong type"},
		{"duplicate key", "app: jatos\napp: generic\n", "app", "twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode("f.yaml", []byte(tc.yaml))
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("Decode = %v, want *Error", err)
			}
			p := e.Problems[0]
			if p.Key != tc.key || !strings.Contains(p.Msg, tc.msg) {
				t.Errorf("got key %q msg %q, want %q / %q", p.Key, p.Msg, tc.key, tc.msg)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	in := &Answers{App: "jatos", Server: "nginx", Domain: "a.test", TLS: TLS{Mode: "self-signed"},
		Restrict: Restrict{AdminNetworks: []string{"10.0.0.0/8"}}}
	data, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := Decode("saved.yaml", data)
	if err != nil {
		t.Fatalf("saved answers do not decode: %v\n%s", err, data)
	}
	if out.Domain != in.Domain || out.Restrict.AdminNetworks[0] != "10.0.0.0/8" {
		t.Errorf("round trip lost data:\n%s", data)
	}
}

func TestExamplesDecode(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.yaml")
	if len(files) < 4 {
		t.Fatalf("want one example per app, found %v", files)
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if _, _, err := Decode(f, data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestBasicAuthFileMustBeReadableByWorkers(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	f := filepath.Join(dir, "htpasswd")
	os.WriteFile(f, []byte("alice:"+apr1Hash+"\n"), 0o644)
	a := &Answers{App: "jatos", Server: "nginx", Domain: "a.test", TLS: TLS{Mode: "self-signed"}, Restrict: Restrict{BasicAuthFile: f}}
	err := a.Validate(nil)
	if e, ok := err.(*Error); !ok || e.Field("restrict.basic_auth_file") == nil {
		t.Fatalf("Validate = %v, want a restrict.basic_auth_file problem", err)
	}
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755) // t.TempDir's parent is private too
	if err := a.Validate(nil); err != nil {
		t.Fatalf("readable file refused: %v", err)
	}
}

func TestCAPresetsProfileHooks(t *testing.T) {
	base := "app: jatos\nserver: nginx\ndomain: jatos.example.org\ntls:\n  mode: acme\n"
	hook := filepath.Join(t.TempDir(), "hook")
	os.WriteFile(hook, []byte("#!/bin/sh\n"), 0o755)
	os.Chmod(hook, 0o755)
	loose := filepath.Join(t.TempDir(), "loose")
	os.WriteFile(loose, []byte("#!/bin/sh\n"), 0o777)
	os.Chmod(loose, 0o777)
	for _, tc := range []struct {
		name, extra string
		wantDir     string // "" = invalid
		wantKey     string
	}{
		{"default", "", LetsEncrypt, ""},
		{"directory preset", "  directory: zerossl\n  eab_kid: k1\n", "https://acme.zerossl.com/v2/DV90", ""},
		{"ca preset", "  ca: google\n  eab_kid: k1\n", "https://dv.acme-v02.api.pki.goog/directory", ""},
		{"preset needs EAB", "  ca: zerossl\n", "", "tls.eab_kid"},
		{"URL of an EAB CA", "  directory: https://dv.acme-v02.api.pki.goog/directory\n", "", "tls.eab_kid"},
		{"harica needs its URL", "  ca: harica\n  eab_kid: k1\n", "", "tls.directory"},
		{"harica with URL", "  ca: harica\n  eab_kid: k1\n  directory: https://acme.harica.gr/abc/directory\n", "https://acme.harica.gr/abc/directory", ""},
		{"sectigo other host", "  ca: sectigo-geant\n  eab_kid: k1\n  directory: https://acme.example.org/dir\n", "", "tls.directory"},
		{"unknown ca", "  ca: nosuch\n", "", "tls.ca"},
		{"profile", "  profile: shortlived\n", LetsEncrypt, ""},
		{"bad profile", "  profile: 'Short Lived'\n", "", "tls.profile"},
		{"proxy", "  proxy: http://proxy.example.org:3128\n", LetsEncrypt, ""},
		{"bad proxy", "  proxy: socks5://x\n", "", "tls.proxy"},
		{"hook", "hooks:\n  deploy:\n    - [" + hook + ", --to, /opt]\n", LetsEncrypt, ""},
		{"relative hook", "hooks:\n  deploy:\n    - [hook]\n", "", "hooks.deploy[0]"},
		{"writable hook", "hooks:\n  deploy:\n    - [" + loose + "]\n", "", "hooks.deploy[0]"},
		{"missing hook", "hooks:\n  deploy:\n    - [/nonexistent/hook]\n", "", "hooks.deploy[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := tc.extra
			src := base + extra
			if strings.HasPrefix(extra, "hooks:") {
				src = base + extra
			}
			f := filepath.Join(t.TempDir(), "a.yaml")
			os.WriteFile(f, []byte(src), 0o600)
			a, err := Load(f, []string{"nginx"})
			if tc.wantDir == "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantKey) || !IsInvalid(err) {
					t.Fatalf("want an error naming %s, got %v", tc.wantKey, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.TLS.Directory != tc.wantDir {
				t.Errorf("directory %q, want %q", a.TLS.Directory, tc.wantDir)
			}
		})
	}
}
