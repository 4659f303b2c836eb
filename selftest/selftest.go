// Package selftest proves, hop by hop, that a site is served over HTTPS by
// nginx or Apache, that WebSockets work through the proxy, and names exactly
// what is broken when they do not.
//
// Run is the last step of every apply and the body of `rpwizard selftest`.
// The generated proxy configs contain a loopback-only probe location,
// ProbePath, proxied with the same settings as the app's WebSocket locations to
// a unix socket; Run serves that socket itself (see ServeProbe) for the
// duration of the test, so the proxy hop can be tested independently of the
// app.
//
// The checks run in a fixed order (name resolution, TCP, redirect, TLS, HSTS,
// proxy headers, WebSocket upgrade, idle hold, the app's own WebSockets,
// upload limit, admin restriction). A check is skipped only when something it
// needs is impossible (for example no TLS handshake at all); otherwise every
// check runs, so one report names every broken hop.
//
// The certificate is judged by the TLS checks alone. The HTTP-level checks
// that follow connect with certificate verification off, so that an expired
// or wrong certificate does not hide a WebSocket problem behind it. They only
// ever talk to the address being tested and send nothing secret.
package selftest

import (
	"context"
	"net"
	"strings"
	"time"
)

// Status is the outcome of one check.
type Status string

// The possible outcomes of a check.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Names of the checks, in the order Run performs them. They are stable and
// may be matched by callers (for example to decide what to retry).
const (
	CheckDNS          = "name resolution"
	CheckTCPHTTP      = "TCP to HTTP port"
	CheckTCPHTTPS     = "TCP to HTTPS port"
	CheckRedirect     = "HTTP to HTTPS"
	CheckTLSVersion   = "TLS version"
	CheckTLSCert      = "TLS certificate"
	CheckCertFile     = "certificate on disk"
	CheckHSTS         = "HSTS"
	CheckHeaders      = "proxy headers"
	CheckWebSocket    = "WebSocket upgrade"
	CheckStreaming    = "response streaming"
	CheckIdleHold     = "WebSocket idle hold"
	CheckAppWebSocket = "app WebSockets"
	CheckUpload       = "upload size limit"
	CheckAdmin        = "admin restriction" // also checks restrict.site_networks
)

// ProbePath is the location, in the HTTPS server of the generated proxy
// config, that is proxied to the probe socket. Everything below it is proxied
// too.
const ProbePath = "/.well-known/rpwizard/probe"

// DefaultProbeSocket is where the proxy configs expect the probe server.
const DefaultProbeSocket = "/run/rpwizard/probe.sock"

// DefaultTimeout is the per-check timeout when Target.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// DefaultProductionHold is the idle-hold duration the CLI uses when the user
// asks for the idle test: longer than nginx's default 60 s proxy_read_timeout.
const DefaultProductionHold = 65 * time.Second

// Check is the result of one step of the self-test.
type Check struct {
	// Name is one of the Check* constants.
	Name string
	// Status is pass, warn, fail or skip.
	Status Status
	// Duration is how long the check took.
	Duration time.Duration
	// Detail says what was observed, in one line.
	Detail string
	// Cause is the most likely cause of a warning or failure, in plain words.
	Cause string
	// Fix says what to change, in one or two sentences.
	Fix string
	// AppDown marks a warning that says the app behind the proxy does not
	// answer (502/503/504 from the proxy, or nothing listens on the
	// upstream): the proxy did its part. See Report.Verdict.
	AppDown bool
	// Interrupted marks a check that the run's context cut short (Ctrl+C,
	// SIGTERM): it is skipped, not failed.
	Interrupted bool
}

// Report is the outcome of Run.
type Report struct {
	// Target is the tested site, e.g. "app.example.org (via 127.0.0.1)".
	Target string
	// Checks are in the order they were performed.
	Checks []Check
	// Duration is the wall time of the whole run.
	Duration time.Duration
	// Interrupted says the run was stopped (its context ended: Ctrl+C,
	// SIGTERM) before every check finished; the checks it cut short are
	// skipped. Callers headline it as stopped by the user, not as a fault.
	Interrupted bool
	// App and Upstream are the tested app and where the proxy sends it
	// (from the Target), for the verdict's headline.
	App, Upstream string
}

// OK reports whether no check failed. Warnings and skips are allowed.
func (r Report) OK() bool {
	for _, c := range r.Checks {
		if c.Status == Fail {
			return false
		}
	}
	return true
}

