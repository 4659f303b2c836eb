// Package tpl renders the proxy configs rpwizard writes, from templates
// embedded in the binary: one per server, plus the nginx file shared by
// all rpwizard sites. App differences come from profile data, not from
// separate templates.
package tpl

import (
	"bytes"
	"embed"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"github.com/rpwizard/rpwizard/profile"
)

//go:embed *.tmpl
var files embed.FS

// templates are parsed on first use, not at start-up: every command,
// --version included, would pay for it.
var templates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{
		"join": strings.Join,
		"proxyArgs": func(s *Site, ws bool) proxyArgs {
			t := s.RequestTimeout
			if ws {
				t = s.WSTimeout
			}
			return proxyArgs{Site: s, Timeout: t}
		},
	}).ParseFS(files, "*.tmpl"))
})

type proxyArgs struct {
	Site    *Site
	Timeout int
}

// Site is everything a site template needs. Every string has been
// validated by package answers; Render checks again that none can break
// out of its directive.
type Site struct {
	// Name names the site's files (the domain, "*" written "_").
	Name                string
	Domain, Title, Docs string
	Names               []string // Domain first
	Aliases             []string
	Upstream            string // host:port
	UpstreamName        string
	BasePath            string // "/" or "/prefix/"
	Locations           []Location
	AdminPaths          []string // with the base path
	AdminNetworks       []string
	SiteNetworks        []string
	TrustedProxies      []string
	BasicAuthFile       string
	ClientCAFile        string
	CertFile, KeyFile   string
	HSTS                bool
	MaxBody             string // nginx size ("0" = unlimited)
	MaxBodyBytes        int64
	WSTimeout           int // seconds
	RequestTimeout      int
	Buffering           bool
	Webroot             string
	ProbeSocket         string
	HTTP2On             bool   // nginx >= 1.25.1: "http2 on;" instead of "listen ... http2"
	Curves              string // TLS groups
	ProxySnippet        string // nginx: the shared proxy header file
	AccessLog           string // nginx: the site's buffered access log
}

// Location is a profile location placed under the base path.
type Location struct {
	profile.Location
	Full string // path or regex including the base path
}

// NewLocations places the profile's locations under base.
func NewLocations(p profile.Profile, base string) []Location {
	prefix := strings.TrimSuffix(base, "/")
	var out []Location
	for _, l := range p.Locations {
		full := prefix + l.Path
		if l.Match == profile.Regex {
			full = "^" + RegexQuote(prefix) + strings.TrimPrefix(l.Path, "^")
		}
		if l.Match == profile.Prefix && l.Path == "/" {
			full = base
		}
		out = append(out, Location{Location: l, Full: full})
	}
	return out
}

