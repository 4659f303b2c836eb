package selftest

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// runner holds what the checks of one Run learn from each other.
type runner struct {
	t     Target
	names []string // Domain first, then Aliases

	dialIP  string // address every HTTP(S) connection goes to
	dialWhy string // how dialIP was chosen
	probeIP string // loopback address for the loopback-only locations

	httpOpen  bool // the HTTP port accepts connections
	httpsOpen bool // the HTTPS port accepts connections
	tlsOK     bool // a TLS ≥ 1.2 handshake works
	served    []*x509.Certificate
	alpn      string

	server      serverKind
	hostChanged bool // the backend saw another Host than the browser sent

	probeStartErr error // ServeProbe failed
	probeNote     string
	probeReady    bool // the probe location answers with the probe
	probeMissing  bool // the config has no probe location

	upstreamChecked bool   // upstreamNote dialled the upstream
	upstreamText    string // what it found

	page *http.Client // h2 + http/1.1, to dialIP
	h1   *http.Client // http/1.1 only, to dialIP
	lo   *http.Client // h2 + http/1.1, to probeIP
	lo1  *http.Client // http/1.1 only, to probeIP
}

// Run performs every check against t and returns the report. It serves the
// probe socket for the duration of the run (or uses a probe that is already
// running there). Run never panics on a broken site and returns when ctx
// ends, with the remaining checks marked as skipped.
func Run(ctx context.Context, t Target) Report {
	start := time.Now()
	t = t.withDefaults()
	r := &runner{t: t, names: append([]string{t.Domain}, lowerAll(t.Aliases)...)}
	rep := Report{Target: t.Domain, App: t.App, Upstream: t.Upstream}
	if t.Domain == "" {
		rep.Checks = []Check{{Name: CheckDNS, Status: Fail, Detail: "no domain name given",
			Cause: "The self-test needs the site's name.", Fix: "Pass the domain, e.g. --domain app.example.org."}}
		rep.Duration = time.Since(start)
		return rep
	}

	stop, err := ServeProbe(ctx, t.ProbeSocket)
	switch {
	case err == nil:
		defer stop()
	case errors.Is(err, ErrProbeInUse):
		r.probeNote = "using the probe already running on " + t.ProbeSocket
	default:
		r.probeStartErr = err
	}
	defer func() {
		for _, c := range []*http.Client{r.page, r.h1, r.lo, r.lo1} {
			closeIdle(c)
		}
	}()

	var checks []Check
	do := func(name string, fn func(context.Context) Check) {
		checks = append(checks, r.timed(ctx, name, t.Timeout, fn))
	}
	do(CheckDNS, r.checkDNS)
	do(CheckTCPHTTP, r.checkTCPHTTP)
	do(CheckTCPHTTPS, r.checkTCPHTTPS)
	r.page = newClient(r.dialIP, []string{"h2", "http/1.1"})
	r.h1 = newClient(r.dialIP, []string{"http/1.1"})
	r.lo = newClient(r.probeIP, []string{"h2", "http/1.1"})
	r.lo1 = newClient(r.probeIP, []string{"http/1.1"})
	do(CheckRedirect, r.checkRedirect)
	do(CheckTLSVersion, r.checkTLSVersion)
	do(CheckTLSCert, r.checkTLSCert)
	do(CheckCertFile, r.checkCertFile)
	do(CheckHSTS, r.checkHSTS)
	do(CheckHeaders, r.checkHeaders)
	do(CheckWebSocket, r.checkWebSocket)
	do(CheckStreaming, r.checkStreaming)

	// The idle hold runs while the remaining checks do, so a long hold does
	// not add to their time.
	holdAt := len(checks)
	checks = append(checks, Check{})
	hold := make(chan Check, 1)
	srv := r.server
	go func() {
		hold <- r.timed(ctx, CheckIdleHold, t.Hold+2*t.Timeout, func(ctx context.Context) Check {
			return r.checkIdleHold(ctx, srv)
		})
	}()

	do(CheckAppWebSocket, r.checkAppWebSockets)
	checks = append(checks, r.timed(ctx, CheckUpload, t.uploadTimeout(), r.checkUpload))
	do(CheckAdmin, r.checkAdmin)
	checks[holdAt] = <-hold

	rep.Target = r.describe()
	rep.Checks = checks
	rep.Duration = time.Since(start)
	for _, c := range checks {
		rep.Interrupted = rep.Interrupted || c.Interrupted
	}
	return rep
}

// timed runs one check with its own timeout, names it and measures it.
// When ctx (the run's context, not the check's timeout) ends before or
// during the check, a check that did not pass is marked skipped as
// interrupted: what a cut-off request saw says nothing about the site.
func (r *runner) timed(ctx context.Context, name string, timeout time.Duration, fn func(context.Context) Check) Check {
	start := time.Now()
	if ctx.Err() != nil {
		return interruptedCheck(name, "not run: interrupted", 0)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := fn(cctx)
	c.Name = name
	c.Duration = time.Since(start)
	if c.Status == "" {
		c.Status = Pass
	}
	if ctx.Err() != nil && c.Status != Pass {
		return interruptedCheck(name, "interrupted before it finished", c.Duration)
	}
	return c
}

// interruptedCheck is a check that the run's end cut short.
func interruptedCheck(name, detail string, d time.Duration) Check {
	return Check{Name: name, Status: Skip, Interrupted: true, Detail: detail, Duration: d}
}

// describe is the report's Target line.
func (r *runner) describe() string {
	s := r.t.Domain
	if len(r.t.Aliases) > 0 {
		s += " (+" + strings.Join(r.t.Aliases, ", ") + ")"
	}
	if r.t.HTTPPort != 80 || r.t.HTTPSPort != 443 {
		s += fmt.Sprintf(", ports %d/%d", r.t.HTTPPort, r.t.HTTPSPort)
	}
	if r.dialIP != "" {
		s += ", via " + r.dialIP
	}
	return s
}

// httpsURL is https://Domain[:port]path.
func (r *runner) httpsURL(path string) string {
	return "https://" + r.publicHost() + path
}

// publicHost is the Host a browser sends for the HTTPS site.
func (r *runner) publicHost() string {
	return hostPort(r.t.Domain, r.t.HTTPSPort, 443)
}

// noteServer remembers which proxy answered.
func (r *runner) noteServer(resp *http.Response) {
	if resp == nil || r.server != serverUnknown {
		return
	}
	r.server = kindFromHeader(resp.Header.Get("Server"))
}

// fix returns the instruction for the proxy in use.
func (r *runner) fix(nginx, apache string) string {
	return r.server.pick(nginx, apache)
}

// needHTTPS returns a skip check when the HTTPS hop is known to be broken.
func (r *runner) needHTTPS() (Check, bool) {
	switch {
	case !r.httpsOpen:
		return Check{Status: Skip, Detail: "skipped: the HTTPS port is not reachable"}, false
	case !r.tlsOK:
		return Check{Status: Skip, Detail: "skipped: no TLS 1.2+ handshake possible"}, false
	}
	return Check{}, true
}

// needProbe returns a skip check when the probe location cannot be used.
func (r *runner) needProbe() (Check, bool) {
	if c, ok := r.needHTTPS(); !ok {
		return c, false
	}
	switch {
	case r.probeMissing:
		return Check{Status: Skip, Detail: "skipped: the config has no probe location " + ProbePath}, false
	case !r.probeReady:
		return Check{Status: Skip, Detail: "skipped: the probe is not reachable through the proxy"}, false
	}
	return Check{}, true
}

// nonce is a random hex string.
func nonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randomUUID is a random version-4 UUID.
func randomUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func lowerAll(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
