package steps

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/profile"
	"github.com/rpwizard/rpwizard/server"
)

// limitsStep is the step name of the server-limits warnings.
const limitsStep = "server limits"

// planLimits raises the server's connection limits for expected_websockets
// (server.Limited: nginx's worker_connections and worker_rlimit_nofile,
// Apache's event MPM, whose ServerLimit leaves room for a graceful
// restart's old processes) and sets nginx's worker_shutdown_timeout (see
// ShutdownTimeout), with the same backup, config test, reload and rollback
// as every other change. It only ever raises a limit, and edits the
// directives in place (comments, includes and every other line stay as
// they are) in the file where the config the server runs has them (an
// included file too; see server.Limited), never adding one the server has
// elsewhere, so a second run with the same answers plans nothing. The
// preflight check reads the limits with the same parser, so it says they
// are short exactly when this raises them, and warns where this will not
// (a directive in a file outside the server's directory).
func planLimits(ctx context.Context, e *Env) ([]installer.Change, error) {
	kept := e.Warnings[:0]
	for _, w := range e.Warnings {
		if w.Step != limitsStep {
			kept = append(kept, w)
		}
	}
	e.Warnings = kept
	lim, ok := e.Proxy.(server.Limited)
	if !ok {
		return nil, nil
	}
	r := server.LimitsRequest{Want: max(e.Answers.ExpectedWebSockets, 0), NCPU: runtime.NumCPU()}
	if e.Answers.Server == "nginx" {
		apps, acme := e.hostSites()
		every := 0
		if acme {
			every = e.renewEvery()
		}
		r.Shutdown = ShutdownTimeout(apps, every)
	}
	p, err := lim.PlanLimits(ctx, r, e.Server)
	for _, w := range p.Warnings {
		e.Warn(limitsStep, w.Msg, w.Fix)
	}
	return p.Changes, err
}

// hostSites are the apps of the sites on this site's server (this one and
// the others rpwizard manages, from their saved answers), and whether any
// of them renews an ACME certificate.
func (e *Env) hostSites() (apps []string, acme bool) {
	apps = []string{e.Answers.App}
	acme = e.Answers.TLS.Mode == "acme"
	files, _ := filepath.Glob(filepath.Join(SitesDir(e.Host), "*.yaml"))
	for _, f := range files {
		a, err := answers.Load(f, e.Host.Installed)
		if err != nil || a.Domain == e.Answers.Domain || a.Server != e.Answers.Server {
			continue
		}
		apps = append(apps, a.App)
		acme = acme || a.TLS.Mode == "acme"
	}
	return apps, acme
}

// ShutdownTimeout is nginx's worker_shutdown_timeout for a host whose
// nginx sites serve apps, renewing certificates every renewEvery hours (0:
// no ACME site, so no renewal reloads).
//
// A reload starts new workers and lets the old ones finish their
// connections; a WebSocket held through it keeps its old worker (and the
// worker its memory) until it closes, which with rpwizard's WebSocket
// timeouts (up to 7 days idle) may take a week, and every renewal adds a
// generation. worker_shutdown_timeout closes what is left after the
// timeout, and the app's client reconnects to a new worker. The timeout is
// the longest grace of the apps' profiles (profile.ReloadGrace: 6 h for
// JupyterHub and CryoSPARC, whose sessions run for hours and whose
// clients reconnect; 1 h for JATOS and generic apps), capped below the
// renewal interval (an hour less, at least half of it: 3 h with 6-day
// certificates renewed every 4 hours) so that one renewal's old workers
// are gone before the next renewal reloads.
func ShutdownTimeout(apps []string, renewEvery int) server.ShutdownTimeout {
	seen := map[string]bool{}
	var names []string
	for _, a := range apps {
		if _, err := profile.Get(a); err == nil && !seen[a] {
			seen[a] = true
			names = append(names, a)
		}
	}
	sort.Strings(names)
	var best profile.Profile
	var each []string
	for _, n := range names {
		p, _ := profile.Get(n)
		if p.ReloadGrace > best.ReloadGrace {
			best = p
		}
		each = append(each, n+" "+server.NginxDuration(p.ReloadGrace))
	}
	if best.ReloadGrace == 0 {
		return server.ShutdownTimeout{}
	}
	d := best.ReloadGrace
	grace := best.Name + ": " + best.ReloadGraceWhy
	if len(each) > 1 {
		grace = fmt.Sprintf("the longest of %s (%s)", strings.Join(each, ", "), grace)
	}
	if renewEvery > 0 {
		every := time.Duration(renewEvery) * time.Hour
		if limit := max(every-time.Hour, every/2); d > limit {
			d = limit
			grace += fmt.Sprintf("; %s cut below the renewals every %d hours, so that one renewal's old workers are gone before the next",
				server.NginxDuration(best.ReloadGrace), renewEvery)
		}
	}
	why := fmt.Sprintf("old workers close WebSockets held through a reload after %s; %s", server.NginxDuration(d), grace)
	return server.ShutdownTimeout{D: d, Why: why}
}
