package steps

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/preflight"
)

// preflightStep is the step name of preflight warnings.
const preflightStep = "preflight"

// planPreflight checks the host before anything is touched (package
// preflight). A blocking finding refuses the run (*RefusedError, exit 2);
// a warning is recorded with e.Warn; consented fixes (install_missing,
// take_over) come back from preflight as descriptions (preflight.Fix) and
// are planned here as changes, in the order they must run: package
// installs first. Each check that passed
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
	e.Installing = nil

	findings := preflight.Run(ctx, in)
	var refusals []preflight.Finding
	var consented []preflight.Fix
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
		for _, fix := range f.Fixes {
			if fix.Server != "" {
				e.Installing = append(e.Installing, fix.Server)
			}
			consented = append(consented, fix)
		}
	}
	if len(refusals) > 0 {
		return nil, refusal(refusals)
	}
	for _, fix := range consented {
		changes, err := fixChanges(e.Host.Layout, fix)
		if err != nil {
			return nil, err
		}
		if fix.Install != nil {
			installs = append(installs, changes...)
		} else {
			fixes = append(fixes, changes...)
		}
	}
	return append(append(notes, installs...), fixes...), nil
}

// checkedNote is a plan line that shows a check's result; applying it does
// nothing.
func checkedNote(f preflight.Finding) installer.Change {
	return installer.Change{Kind: installer.Action, Why: fmt.Sprintf("checked %s: %s", f.Check, f.Msg),
		Do: func(context.Context, *installer.Tx) error { return nil }}
}

// fixChanges plans a consented fix. Installs run before the other fixes
// (semanage comes with a package, a server's config with its package).
func fixChanges(l host.Layout, f preflight.Fix) ([]installer.Change, error) {
	switch {
	case f.Install != nil:
		var changes []installer.Change
		if f.Refresh {
			changes = append(changes, installer.Change{Kind: installer.Run, Argv: l.RefreshCommand(), Why: "fetch the package lists (there are none)"})
		}
		install := installer.Change{Kind: installer.Run, Argv: l.InstallCommand(f.Install...), Undo: l.RemoveCommand(f.Install...), Why: f.Why}
		if f.Keep {
			install.Undo = nil
		}
		return append(changes, install), nil
	case f.TakeOver != nil:
		return takeOverChanges(f.Why, *f.TakeOver)
	}
	return []installer.Change{{Kind: installer.Run, Argv: f.Argv, Undo: f.Undo, Why: f.Why}}, nil
}

// takeOverChanges disables a foreign site file, every step journalled:
// a link is removed, or kept as a link at Dest; a file is copied to Dest
// (its mode kept) and removed.
func takeOverChanges(why string, o preflight.TakeOver) ([]installer.Change, error) {
	remove := installer.Change{Kind: installer.Remove, Path: o.Path, Why: why}
	switch {
	case o.Dest == "":
		return []installer.Change{remove}, nil
	case o.Link != "":
		return []installer.Change{{Kind: installer.Symlink, Path: o.Dest, Target: o.Link, Why: why + " (keep the link)"}, remove}, nil
	}
	fi, err := os.Stat(o.Path)
	if err != nil {
		return nil, fmt.Errorf("take over %s: %w", o.Path, err)
	}
	data, err := os.ReadFile(o.Path)
	if err != nil {
		return nil, fmt.Errorf("take over %s: %w", o.Path, err)
	}
	return []installer.Change{{Kind: installer.WriteFile, Path: o.Dest, Data: data, Mode: fi.Mode().Perm() & fs.ModePerm, Why: why + " (keep a copy)"}, remove}, nil
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
