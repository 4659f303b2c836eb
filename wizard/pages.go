package wizard

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"charm.land/huh/v2"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/profile"
	"github.com/rpwizard/rpwizard/server"
)

// newFlow returns the questions, in the order they are asked.
func newFlow() *flow {
	return &flow{pages: []page{
		{id: "welcome", title: "Welcome", build: buildWelcome},
		{id: "app", title: "App", keys: []string{"app"}, build: buildApp, after: afterApp},
		{id: "server", title: "Proxy server", keys: []string{"server", "install_missing"}, build: buildServer, after: afterServer},
		{id: "names", title: "Domain", keys: []string{"domain", "aliases"}, build: buildNames, after: afterNames},
		{id: "upstream", title: "Upstream", keys: []string{"upstream"}, build: buildUpstream},
		{id: "basepath", title: "Base path", keys: []string{"base_path"}, show: showBasePath, build: buildBasePath},
		{id: "restrict", title: "Restrictions", keys: []string{"restrict"}, build: buildRestrict, after: afterRestrict},
		{id: "networks", title: "Allowed networks", keys: []string{"restrict"}, show: showNetworks, build: buildNetworks},
		{id: "load", title: "Participants", keys: []string{"expected_websockets"}, show: showLoad, build: buildLoad},
		{id: "tls", title: "Certificate", keys: []string{"tls.mode"}, build: buildTLS},
		{id: "ca", title: "Certificate authority", keys: []string{"tls.ca"}, show: showACME, build: buildCA, after: afterCA},
		{id: "cadir", title: "CA directory", keys: []string{"tls.directory", "tls.ca_bundle"}, show: showCADir, build: buildCADir},
		{id: "cabundleca", title: "CA bundle", keys: []string{"tls.ca_bundle"}, show: showCABundleCA, build: buildCABundleCA},
		{id: "profile", title: "Certificate profile", keys: []string{"tls.profile", "tls.proxy"}, show: showACME, build: buildProfile, after: afterProfile, prepare: prepareProfile},
		{id: "profilename", title: "Certificate profile", keys: []string{"tls.profile"}, show: showProfileName, build: buildProfileName},
		{id: "eab", title: "Account binding", keys: []string{"tls.eab_kid", "tls.eab_hmac_file"}, show: showEAB, build: buildEAB},
		{id: "eabenv", title: "HMAC key", show: showEABEnv, build: buildEABEnv, after: afterEABEnv},
		{id: "acme", title: "ACME", keys: []string{"tls.challenge", "tls.email"}, show: showACME, build: buildACME},
		{id: "dns", title: "DNS provider", keys: []string{"tls.dns_provider"}, show: showDNS, build: buildDNS},
		{id: "dnsenv", title: "DNS credentials", show: showDNSEnv, build: buildDNSEnv, after: afterDNSEnv},
		{id: "existing", title: "Certificate files", keys: []string{"tls.cert_file", "tls.key_file"}, show: showExisting, build: buildExisting, after: afterExisting},
		{id: "cabundle", title: "Certificate files", keys: []string{"tls.ca_bundle"}, show: showCABundle, build: buildCABundle},
	}}
}

// appOrder is the order apps are offered in; others follow, sorted.
var appOrder = []string{"jatos", "jupyterhub", "cryosparc", "generic"}

