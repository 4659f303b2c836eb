package tpl_test

// FuzzRender checks that no value a user can give changes the structure
// of a rendered config. The seed corpus (below and testdata/fuzz/FuzzRender)
// runs in every `go test`; a longer run, one target at a time:
//
//	go test -run='^$' -fuzz=FuzzRender -fuzztime=3m ./tpl/
//
// See the "Fuzzing" section of README.md for the runs so far.

import (
	"fmt"
	"strings"
	"testing"
	"unicode"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/steps"
)

// FuzzRender validates answers made of the fuzzer's values; for those
// that pass it requires that
//   - they render (a value validation accepts and the renderer refuses
//     is a run that fails after planning, exit 1 instead of 2);
//   - no user value holds ; { } " ' # $ \, whitespace or a control
//     character;
//   - the config has the same token structure, read the way nginx or
//     Apache reads it, as the config rendered from harmless placeholders
//     of the same shape (as many names, paths and networks; the same
//     branches taken).
func FuzzRender(f *testing.F) {
	f.Add(uint8(0), false, "jatos.example.org", "www.jatos.example.org", "", "/", "", "10.0.0.0/8", "", "", "500M")
	f.Add(uint8(1), true, "Hub.Example.ORG.", "", "localhost:8000", "/jhub/..", "", "192.168.1.7/16,10.1.2.3", "", "10.0.0.1", "0")
	f.Add(uint8(3), false, "app.test", "a.app.test,b.app.test", "[::1]:8081", "/x/./y//", "/admin,/x/../api/admin/", "10.0.0.0/8", "127.0.0.0/8,::1", "", "1G")
	f.Add(uint8(3), true, "app.test", "", "app.internal:3000", "/v1.2+x/", "/a+b", "10.0.0.0/8", "", "2001:db8::/32", "10k")
	f.Add(uint8(2), true, "cryo.test", "", "", "/", "", "", "10.0.0.0/8", "", "")
	f.Add(uint8(0), false, "a.test", "", "", "/j;a {b}/", "/x y", "10.0.0.0/8; deny all", "", "", "1M;")
	f.Fuzz(func(t *testing.T, app uint8, apache bool, domain, aliases, upstream, base, adminPaths, adminNets, siteNets, proxies, body string) {
		apps := []string{"jatos", "jupyterhub", "cryosparc", "generic"}
		a := &answers.Answers{
			App: apps[int(app)%len(apps)], Server: "nginx", Domain: domain, Aliases: list(aliases),
			Upstream: upstream, BasePath: base, MaxBodySize: body, TrustedProxies: list(proxies),
			Restrict: answers.Restrict{AdminPaths: list(adminPaths), AdminNetworks: list(adminNets), SiteNetworks: list(siteNets)},
			TLS:      answers.TLS{Mode: "self-signed"},
		}
		if apache {
			a.Server = "apache"
		}
		if a.Validate(nil) != nil {
			return
		}
		for _, v := range userValues(a) {
			if i := strings.IndexFunc(v, unsafeRune); i >= 0 {
				t.Fatalf("validated value %q holds %q", v, v[i:i+1])
			}
		}
		real := render(t, a)
		p := placeholders(a)
		if err := p.Validate(nil); err != nil {
			t.Fatalf("placeholders of %+v do not validate: %v", a, err)
		}
		shape := render(t, p)
		same := sameApache
		if a.Server == "nginx" {
			same = sameNginx
		}
		if err := same(real, shape); err != nil {
			t.Fatalf("%v\n%s", err, real)
		}
	})
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func unsafeRune(r rune) bool {
	return strings.ContainsRune(";{}\"'#$\\", r) || unicode.IsSpace(r) || unicode.IsControl(r) || r > unicode.MaxASCII
}

// userValues are the validated values that reach the config.
func userValues(a *answers.Answers) []string {
	r := a.Restrict
	out := append([]string{a.Domain, a.Upstream, a.BasePath, a.MaxBodySize, r.BasicAuthFile, r.ClientCAFile}, a.Aliases...)
	for _, l := range [][]string{r.AdminPaths, r.AdminNetworks, r.SiteNetworks, a.TrustedProxies} {
		out = append(out, l...)
	}
	return out
}

// placeholders are harmless answers of the same shape as a.
func placeholders(a *answers.Answers) *answers.Answers {
	p := &answers.Answers{App: a.App, Server: a.Server, Domain: "n0.test", Upstream: "127.0.0.1:1", TLS: answers.TLS{Mode: "self-signed"}}
	for i := range a.Aliases {
		p.Aliases = append(p.Aliases, fmt.Sprintf("n%d.test", i+1))
	}
	if a.BasePath != "/" {
		p.BasePath = "/p/"
	}
	p.MaxBodySize = "0"
	if a.MaxBodyBytes() > 0 {
		p.MaxBodySize = "1M"
	}
	nets := func(n int) []string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, fmt.Sprintf("10.%d.%d.0/24", i/256, i%256))
		}
		return out
	}
	for i := range a.Restrict.AdminPaths {
		p.Restrict.AdminPaths = append(p.Restrict.AdminPaths, fmt.Sprintf("/a%d", i))
	}
	p.Restrict.AdminNetworks = nets(len(a.Restrict.AdminNetworks))
	p.Restrict.SiteNetworks = nets(len(a.Restrict.SiteNetworks))
	p.TrustedProxies = nets(len(a.TrustedProxies))
	return p
}