// Find returns the first check with the given name.
func (r Report) Find(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// Resolver looks up the addresses of a host name. *net.Resolver implements it.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Target describes the site to test.
type Target struct {
	// Domain is the site's main name; Aliases are further names it serves.
	Domain  string
	Aliases []string
	// App is "jatos", "jupyterhub", "cryosparc" or "generic".
	App string
	// Upstream is the app's host:port as the proxy config has it, e.g.
	// "127.0.0.1:8000"; "" when unknown. When the proxy answers 502/503/504
	// for the app, the self-test connects to it directly to tell "the app is
	// down" from "the proxy cannot reach a running app".
	Upstream string
	// BasePath is "/" or a sub-path such as "/jhub/".
	BasePath string
	// Connect is the IP address to dial instead of resolving the name
	// (curl --resolve style), e.g. "127.0.0.1"; "" resolves Domain.
	Connect string
	// HTTPPort and HTTPSPort default to 80 and 443.
	HTTPPort, HTTPSPort int
	// CABundle is a PEM file with extra trusted roots (private CA or a
	// self-signed certificate); "" uses the system roots only.
	CABundle string
	// CertFile is the certificate file on disk the server should be serving;
	// "" skips that comparison.
	CertFile string
	// HSTS says whether a Strict-Transport-Security header is expected.
	HSTS bool
	// MaxBody is the request body size in bytes the proxy should accept;
	// 0 means unlimited and skips the 413 probe.
	MaxBody int64
	// Hold is how long to hold an idle WebSocket open through the proxy;
	// 0 skips the idle test. See DefaultProductionHold.
	Hold time.Duration
	// WebSocketPaths are the app's real WebSocket paths to probe, relative to
	// BasePath (a path that already starts with BasePath is used as is).
	// "{uuid}" is replaced by a fresh random UUID. Empty means the app's
	// defaults: JATOS "publix/{uuid}/batch/open", JupyterHub "hub/api/events".
	WebSocketPaths []string
	// AdminPaths are paths restricted to admin networks (JATOS "/jatos"),
	// relative to BasePath like WebSocketPaths.
	AdminPaths []string
	// AdminAllowedFromHere says whether this host's address is in the admin
	// networks; false means the admin paths must answer 403 here.
	AdminAllowedFromHere bool
	// AdminNetworks and SiteNetworks are the configured restrictions
	// (restrict.admin_networks, restrict.site_networks). The restriction
	// check runs whenever either is set and names what it checked; with
	// SiteNetworks it expects the site to answer 403 from this host's
	// loopback address unless that address is in SiteNetworks.
	AdminNetworks, SiteNetworks []string
	// Streaming says whether the app's answers must reach the browser as
	// they are written (JupyterHub's spawn progress, server-sent events): the
	// probe location, proxied like the app, must not buffer a slow answer.
	Streaming bool
	// ProbeSocket is the probe's unix socket; default DefaultProbeSocket.
	ProbeSocket string
	// Timeout is the per-check timeout; default DefaultTimeout.
	Timeout time.Duration
	// Resolver resolves Domain and Aliases; nil uses net.DefaultResolver.
	Resolver Resolver
}

// withDefaults returns a copy of t with every zero field that has a default
// filled in and BasePath normalised to "/…/".
func (t Target) withDefaults() Target {
	t.Domain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(t.Domain)), ".")
	if t.HTTPPort == 0 {
		t.HTTPPort = 80
	}
	if t.HTTPSPort == 0 {
		t.HTTPSPort = 443
	}
	if t.ProbeSocket == "" {
		t.ProbeSocket = DefaultProbeSocket
	}
	if t.Timeout <= 0 {
		t.Timeout = DefaultTimeout
	}
	if t.Resolver == nil {
		t.Resolver = net.DefaultResolver
	}
	if t.App == "" {
		t.App = "generic"
	}
	t.App = strings.ToLower(t.App)
	t.BasePath = normaliseBase(t.BasePath)
	return t
}

// normaliseBase turns "", "jhub", "/jhub" and "/jhub/" into "/" or "/jhub/".
func normaliseBase(p string) string {
	p = strings.Trim(strings.TrimSpace(p), "/")
	if p == "" {
		return "/"
	}
	return "/" + p + "/"
}

// joinBase puts p below base unless p already starts with base.
func joinBase(base, p string) string {
	if strings.HasPrefix(p, base) {
		return p
	}
	return base + strings.TrimPrefix(p, "/")
}
