// Package installer is the only code that touches the host: it writes
// files atomically, links sites and modules, runs config tests, reloads
// the proxy server and, on any failure or signal, puts every file back as
// it was and reloads the old config.
//
// Steps describe what they want as Changes (data); a Tx applies them with
// a journal of backups kept under the state directory, so that a run that
// dies half-way is rolled back by the next one.
package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"
)

// Kind is what a Change does.
type Kind int

const (
	// WriteFile writes Data to Path with Mode, atomically.
	WriteFile Kind = iota
	// Remove deletes Path.
	Remove
	// Symlink makes Path a symbolic link to Target.
	Symlink
	// Mkdir creates the directory Path with Mode.
	Mkdir
	// Reload config-tests the server and reloads it (or starts it when it
	// is stopped), if any file changed since the last reload.
	Reload
	// Run executes Argv (never through a shell). Undo, if set, is run on
	// rollback before the files are restored; UndoAfter, if set, after
	// them.
	Run
	// Action runs Do, a step of Go code that may itself apply Changes
	// through the Tx (obtaining a certificate, the self-test).
	Action
)

// Change is one planned modification of the host.
type Change struct {
	Kind   Kind
	Path   string
	Data   []byte
	Mode   fs.FileMode
	Target string
	Argv   []string
	// Undo is run on rollback (and undo) before the files are restored,
	// while the files the run wrote are still there: it stops what the
	// command started (a timer whose unit the run installed).
	Undo []string
	// UndoAfter is run on rollback (and undo) after the files are
	// restored: it brings back what needs the restored files (a timer
	// whose unit the run removed, started again once the unit is back).
	// Of several, the last recorded runs first, as with Undo.
	UndoAfter []string
	Do        func(ctx context.Context, tx *Tx) error
	// Generate, when set, makes a WriteFile's data at apply time instead
	// of Data (key material: a plan must not hold it, and two plans of the
	// same answers must be the same). Such a change is never a no-op.
	Generate func() ([]byte, error)
	// Secret hides Data in plans and diffs (private keys).
	Secret bool
	// Why says in a few words what the change is for.
	Why string
}

// Noop reports whether the host already looks as the change wants, so the
// change can be left out of the plan. Reload, Run and Action are never
// no-ops by themselves.
func (c Change) Noop() bool {
	switch c.Kind {
	case WriteFile:
		if c.Generate != nil {
			return false
		}
		fi, err := os.Lstat(c.Path)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != c.Mode.Perm() {
			return false
		}
		old, err := os.ReadFile(c.Path)
		return err == nil && bytes.Equal(old, c.Data)
	case Remove:
		_, err := os.Lstat(c.Path)
		return errors.Is(err, fs.ErrNotExist)
	case Symlink:
		t, err := os.Readlink(c.Path)
		return err == nil && t == c.Target
	case Mkdir:
		fi, err := os.Stat(c.Path)
		return err == nil && fi.IsDir()
	}
	return false
}

// Touches reports whether the change modifies a file.
func (c Change) Touches() bool {
	return c.Kind == WriteFile || c.Kind == Remove || c.Kind == Symlink || c.Kind == Mkdir
}

// Describe is a one-line summary, for progress and plans.
func (c Change) Describe() string {
	var s string
	switch c.Kind {
	case WriteFile:
		verb := "write"
		if _, err := os.Lstat(c.Path); err == nil {
			verb = "update"
		}
		s = fmt.Sprintf("%s %s (%04o)", verb, c.Path, c.Mode.Perm())
	case Remove:
		s = "remove " + c.Path
	case Symlink:
		s = fmt.Sprintf("link %s -> %s", c.Path, c.Target)
	case Mkdir:
		s = fmt.Sprintf("create directory %s (%04o)", c.Path, c.Mode.Perm())
	case Reload:
		s = "config test, then reload"
	case Run:
		s = "run " + strings.Join(c.Argv, " ")
		if len(c.UndoAfter) > 0 {
			s += " (a rollback runs " + strings.Join(c.UndoAfter, " ") + " once the files are back)"
		}
	case Action:
		s = c.Why
	}
	if c.Why != "" && c.Kind != Action {
		s += "  # " + c.Why
	}
	return s
}

// Diff is a unified diff of what a WriteFile, Remove or Symlink change does
// to the file ("" for other kinds and for secrets).
func (c Change) Diff() string {
	old := ""
	if b, err := os.ReadFile(c.Path); err == nil {
		old = string(b)
	}
	switch c.Kind {
	case WriteFile:
		if c.Generate != nil {
			return fmt.Sprintf("(%s: made when applied, not shown)\n", c.Path)
		}
		if c.Secret {
			return fmt.Sprintf("(%s: %d bytes, secret, not shown)\n", c.Path, len(c.Data))
		}
		from := c.Path
		if old == "" {
			from = "/dev/null"
		}
		return udiff.Unified(from, c.Path, old, string(c.Data))
	case Remove:
		if fi, err := os.Lstat(c.Path); c.Secret || err != nil || !fi.Mode().IsRegular() {
			return "" // a link or a directory has no content to show
		}
		return udiff.Unified(c.Path, "/dev/null", old, "")
	}
	return ""
}

// Plan is the ordered list of changes of one run, grouped by step.
type Plan struct {
	Steps []PlannedStep
}

// PlannedStep is one step's share of a plan.
type PlannedStep struct {
	Name    string
	Changes []Change
}

// Empty reports whether the plan modifies nothing on the host.
func (p *Plan) Empty() bool {
	for _, s := range p.Steps {
		for _, c := range s.Changes {
			if c.Touches() || c.Kind == Run {
				return false
			}
		}
	}
	return true
}

// Render writes the plan for humans: per step, each change, and the
// unified diff of each file.
func (p *Plan) Render(diffs bool) string {
	var b strings.Builder
	for _, s := range p.Steps {
		if len(s.Changes) == 0 {
			continue
		}
		fmt.Fprintf(&b, "== %s\n", s.Name)
		for _, c := range s.Changes {
			fmt.Fprintf(&b, "  - %s\n", c.Describe())
			if diffs {
				if d := c.Diff(); d != "" {
					for _, line := range strings.Split(strings.TrimRight(d, "\n"), "\n") {
						b.WriteString("      " + line + "\n")
					}
				}
			}
		}
	}
	if p.Empty() {
		b.WriteString("no changes: the host already matches these answers\n")
	}
	return b.String()
}
