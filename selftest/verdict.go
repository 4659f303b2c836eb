package selftest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/rpwizard/rpwizard/profile"
)

// Verdict is the one-word outcome of a self-test, for people and for
// monitoring: the exit status of `rpwizard selftest` is its ExitCode.
type Verdict string

// The verdicts, as they appear in JSON. They are stable.
const (
	// VerdictOK: every check passed or only warned about something that
	// does not stop the site from working.
	VerdictOK Verdict = "ok"
	// VerdictProxyFault: at least one check failed; the proxy (its config,
	// certificate or ports) is at fault.
	VerdictProxyFault Verdict = "proxy_fault"
	// VerdictAppDown: the proxy works, but the app behind it does not
	// answer (502/503/504 from the proxy, or nothing listens on the
	// upstream). The site does not work until the app runs.
	VerdictAppDown Verdict = "app_down"
	// VerdictInterrupted: the run was stopped (Ctrl+C, SIGTERM) before it
	// finished; it says nothing about the site.
	VerdictInterrupted Verdict = "interrupted"
	// VerdictUntestable: the site could not be tested at all (its saved
	// answers do not load); see Result.
	VerdictUntestable Verdict = "untestable"
)

// Exit statuses of `rpwizard selftest`, one per verdict (ExitUsage is bad
// input, decided before any test runs).
const (
	ExitOK          = 0
	ExitProxyFault  = 1
	ExitUsage       = 2
	ExitAppDown     = 3
	ExitInterrupted = 130
)

// Verdict sums the checks up. A stopped run is VerdictInterrupted; any
// failed check makes VerdictProxyFault (even when the app is down too: the
// proxy must be fixed first); a warning marked AppDown makes
// VerdictAppDown; anything else is VerdictOK.
func (r Report) Verdict() Verdict {
	if r.Interrupted {
		return VerdictInterrupted
	}
	appDown := false
	for _, c := range r.Checks {
		if c.Status == Fail {
			return VerdictProxyFault
		}
		if c.AppDown && c.Status == Warn {
			appDown = true
		}
	}
	if appDown {
		return VerdictAppDown
	}
	return VerdictOK
}

// ExitCode is the exit status that goes with the verdict.
func (v Verdict) ExitCode() int {
	switch v {
	case VerdictOK:
		return ExitOK
	case VerdictAppDown:
		return ExitAppDown
	case VerdictInterrupted:
		return ExitInterrupted
	case VerdictUntestable:
		return ExitUsage
	}
	return ExitProxyFault
}

// ExitCode is the exit status of the report's verdict: 0 works, 1 proxy at
// fault, 3 app down, 130 interrupted.
func (r Report) ExitCode() int { return r.Verdict().ExitCode() }

// severity orders verdicts for Worst: a stopped run, then a proxy fault,
// then an app that is down.
func (v Verdict) severity() int {
	switch v {
	case VerdictOK:
		return 0
	case VerdictAppDown:
		return 1
	case VerdictUntestable:
		return 2
	case VerdictProxyFault:
		return 3
	case VerdictInterrupted:
		return 4
	}
	return 3
}

// Worst returns the most severe of the verdicts (VerdictOK for none):
// interrupted > proxy fault > untestable > app down > ok. `rpwizard selftest --all`
// exits with the worst verdict of its sites.
func Worst(vs ...Verdict) Verdict {
	w := VerdictOK
	for _, v := range vs {
		if v.severity() > w.severity() {
			w = v
		}
	}
	return w
}

// label is the verdict's first word(s) in the text report.
func (v Verdict) label() string {
	switch v {
	case VerdictOK:
		return "PASSED"
	case VerdictAppDown:
		return "APP DOWN"
	case VerdictInterrupted:
		return "STOPPED"
	case VerdictUntestable:
		return "NOT TESTED"
	}
	return "FAILED"
}

// Headline says the verdict in one plain sentence, e.g. "APP DOWN: the
// proxy works, but JupyterHub does not answer on 127.0.0.1:8000".
func (r Report) Headline() string {
	v := r.Verdict()
	switch v {
	case VerdictOK:
		return "PASSED: HTTPS and WebSockets work through the proxy"
	case VerdictAppDown:
		return "APP DOWN: the proxy works, but " + appTitle(r.App) + " does not answer " + upstreamWhere(r.Upstream)
	case VerdictInterrupted:
		n := 0
		for _, c := range r.Checks {
			if c.Interrupted {
				n++
			}
		}
		if len(r.Checks) == 0 {
			return "STOPPED by you before this site was tested"
		}
		return fmt.Sprintf("STOPPED by you: the self-test did not finish (%d of %d checks not run)", n, len(r.Checks))
	}
	var failed []string
	for _, c := range r.Checks {
		if c.Status == Fail {
			failed = append(failed, c.Name)
		}
	}
	return "FAILED: the proxy is at fault: " + strings.Join(failed, ", ")
}

