// Package profile describes the apps rpwizard knows how to put behind a
// reverse proxy: their default upstream, WebSocket paths, admin paths, body
// limits and timeouts, taken from each vendor's reverse-proxy documentation.
//
// Profiles are data, not template forks: the templates in tpl/ render any
// profile the same way.
package profile

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Match is how a Location's path is matched.
type Match int

const (
	// Prefix matches every path that starts with Path.
	Prefix Match = iota
	// Exact matches Path only.
	Exact
	// Regex matches the anchored regular expression Path (PCRE, nginx and
	// Apache alike). Path must begin with "^/" relative to the base path.
	Regex
)

// Location is one proxied path of an app.
type Location struct {
	Path  string // relative to the base path, starting with "/" (or "^/" for Regex)
	Match Match
	// WebSocket locations get the long WebSocket timeouts.
	WebSocket bool
	// Admin locations are restricted to restrict.admin_networks.
	Admin bool
}

// Profile is everything rpwizard knows about one app.
type Profile struct {
	Name  string // answers-file value: jatos, jupyterhub, cryosparc, generic
	Title string // human name
	// DefaultUpstream is where the app listens when installed as its
	// vendor documents; "" means the user must say.
	DefaultUpstream string
	// Locations, most specific first. The last one is always the catch-all "/".
	Locations []Location
	// AdminPaths are the path prefixes of the admin GUI ("" list: the app
	// has none that can be split from the rest).
	AdminPaths []string
	// DefaultMaxBody is the request-body limit ("0" = unlimited).
	DefaultMaxBody string
	// WebSocketTimeout is the idle timeout of WebSocket locations, in seconds.
	WebSocketTimeout int
	// RequestTimeout is the upstream timeout of ordinary requests, in seconds.
	RequestTimeout int
	// ReloadGrace is how long a WebSocket held through a reload (a
	// renewal's) may stay on the old server process before it is closed
	// and the app's client has to reconnect: nginx's
	// worker_shutdown_timeout. Long for apps whose sessions run for hours
	// and whose clients reconnect (notebooks, processing jobs), an hour for
	// the others.
	ReloadGrace time.Duration
	// ReloadGraceWhy says why, in a few words.
	ReloadGraceWhy string
	// Buffering reports whether the proxy may buffer responses; the vendors
	// of all three apps turn it off (progress streams, large downloads).
	Buffering bool
	// BasePath reports whether the app can live under a URL prefix.
	BasePath bool
	// NeedsBarrier: the vendor forbids serving the app without an access
	// barrier (site networks, basic auth or client certificates).
	NeedsBarrier bool
	// HealthPath answers 200 on a healthy app without a login ("" = none).
	HealthPath string
	// WebSocketProbes are app WebSocket paths the self-test may knock on;
	// "{uuid}" is replaced by a random UUID.
	WebSocketProbes []string
	// Notes are shown in the summary (what to configure on the app side).
	Notes []string
	// Docs is the vendor document the profile encodes.
	Docs string
}

const week = 7 * 24 * 3600