func render(t *testing.T, a *answers.Answers) []byte {
	t.Helper()
	h := &host.Host{Layout: host.Debian("/"), Installed: []string{"nginx", "apache"}, Versions: map[string]string{"nginx": "1.26.0", "apache": "2.4.62"}}
	out, err := steps.NewEnv(a, h).RenderSite()
	if err != nil {
		t.Fatalf("validated answers do not render: %v\n%+v", err, a)
	}
	return out
}

// nginxTokens reads a config the way nginx's lexer does: words split by
// whitespace, ";" "{" "}" on their own, quoted strings, "#" comments.
func nginxTokens(conf []byte) []string {
	var out []string
	s := string(conf)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == ';' || c == '{' || c == '}':
			out = append(out, string(c))
			i++
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			out = append(out, "Q"+s[i+1:min(j, len(s))])
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r;{}", rune(s[j])) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

func structural(tok string) bool { return tok == ";" || tok == "{" || tok == "}" }

// sameNginx: as many tokens, the same ones where either is ; { } or a
// directive's name.
func sameNginx(real, shape []byte) error {
	a, b := nginxTokens(real), nginxTokens(shape)
	if len(a) != len(b) {
		return fmt.Errorf("nginx: %d tokens, placeholders give %d", len(a), len(b))
	}
	for i := range a {
		directive := i == 0 || structural(a[i-1])
		if (structural(a[i]) || structural(b[i]) || directive) && a[i] != b[i] {
			return fmt.Errorf("nginx: token %d is %q, placeholders give %q", i, a[i], b[i])
		}
	}
	return nil
}

// apacheLines reads a config the way Apache does: one directive a line
// (a trailing backslash continues it), "#" comment lines, words split by
// whitespace, quoted strings kept whole.
func apacheLines(conf []byte) [][]string {
	var out [][]string
	text := strings.ReplaceAll(string(conf), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var words []string
		for i := 0; i < len(line); {
			switch c := line[i]; {
			case c == ' ' || c == '\t':
				i++
			case c == '"':
				j := i + 1
				for j < len(line) && line[j] != '"' {
					if line[j] == '\\' {
						j++
					}
					j++
				}
				words = append(words, "Q"+line[i+1:min(j, len(line))])
				i = j + 1
			default:
				j := i
				for j < len(line) && line[j] != ' ' && line[j] != '\t' {
					j++
				}
				words = append(words, line[i:j])
				i = j
			}
		}
		out = append(out, words)
	}
	return out
}

// sameApache: as many directives, each with the same name and as many
// arguments.
func sameApache(real, shape []byte) error {
	a, b := apacheLines(real), apacheLines(shape)
	if len(a) != len(b) {
		return fmt.Errorf("apache: %d directives, placeholders give %d", len(a), len(b))
	}
	for i := range a {
		if len(a[i]) != len(b[i]) || a[i][0] != b[i][0] {
			return fmt.Errorf("apache: directive %d is %q, placeholders give %q", i, a[i], b[i])
		}
	}
	return nil
}

// TestStructureCatchesInjection: the comparison of FuzzRender sees a
// value that ends a directive, opens a block, adds an argument or a line.
func TestStructureCatchesInjection(t *testing.T) {
	const ngx = "server {\n    server_name n0.test;\n    location /p/ {\n        proxy_pass http://x;\n    }\n}\n"
	const apa = "<VirtualHost *:443>\n    ServerName n0.test\n    ProxyPass \"/p/\" \"http://x/p/\"\n</VirtualHost>\n"
	for _, tc := range []struct {
		same       func(real, shape []byte) error
		shape, bad string
	}{
		{sameNginx, ngx, strings.Replace(ngx, "n0.test;", "a.test; return 200;", 1)},
		{sameNginx, ngx, strings.Replace(ngx, "n0.test;", "a.test b.test;", 1)},
		{sameNginx, ngx, strings.Replace(ngx, "/p/ {", "/p/ { } location / {", 1)},
		{sameNginx, ngx, strings.Replace(ngx, "n0.test;", "a.test #;", 1)},
		{sameApache, apa, strings.Replace(apa, "n0.test", "a.test\n    Require all granted", 1)},
		{sameApache, apa, strings.Replace(apa, "n0.test", "a.test b.test", 1)},
		{sameApache, apa, strings.Replace(apa, `"/p/" "http`, `"/p/ x" "http`, 1) + "ok"},
	} {
		if err := tc.same([]byte(tc.shape), []byte(tc.shape)); err != nil {
			t.Errorf("the same config differs: %v", err)
		}
		if err := tc.same([]byte(tc.bad), []byte(tc.shape)); err == nil {
			t.Errorf("not seen:\n%s", tc.bad)
		}
	}
}