// Advice is what to do about the verdict, in a sentence or two ("" when
// there is nothing to do or the failed checks' fixes say it).
func (r Report) Advice() string {
	switch r.Verdict() {
	case VerdictAppDown:
		t := appTitle(r.App)
		return "The site will not work until " + t + " runs. " + StartHint(r.App, r.Upstream) +
			", then run the self-test again."
	case VerdictInterrupted:
		return "Nothing was judged: run the self-test again to get a verdict."
	}
	return ""
}

// StartHint says how to start the app so that the proxy reaches it, as far
// as rpwizard can know (it does not know the unit names of the host), e.g.
// "Start JupyterHub so that it listens on 127.0.0.1:8000 (with systemd:
// sudo systemctl start jupyterhub, if that is its unit)".
func StartHint(app, upstream string) string {
	on := "on the address in the proxy's proxy_pass / ProxyPass line"
	if upstream != "" {
		on = "on " + upstream
	}
	switch app {
	case "jupyterhub":
		return "Start JupyterHub so that it listens " + on +
			" (c.JupyterHub.bind_url; with systemd: sudo systemctl start jupyterhub, if that is its unit)"
	case "jatos":
		return "Start JATOS so that it listens " + on +
			" (./loader.sh start in JATOS's directory, or sudo systemctl start jatos if it runs as that service)"
	case "cryosparc":
		return "Start CryoSPARC as the user that owns it (cryosparcm start) so that its web app listens " + on
	}
	return "Start the app so that it listens " + on + " (with systemd: sudo systemctl start <its unit>)"
}

// appTitle is the app's name for people ("JupyterHub"; "the app" when
// generic or unknown).
func appTitle(app string) string {
	if p, err := profile.Get(app); err == nil && app != "generic" {
		return p.Title
	}
	return "the app"
}

func upstreamWhere(upstream string) string {
	if upstream == "" {
		return "behind it"
	}
	return "on " + upstream
}

// upstreamNote connects to the app's upstream directly, once per run, and
// says what it found: "nothing listens on 127.0.0.1:8000 (connection
// refused)". It only runs after the proxy answered 502/503/504 for the app.
func (r *runner) upstreamNote(ctx context.Context) string {
	if r.t.Upstream == "" {
		return ""
	}
	if r.upstreamChecked {
		return r.upstreamText
	}
	r.upstreamChecked = true
	dctx, cancel := context.WithTimeout(ctx, min(r.t.Timeout, 3*time.Second))
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(dctx, "tcp", r.t.Upstream)
	switch {
	case err == nil:
		c.Close()
		r.upstreamText = r.t.Upstream + " accepts connections, yet the proxy got no answer through it: the app may still be starting, be overloaded or failing" +
			r.server.pick("", ", or Apache still counts it as down after an earlier failed attempt (it retries after 60 s)") +
			"; if the app answers when you open http://" + r.t.Upstream + "/ on this host, the proxy cannot reach it (SELinux: setsebool -P httpd_can_network_connect 1)"
	case ctx.Err() != nil:
		r.upstreamChecked = false // interrupted: no finding
		return ""
	case errors.Is(err, syscall.ECONNREFUSED):
		r.upstreamText = "nothing listens on " + r.t.Upstream + " (connection refused), so " + appTitle(r.t.App) + " is not running there"
	default:
		r.upstreamText = r.t.Upstream + " does not accept connections (" + unwrapNetError(err) + ")"
	}
	return r.upstreamText
}

// unwrapNetError is the innermost text of a dial error, without the
// "dial tcp …:" prefix that repeats the address.
func unwrapNetError(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// appDownCheck builds the warning for an app that does not answer behind
// the proxy: status is what the proxy answered, detail what was requested.
func (r *runner) appDownCheck(ctx context.Context, detail string, status int) Check {
	cause := fmt.Sprintf("The proxy works, but %s behind it does not answer (the proxy answers %s); this is not a proxy fault.",
		appTitle(r.t.App), statusText(status))
	if n := r.upstreamNote(ctx); n != "" {
		cause = fmt.Sprintf("The proxy works, but %s behind it does not answer (the proxy answers %s): %s.",
			appTitle(r.t.App), statusText(status), n)
	}
	return Check{Status: Warn, AppDown: true, Detail: detail, Cause: cause,
		Fix: StartHint(r.t.App, r.t.Upstream) + "; check that the address matches the proxy_pass / ProxyPass line."}
}

// isAppDownStatus reports whether a proxy's answer means the app behind
// it does not answer: 502 Bad Gateway, 503 Service Unavailable (Apache's
// answer to a refused connection), 504 Gateway Timeout.
func isAppDownStatus(status int) bool {
	return status == 502 || status == 503 || status == 504
}
