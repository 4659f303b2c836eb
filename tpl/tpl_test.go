package tpl

import (
	"regexp"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/profile"
)

func site(app, base string) *Site {
	p, _ := profile.Get(app)
	p = p.WithAdminPaths(nil)
	s := &Site{
		Domain: "a.test", Title: p.Title, Docs: p.Docs, Names: []string{"a.test", "b.test"}, Aliases: []string{"b.test"},
		Upstream: "127.0.0.1:9000", UpstreamName: "rpwizard_a_test", BasePath: base,
		Locations: NewLocations(p, base), AdminNetworks: []string{"10.0.0.0/8"},
		CertFile: "/etc/rpwizard/certs/a.test/fullchain.pem", KeyFile: "/etc/rpwizard/certs/a.test/privkey.pem",
		HSTS: true, MaxBody: "500M", MaxBodyBytes: 500 << 20, WSTimeout: p.WebSocketTimeout, RequestTimeout: p.RequestTimeout,
		Webroot: "/var/lib/rpwizard/acme-webroot", ProbeSocket: "/run/rpwizard/probe.sock",
		Curves: "X25519:prime256v1:secp384r1", ProxySnippet: "/etc/nginx/rpwizard/proxy.conf",
		AccessLog: "/var/log/nginx/a.test.access.log",
	}
	for _, l := range s.Locations {
		if l.Admin && l.Match == profile.Prefix {
			s.AdminPaths = append(s.AdminPaths, l.Full)
		}
	}
	return s
}

// TestRenderedConfigsAvoidKnownTraps checks, for every app on both
// servers, the properties the vendor documents get wrong. (That the
// configs work is proven by the integration tests on real servers.)
func TestRenderedConfigsAvoidKnownTraps(t *testing.T) {
	for _, app := range profile.Names() {
		for _, server := range []string{"nginx", "apache"} {
			base := "/"
			if app == "jupyterhub" {
				base = "/jhub/"
			}
			out, err := Render(server, site(app, base))
			if err != nil {
				t.Fatalf("%s/%s: %v", server, app, err)
			}
			conf := string(out)
			for _, bad := range []string{"ssl_stapling", "SSLUseStapling", "includeSubDomains", "preload", "localhost:", "TLSv1 ", "TLSv1.1", "ssl on;", "Order deny", "Allow from"} {
				if strings.Contains(conf, bad) {
					t.Errorf("%s/%s contains %q", server, app, bad)
				}
			}
			if server == "nginx" {
				// Every proxied location carries the full header set.
				if got, want := strings.Count(conf, "include /etc/nginx/rpwizard/proxy.conf;"), strings.Count(conf, "proxy_pass "); got != want {
					t.Errorf("nginx/%s: %d proxy_pass but %d header includes", app, want, got)
				}
				for _, m := range regexp.MustCompile(`location ~ "([^"]*)"`).FindAllStringSubmatch(conf, -1) {
					if !strings.HasPrefix(m[1], "^"+strings.TrimSuffix(base, "/")+"/") {
						t.Errorf("nginx/%s: regex location %q not anchored under the base path", app, m[1])
					}
				}
				if !strings.Contains(conf, "location ^~ /.well-known/acme-challenge/") {
					t.Errorf("nginx/%s: no ACME challenge location", app)
				}
			}
			if server == "apache" && !strings.Contains(conf, "ProxyPreserveHost On") {
				t.Errorf("apache/%s: Host not preserved", app)
			}
			if !strings.Contains(conf, "Strict-Transport-Security \"max-age=63072000\"") {
				t.Errorf("%s/%s: no HSTS", server, app)
			}
		}
	}
}

