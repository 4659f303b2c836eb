package steps

import (
	"context"
	"runtime"

	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/server"
)

// limitsStep is the step name of the server-limits warnings.
const limitsStep = "server limits"

// planLimits raises the server's connection limits for expected_websockets
// (server.Limited: nginx's worker_connections and worker_rlimit_nofile,
// Apache's event MPM), with the same backup, config test, reload and
// rollback as every other change. It only ever raises a limit, and edits
// the directives in place (comments, includes and every other line stay
// as they are), so a second run with the same answers plans nothing. The
// preflight check reads the limits with the same parser, so it says they
// are short exactly when this raises them.
func planLimits(ctx context.Context, e *Env) ([]installer.Change, error) {
	kept := e.Warnings[:0]
	for _, w := range e.Warnings {
		if w.Step != limitsStep {
			kept = append(kept, w)
		}
	}
	e.Warnings = kept
	want := e.Answers.ExpectedWebSockets
	lim, ok := e.Proxy.(server.Limited)
	if want <= 0 || !ok {
		return nil, nil
	}
	p, err := lim.PlanLimits(ctx, want, runtime.NumCPU(), e.Server)
	for _, w := range p.Warnings {
		e.Warn(limitsStep, w.Msg, w.Fix)
	}
	return p.Changes, err
}