// RegexQuote makes a URL path match itself literally inside a regex: the
// metacharacters a path may hold (". +" and, defensively, the others) each
// become a one-character class, "[.]", which both PCRE dialects read the
// same way and which needs no backslash in a config file.
func RegexQuote(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(".+*?()|{}$", r) {
			b.WriteString("[" + string(r) + "]")
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// NginxMatch is the location modifier.
func (l Location) NginxMatch() string {
	switch l.Match {
	case profile.Exact:
		return "="
	case profile.Regex:
		return "~"
	}
	return ""
}

// NginxPath is the location argument, quoted where it is a regex.
func (l Location) NginxPath() string {
	if l.Match == profile.Regex {
		return `"` + l.Full + `"`
	}
	return l.Full
}

// ApacheProxy is the ProxyPass line(s) of the location.
func (l Location) ApacheProxy(s *Site) string {
	backend := "http://" + s.Upstream
	params := s.apacheParams(l.WebSocket)
	switch l.Match {
	case profile.Exact:
		return fmt.Sprintf(`ProxyPassMatch "^(%s)$" "%s$1" %s`, RegexQuote(l.Full), backend, params)
	case profile.Regex:
		re := strings.TrimSuffix(strings.TrimPrefix(l.Full, "^"), "$")
		return fmt.Sprintf(`ProxyPassMatch "^(%s)$" "%s$1" %s`, re, backend, params)
	}
	return fmt.Sprintf("ProxyPass \"%s\" \"%s%s\" %s\n    ProxyPassReverse \"%s\" \"%s%s\"", l.Full, backend, l.Full, params, l.Full, backend, l.Full)
}

// ApacheProbeParams are the probe's ProxyPass parameters: those of the
// app's WebSocket locations.
func (s *Site) ApacheProbeParams() string { return s.apacheParams(true) }

// apacheParams are a ProxyPass line's parameters: WebSocket upgrade and
// its timeout, or the request timeout, and flushing where the app streams.
func (s *Site) apacheParams(ws bool) string {
	params := fmt.Sprintf("timeout=%d", s.RequestTimeout)
	if ws {
		params = fmt.Sprintf("upgrade=websocket timeout=%d", s.WSTimeout)
	}
	if !s.Buffering {
		params += " flushpackets=on"
	}
	return params
}

// ApacheBodyLimit is LimitRequestBody's value (Apache caps it at 2 GiB).
func (s *Site) ApacheBodyLimit() string {
	const max = 2147483647
	if s.MaxBodyBytes <= 0 || s.MaxBodyBytes > max {
		if s.MaxBodyBytes > max {
			return strconv.Itoa(max)
		}
		return "0"
	}
	return strconv.FormatInt(s.MaxBodyBytes, 10)
}

// NginxShared renders the http-level file shared by all rpwizard sites.
func NginxShared() []byte {
	var b bytes.Buffer
	if err := templates().ExecuteTemplate(&b, "nginx-shared.conf.tmpl", nil); err != nil {
		panic(err) // static template, no data
	}
	return b.Bytes()
}

// NginxProxySnippet renders the proxy header file included by every
// proxied location.
func NginxProxySnippet() []byte {
	var b bytes.Buffer
	if err := templates().ExecuteTemplate(&b, "nginx-proxy.conf.tmpl", nil); err != nil {
		panic(err) // static template, no data
	}
	return b.Bytes()
}

// RenderNginx renders the nginx site file.
func RenderNginx(s *Site) ([]byte, error) { return render("nginx-site.conf.tmpl", "nginx", s) }

// RenderApache renders the Apache site file.
func RenderApache(s *Site) ([]byte, error) { return render("apache-site.conf.tmpl", "Apache", s) }

func render(tmpl, server string, s *Site) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := templates().ExecuteTemplate(&b, tmpl, s); err != nil {
		return nil, fmt.Errorf("render %s config: %w", server, err)
	}
	return b.Bytes(), nil
}

// safe is what any value may contain once inside a directive: no spaces,
// quotes, semicolons, braces, comment signs, variables or line breaks.
var safe = regexp.MustCompile(`^[A-Za-z0-9._:/*@+\-\[\]]*$`)

// check is the last line of defence against directive injection: it
// refuses any value that could end a directive or open a block.
func (s *Site) check() error {
	vals := map[string][]string{
		"domain": s.Names, "upstream": {s.Upstream, s.UpstreamName}, "base_path": {s.BasePath},
		"restrict.admin_networks": s.AdminNetworks, "restrict.site_networks": s.SiteNetworks,
		"restrict.admin_paths": s.AdminPaths, "trusted_proxies": s.TrustedProxies,
		"restrict.basic_auth_file": {s.BasicAuthFile}, "restrict.client_ca_file": {s.ClientCAFile},
		"tls.cert_file": {s.CertFile, s.KeyFile}, "max_body_size": {s.MaxBody},
		"webroot": {s.Webroot, s.ProbeSocket, s.ProxySnippet}, "curves": {s.Curves},
		"access_log": {s.AccessLog},
	}
	for key, list := range vals {
		for _, v := range list {
			if !safe.MatchString(v) {
				return fmt.Errorf("%s: value %q contains characters that are not allowed in a config file", key, v)
			}
		}
	}
	return nil
}