func TestJATOSWebSocketPathsAndAdmin(t *testing.T) {
	out, _ := RenderNginx(site("jatos", "/"))
	conf := string(out)
	for _, want := range []string{
		"location = /jatos/testWebSocket {",
		`location ~ "^/publix/[a-z0-9-]+/(group/join|batch/open)$" {`,
		"proxy_read_timeout 604800s;",
		"allow 10.0.0.0/8;",
		"client_max_body_size 500M;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("JATOS nginx config lacks %q", want)
		}
	}
	out, _ = RenderApache(site("jatos", "/"))
	conf = string(out)
	for _, want := range []string{
		`ProxyPassMatch "^(/publix/[a-z0-9-]+/(group/join|batch/open))$" "http://127.0.0.1:9000$1" upgrade=websocket timeout=604800`,
		`<Location "/jatos">`,
		"Require ip 10.0.0.0/8",
		`RewriteCond expr "%{HTTP:Content-Length} -gt 524288000"`,
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("JATOS Apache config lacks %q", want)
		}
	}
}

func TestRenderRefusesInjection(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Site)
	}{
		{"domain", func(s *Site) { s.Names[0] = "a.test; include /etc/shadow" }},
		{"network", func(s *Site) { s.AdminNetworks = []string{"10.0.0.0/8;allow all"} }},
		{"cert", func(s *Site) { s.CertFile = "/x.pem\nssl_certificate /y" }},
		{"base path", func(s *Site) { s.BasePath = "/a/ {" }},
		{"body", func(s *Site) { s.MaxBody = "1M#" }},
	}
	for _, tc := range tests {
		s := site("generic", "/")
		tc.mod(s)
		for _, server := range []string{"nginx", "apache"} {
			if _, err := Render(server, s); err == nil {
				t.Errorf("%s: %s injection rendered", server, tc.name)
			}
		}
	}
}

func TestHTTP2Syntax(t *testing.T) {
	s := site("generic", "/")
	out, _ := RenderNginx(s)
	if !strings.Contains(string(out), "listen 443 ssl http2;") || strings.Contains(string(out), "http2 on;") {
		t.Error("nginx < 1.25.1 needs listen ... http2")
	}
	s.HTTP2On = true
	out, _ = RenderNginx(s)
	if strings.Contains(string(out), "ssl http2;") || !strings.Contains(string(out), "http2 on;") {
		t.Error("nginx >= 1.25.1 needs http2 on;")
	}
}

// TestRegexLocationsQuoteTheBasePath: a base path's "." and "+" match
// themselves in the regex locations (JATOS's channels on nginx, every
// exact location on Apache), not any character or a repetition.
func TestRegexLocationsQuoteTheBasePath(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		out, err := Render(server, site("jatos", "/v1.2+x/"))
		if err != nil {
			t.Fatal(err)
		}
		conf := string(out)
		for _, want := range map[string][]string{
			"nginx":  {`location ~ "^/v1[.]2[+]x/publix/`},
			"apache": {`ProxyPassMatch "^(/v1[.]2[+]x/jatos/testWebSocket)$"`, `ProxyPassMatch "^(/v1[.]2[+]x/publix/`},
		}[server] {
			if !strings.Contains(conf, want) {
				t.Errorf("%s: no %q in\n%s", server, want, conf)
			}
		}
		for _, m := range regexp.MustCompile(`(?:location ~|ProxyPassMatch) "([^"]*)"`).FindAllStringSubmatch(conf, -1) {
			rx := regexp.MustCompile(m[1])
			lit := strings.NewReplacer("[.]", ".", "[+]", "+", "[a-z0-9-]+", "abc", "(group/join|batch/open)", "batch/open", "^(", "", ")$", "", "$", "", "^", "").Replace(m[1])
			other := strings.Replace(lit, "/v1.2+x/", "/v1x22x/", 1)
			if !rx.MatchString(lit) || rx.MatchString(other) {
				t.Errorf("%s: regex %q does not match the base path literally (%q, %q)", server, m[1], lit, other)
			}
		}
	}
}

// Render renders s with the template of the server the answers call
// server (package server picks it in the program).
func Render(server string, s *Site) ([]byte, error) {
	return map[string]func(*Site) ([]byte, error){"nginx": RenderNginx, "apache": RenderApache}[server](s)
}