var profiles = map[string]Profile{
	"jatos": {
		Name:            "jatos",
		Title:           "JATOS",
		DefaultUpstream: "127.0.0.1:9000",
		Locations: []Location{
			// The test page's WebSocket is part of the admin GUI.
			{Path: "/jatos/testWebSocket", Match: Exact, WebSocket: true, Admin: true},
			{Path: "/jatos", Match: Prefix, Admin: true},
			// Study participants' group and batch channels (JATOS >= 3.7 routes).
			{Path: "^/publix/[a-z0-9-]+/(group/join|batch/open)$", Match: Regex, WebSocket: true},
			{Path: "/", Match: Prefix},
		},
		AdminPaths:       []string{"/jatos"},
		DefaultMaxBody:   "500M",
		WebSocketTimeout: week,
		RequestTimeout:   300,
		ReloadGrace:      time.Hour,
		ReloadGraceWhy:   "participants' group and batch channels, for study sessions of minutes to an hour",
		BasePath:         true,
		HealthPath:       "/ping",
		WebSocketProbes:  []string{"/publix/{uuid}/batch/open"},
		Notes: []string{
			"JATOS listens on all interfaces by default: set jatos.http.address = 127.0.0.1 so it is reachable only through the proxy.",
			"A base path must match JATOS's jatos.urlBasePath (it starts and ends with /).",
		},
		Docs: "JATOS docs: JATOS with Nginx (3.8), JATOS with Apache (3.9)",
	},
	"jupyterhub": {
		Name:            "jupyterhub",
		Title:           "JupyterHub",
		DefaultUpstream: "127.0.0.1:8000",
		Locations: []Location{
			{Path: "/hub/admin", Match: Prefix, WebSocket: true, Admin: true},
			// WebSockets on any proxied URL (kernels, terminals, services).
			{Path: "/", Match: Prefix, WebSocket: true},
		},
		AdminPaths:       []string{"/hub/admin"},
		DefaultMaxBody:   "0",
		WebSocketTimeout: 24 * 3600,
		RequestTimeout:   300,
		ReloadGrace:      6 * time.Hour,
		ReloadGraceWhy:   "notebook kernels and terminals run for hours; JupyterLab reconnects their WebSockets",
		BasePath:         true,
		HealthPath:       "/hub/health",
		WebSocketProbes:  []string{"/user/rpwizard-probe/api/kernels/{uuid}/channels"},
		Notes: []string{
			"Bind the hub to loopback: c.JupyterHub.bind_url = 'http://127.0.0.1:8000' (with the base path appended if you use one).",
		},
		Docs: "JupyterHub docs: Using a reverse proxy",
	},
	"cryosparc": {
		Name:            "cryosparc",
		Title:           "CryoSPARC",
		DefaultUpstream: "127.0.0.1:61000",
		Locations: []Location{
			{Path: "/", Match: Prefix, WebSocket: true},
		},
		DefaultMaxBody:   "0",
		WebSocketTimeout: 24 * 3600,
		RequestTimeout:   300,
		ReloadGrace:      6 * time.Hour,
		ReloadGraceWhy:   "processing jobs are watched for hours; the web app (Meteor) reconnects its live updates",
		NeedsBarrier:     true,
		HealthPath:       "/",
		Notes: []string{
			"CryoSPARC must not be reachable without an organisation-level access barrier; keep its base ports bound to loopback or firewalled.",
		},
		Docs: "CryoSPARC guide: Hosting CryoSPARC through a reverse proxy",
	},
	"generic": {
		Name:  "generic",
		Title: "generic app",
		Locations: []Location{
			{Path: "/", Match: Prefix, WebSocket: true},
		},
		DefaultMaxBody:   "100M",
		WebSocketTimeout: 24 * 3600,
		RequestTimeout:   300,
		ReloadGrace:      time.Hour,
		ReloadGraceWhy:   "an unknown app: an hour, then its clients reconnect",
		BasePath:         true,
		Docs:             "nginx WebSocket proxying; Apache mod_proxy",
	},
}

// Get returns the profile called name.
func Get(name string) (Profile, error) {
	p, ok := profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("unknown app %q: allowed are %s", name, strings.Join(Names(), ", "))
	}
	return p, nil
}

// Names lists the known app names, sorted.
func Names() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// WithAdminPaths returns a copy of p whose admin GUI is the given path
// prefixes (for generic apps, whose admin paths only the user knows). Each
// path gets its own restricted location, placed before the catch-all.
func (p Profile) WithAdminPaths(paths []string) Profile {
	if len(paths) == 0 {
		return p
	}
	q := p
	q.AdminPaths = append([]string(nil), paths...)
	q.Locations = nil
	for _, path := range paths {
		q.Locations = append(q.Locations, Location{Path: path, Match: Prefix, Admin: true, WebSocket: true})
	}
	q.Locations = append(q.Locations, p.Locations...)
	return q
}
