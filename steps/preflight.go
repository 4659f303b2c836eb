package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/preflight"
)

// preflightStep is the step name of preflight warnings.
const preflightStep = "preflight"

// planPreflight checks the host before anything is touched (package
// preflight). A blocking finding refuses the run (*RefusedError, exit 2);
// a warning is recorded with e.Warn; consented fixes (install_missing,
// take_over, expected_websockets) come back as planned changes, in the
// order they must run: package installs first. Each check that passed
// shows as a line of the plan ("checked …"), so --dry-run prints every
// result.
func planPreflight(ctx context.Context, e *Env) ([]installer.Change, error) {
	return runPreflight(ctx, e, preflight.Gather(ctx, e.Answers, e.Host, e.modules()))
}

// runPreflight turns the findings of in into warnings, a refusal or
// planned changes (tests call it with a prepared Input).
func runPreflight(ctx context.Context, e *Env, in *preflight.Input) ([]installer.Change, error) {
	// Planning again (the wizard's back button) must not repeat warnings.
	kept := e.Warnings[:0]
	for _, w := range e.Warnings {
		if w.Step != preflightStep {
			kept = append(kept, w)
		}
	}
	e.Warnings = kept
	e.Host.Installing = nil

	findings := preflight.Run(ctx, in)
	var refusals []preflight.Finding
	var notes, installs, fixes []installer.Change
	for _, f := range findings {
		switch f.Severity {
		case preflight.Block:
			refusals = append(refusals, f)
			continue
		case preflight.Warn:
			e.Warn(preflightStep, f.Check+": "+f.Msg, f.Fix)
		case preflight.OK, preflight.Skip:
			notes = append(notes, checkedNote(f))
		}
		e.Host.Installing = append(e.Host.Installing, f.Installs...)
		for _, c := range f.Changes {
			if c.Kind == installer.Run && isPackageCommand(c.Argv) {
				installs = append(installs, c)
			} else {
				fixes = append(fixes, c)
			}
		}
	}
	if len(refusals) > 0 {
		return nil, refusal(refusals)
	}
	return append(append(notes, installs...), fixes...), nil
}

// checkedNote is a plan line that shows a check's result; applying it does
// nothing.
func checkedNote(f preflight.Finding) installer.Change {
	return installer.Change{Kind: installer.Action, Why: fmt.Sprintf("checked %s: %s", f.Check, f.Msg),
		Do: func(context.Context, *installer.Tx) error { return nil }}
}

// isPackageCommand: installs run before the other fixes (semanage comes
// with a package, a server's config with its package).
func isPackageCommand(argv []string) bool {
	for _, a := range argv {
		switch a {
		case "apt-get", "dnf", "yum":
			return true
		}
	}
	return false
}

// refusal is the first blocking finding; the others are listed with it so
// that the user can fix everything in one go.
func refusal(fs []preflight.Finding) error {
	r := &RefusedError{Check: fs[0].Check, Msg: fs[0].Msg, Fix: fs[0].Fix}
	if len(fs) > 1 {
		var b strings.Builder
		b.WriteString(r.Fix)
		for _, f := range fs[1:] {
			fmt.Fprintf(&b, "\nalso refused: %s: %s", f.Check, f.Msg)
			if f.Fix != "" {
				fmt.Fprintf(&b, "\n  fix: %s", f.Fix)
			}
		}
		r.Fix = b.String()
	}
	return r
}