func appNames() []string {
	out := append([]string(nil), appOrder...)
	for _, n := range profile.Names() {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func title(app string) string {
	p, err := profile.Get(app)
	if err != nil {
		return app
	}
	if app == "generic" {
		return "another web app"
	}
	return p.Title
}

func buildWelcome(s *State, b *fields) {
	var lines []string
	if s.Host != nil {
		lines = append(lines, "Host:    "+s.Host.OS.PrettyName)
		var srv []string
		for _, n := range s.Host.Installed {
			srv = append(srv, strings.TrimSpace(server.Title(n)+" "+s.Host.Versions[n]))
		}
		if len(srv) == 0 {
			srv = []string{"none installed (rpwizard can install nginx or Apache)"}
		}
		lines = append(lines, "Servers: "+strings.Join(srv, ", "))
	}
	if len(s.Found.Listeners) == 0 {
		lines = append(lines, "Apps:    none found on 9000, 8000 or 61000")
	}
	for _, l := range s.Found.Listeners {
		lines = append(lines, fmt.Sprintf("Apps:    %s seems to run on %s", title(l.App), l.Upstream))
	}
	lines = append(lines, "", "A few questions follow. Nothing changes until you approve the plan.")
	if b.accessible {
		lines = append(lines, "Each question reads one line (this page reads none); an empty line keeps",
			"the answer shown in brackets. Ctrl+C quits.")
	} else {
		lines = append(lines, "Keys: enter next · shift+tab back · ctrl+c quit")
	}
	b.note("rpwizard: your app over HTTPS, with WebSockets", strings.Join(lines, "\n"))
}

func buildApp(s *State, b *fields) {
	sel := huh.NewSelect[string]().Value(&s.App)
	var opts []huh.Option[string]
	for _, n := range appNames() {
		label := title(n)
		if n == "generic" {
			label = "Another web app (any HTTP app; WebSockets work too)"
		}
		if l, ok := s.Found.Listener(n); ok {
			label += "  (found on " + l.Upstream + ")"
		}
		opts = append(opts, huh.NewOption(label, n))
	}
	hint := "Pick the app; its vendor's proxy settings are applied for you."
	if len(s.Found.Listeners) > 0 {
		l := s.Found.Listeners[0]
		hint = fmt.Sprintf("%s seems to run on %s.", title(l.App), l.Upstream)
	}
	b.sel(sel, "Which app do you want to serve over HTTPS?", hint, opts, s.App)
}

// afterApp moves the upstream with the app when the user has not typed
// one of their own, and drops answers the new app cannot use.
func afterApp(s *State) string {
	if s.Upstream == "" || s.Upstream == s.upstreamDefault(s.prevApp) {
		s.Upstream = s.upstreamDefault(s.App)
	}
	s.prevApp = s.App
	if !showBasePath(s) {
		s.BasePath = "/"
	}
	if !slices.Contains(restrictChoices(s.App), s.Restrict) {
		s.Restrict = restrictChoices(s.App)[0]
	}
	return ""
}

// upstreamDefault is where the app was found, else where its vendor
// documents it listens.
func (s *State) upstreamDefault(app string) string {
	if app == "" {
		return ""
	}
	if l, ok := s.Found.Listener(app); ok {
		return l.Upstream
	}
	p, _ := profile.Get(app)
	return p.DefaultUpstream
}

func buildServer(s *State, b *fields) {
	sel := huh.NewSelect[string]().Value(&s.Server)
	var opts []huh.Option[string]
	for _, n := range answers.Servers {
		label := server.Title(n)
		if v, ok := s.isInstalled(n); ok {
			label += " " + v + " (installed)"
		} else {
			label += " (not installed: rpwizard installs it)"
		}
		opts = append(opts, huh.NewOption(label, n))
	}
	hint := "rpwizard writes one site file for the server you pick."
	switch len(s.installed()) {
	case 0:
		hint = "Neither is installed; rpwizard installs the one you pick."
	case 2:
		hint = "Both are installed; pick the one that owns ports 80 and 443."
	}
	b.sel(sel, "Which web server should serve it?", hint, opts, s.Server)
}

func (s *State) isInstalled(server string) (string, bool) {
	if !slices.Contains(s.installed(), server) {
		return "", false
	}
	return s.Host.Versions[server], true
}

func afterServer(s *State) string {
	if _, ok := s.isInstalled(s.Server); !ok {
		s.InstallMissing = true
	} else {
		s.InstallMissing = s.installMissingFlag
	}
	return ""
}

func buildNames(s *State, b *fields) {
	d := huh.NewInput().Value(&s.Domain).Placeholder("app.example.org").
		Validate(s.validator(s.Domain, func(c *State, v string) { c.Domain = v }, "domain"))
	b.input(d, "Domain name", "The name people type; its DNS must point to this host.", s.Domain)
	al := huh.NewInput().Value(&s.Aliases).
		Validate(s.validator(s.Aliases, func(c *State, v string) { c.Aliases = v }, "aliases"))
	b.input(al, "Other names (optional)", "More names for the same site, separated by spaces (e.g. www.example.org).", s.Aliases)
}

// afterNames picks the default certificate source for the domain.
func afterNames(s *State) string {
	if s.TLSMode == "" {
		s.TLSMode = "acme"
		if privateName(s.Domain) {
			s.TLSMode = "self-signed"
		}
	}
	return ""
}

func buildUpstream(s *State, b *fields) {
	t := fmt.Sprintf("Where does %s listen? (host:port)", title(s.App))
	in := huh.NewInput().Value(&s.Upstream).Placeholder("127.0.0.1:8080").
		Validate(s.validator(s.Upstream, func(c *State, v string) { c.Upstream = v }, "upstream"))
	if b.accessible {
		b.input(in, t, reachability(s.Upstream), s.Upstream)
		return
	}
	b.input(in, t, "checking…", s.Upstream)
	b.live = &liveHint{value: func() string { return s.Upstream }, compute: reachability, async: true,
		set: func(h string) { in.Description(h) }}
}

// reachability is the hint under the upstream: whether anything answers.
func reachability(addr string) string {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "The address the app listens on, e.g. 127.0.0.1:8080."
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "host:port, e.g. 127.0.0.1:8080 (no http://)."
	}
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	if err := Reachable(ctx, addr, 400*time.Millisecond); err != nil {
		return "✗ nothing answers on " + addr + " yet: start the app before the self-test."
	}
	return "✓ something answers on " + addr + "."
}

func showBasePath(s *State) bool {
	p, err := profile.Get(s.App)
	return err == nil && p.BasePath
}

func buildBasePath(s *State, b *fields) {
	hint := "/ serves the app at the top of the site; or a prefix such as /app/."
	switch s.App {
	case "jupyterhub":
		hint = "/ or a prefix such as /jhub/ (the same as c.JupyterHub.base_url)."
	case "jatos":
		hint = "/ or a prefix such as /jatos-study/ (the same as jatos.urlBasePath)."
	}
	in := huh.NewInput().Value(&s.BasePath).
		Validate(s.validator(s.BasePath, func(c *State, v string) { c.BasePath = v }, "base_path"))
	b.input(in, "URL path of the app", hint, s.BasePath)
}

// restrictChoices are the restrictions that make sense for app; the first
// is the default.
func restrictChoices(app string) []string {
	p, _ := profile.Get(app)
	var out []string
	if !p.NeedsBarrier {
		out = append(out, RestrictNone)
	}
	if len(p.AdminPaths) > 0 || app == "generic" {
		out = append(out, RestrictAdmin)
	}
	return append(out, RestrictSite)
}

func buildRestrict(s *State, b *fields) {
	p, _ := profile.Get(s.App)
	labels := map[string]string{
		RestrictNone:  "No restriction: anyone may reach the site",
		RestrictAdmin: "Admin GUI only from some networks",
		RestrictSite:  "Whole site only from some networks",
	}
	if len(p.AdminPaths) > 0 {
		base := strings.TrimSuffix(strings.TrimSpace(s.BasePath), "/")
		var full []string
		for _, ap := range p.AdminPaths {
			full = append(full, base+ap)
		}
		labels[RestrictAdmin] = "Admin GUI (" + strings.Join(full, ", ") + ") only from some networks"
	}
	var opts []huh.Option[string]
	for _, c := range restrictChoices(s.App) {
		opts = append(opts, huh.NewOption(labels[c], c))
	}
	hint := "Who may reach the site? Networks are asked next."
	if p.NeedsBarrier {
		hint = p.Title + "'s vendor requires an access barrier: limit it to your networks."
	}
	sel := huh.NewSelect[string]().Value(&s.Restrict)
	b.sel(sel, "Restrict access?", hint, opts, s.Restrict)
}

func afterRestrict(s *State) string {
	if s.Restrict != RestrictNone && strings.TrimSpace(s.Networks) == "" {
		s.Networks = strings.Join(s.Found.Subnets, " ")
	}
	return ""
}

func showNetworks(s *State) bool { return s.Restrict == RestrictAdmin || s.Restrict == RestrictSite }

func buildNetworks(s *State, b *fields) {
	key := "restrict.site_networks"
	what := "the site"
	if s.Restrict == RestrictAdmin {
		key, what = "restrict.admin_networks", "the admin GUI"
	}
	hint := "Networks (CIDR) or addresses allowed to reach " + what + ", separated by spaces; at least one."
	if len(s.Found.Subnets) > 0 {
		hint += " This host is on " + strings.Join(s.Found.Subnets, ", ") + "."
	}
	// The placeholder must not pass for a value: Enter on an empty field is
	// refused (State.networksProblem).
	in := huh.NewInput().Value(&s.Networks).Placeholder("type one or more, e.g. 192.168.0.0/16").
		Suggestions(s.Found.Subnets).
		Validate(s.validator(s.Networks, func(c *State, v string) {
			c.Networks = v
			if c.App == "generic" && strings.TrimSpace(c.AdminPaths) == "" {
				c.AdminPaths = "/admin" // judged on the next field
			}
		}, key, "restrict"))
	b.input(in, "Allowed networks", hint, s.Networks)
	if s.Restrict == RestrictAdmin && s.App == "generic" {
		ap := huh.NewInput().Value(&s.AdminPaths).Placeholder("/admin").
			Validate(s.validator(s.AdminPaths, func(c *State, v string) { c.AdminPaths = v }, "restrict.admin_paths", "restrict"))
		b.input(ap, "Admin paths", "URL paths of the app's admin GUI, separated by spaces, e.g. /admin.", s.AdminPaths)
	}
}

// showLoad: JATOS group and batch studies hold one WebSocket per
// participant, and Debian's default server limits stop at a few hundred.
func showLoad(s *State) bool { return s.App == "jatos" }

func buildLoad(s *State, b *fields) {
	hint := "Each participant in a group or batch study holds a WebSocket; rpwizard raises the server's connection limits to fit. Empty: keep the limits."
	in := huh.NewInput().Value(&s.Concurrent).
		Validate(s.validator(s.Concurrent, func(c *State, v string) { c.Concurrent = v }, "expected_websockets"))
	b.input(in, "Participants at the same time, at most", hint, s.Concurrent)
}
