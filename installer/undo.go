package installer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	udiff "github.com/aymanbagabas/go-udiff"
)

// Undo restores the files of the last committed run as they were before
// it, config-tests and reloads the server — or, when that run started
// the server, stops it again (see serverAfterUndo). Only the most recent
// run can be undone: an earlier one's backups may no longer match what
// later runs changed. It returns the backup directory it restored from;
// log receives what was restored and what the server was checked to do.
func Undo(ctx context.Context, stateDir string, server *Server, log func(string)) (string, error) {
	tx, err := Begin(ctx, stateDir, server, log)
	if err != nil {
		return "", err
	}
	defer tx.release()
	jf, j, err := lastCommitted(stateDir, server.Name)
	if err != nil {
		return "", err
	}
	return undoJournal(ctx, stateDir, filepath.Dir(jf), j, server, tx.log)
}

// undoJournal puts back the committed run of journal j (backups in dir)
// and marks it undone: the undo commands, the files, then the server's
// state as before the run (stopped again, or reloaded: serverAfterUndo).
// The caller holds the lock.
func undoJournal(ctx context.Context, stateDir, dir string, j journal, server *Server, log func(string)) (string, error) {
	stop, why := serverAfterUndo(j, laterRuns(stateDir, j.ID), server.Identity(), server.Name)
	// The server is reloaded (or stopped) only when PlanUndo says so: a
	// run that changed no file gets no reload.
	touch := stop || len(j.Entries) > 0 || len(j.UndoAfter) > 0
	old := &Tx{dir: dir, journal: j, server: server, log: log, reloadSent: touch && server.Running(), wasRunning: !stop}
	err := old.restore(ctx)
	if !stop && why != "" {
		old.outcome += " (" + why + ")"
	}
	log(old.Outcome())
	if err != nil {
		return old.dir, err
	}
	old.journal.State = "undone"
	return old.dir, old.save()
}

// laterRuns are the journals of the runs after run id, oldest first.
func laterRuns(stateDir, id string) []journal {
	var out []journal
	seen := false
	for _, x := range journals(stateDir) {
		if seen {
			out = append(out, x.j)
		}
		if x.j.ID == id {
			seen = true
		}
	}
	return out
}

// serverAfterUndo decides whether undoing the run of journal j stops its
// server (called name), which now runs as current (Server.Identity; ""
// when it is not running); later are the runs after j, oldest first. why
// says, when j found the server stopped, what is done and why ("" when
// j found it running: it is then reloaded, as ever).
//
// The state to put back is the server's before j, but only while nothing
// else has changed it since, so the server is stopped only when all of
// these hold: j found it stopped; j itself started it; that very process
// still runs (no restart by hand or by a package upgrade since); and no
// later run of the same server still stands (one committed, or whose
// rollback failed, may need it; one rolled back or undone put back what
// it found, and one interrupted is rolled back before an undo).
func serverAfterUndo(j journal, later []journal, current, name string) (stop bool, why string) {
	switch {
	case current == "" || j.WasRunning == nil || *j.WasRunning:
		return false, ""
	case j.StartedServer == "":
		return false, fmt.Sprintf("%s was not running before run %s, but that run did not start it (or its journal does not say so): it is left running", name, j.ID)
	case j.StartedServer != current:
		return false, fmt.Sprintf("%s was not running before run %s, which started it as pid %s, but it was started again since (now pid %s): it is left running",
			name, j.ID, pidOf(j.StartedServer), pidOf(current))
	}
	for _, l := range later {
		if l.Server != "" && l.Server != name {
			continue
		}
		switch l.State {
		case "rolled-back", "undone", "applying":
			continue
		}
		what := l.What
		if what == "" {
			what = "a run"
		}
		return false, fmt.Sprintf("%s was not running before run %s, which started it, but the later run %s (%s) still stands and may need it: it is left running",
			name, j.ID, l.ID, what)
	}
	return true, fmt.Sprintf("%s was not running before run %s, which started it (pid %s): it is stopped again", name, j.ID, pidOf(current))
}

// pidOf is the pid of a Server.Identity.
func pidOf(identity string) string {
	pid, _, _ := strings.Cut(identity, "@")
	return pid
}

// lastCommitted finds the journal of the last committed run under
// stateDir, the one Undo puts back. That run must have changed server.
func lastCommitted(stateDir, server string) (string, journal, error) {
	dirs, _ := filepath.Glob(filepath.Join(stateDir, "backups", "*", "journal.json"))
	for i := len(dirs) - 1; i >= 0; i-- {
		data, err := os.ReadFile(dirs[i])
		if err != nil {
			continue
		}
		var j journal
		if json.Unmarshal(data, &j) != nil {
			continue
		}
		if j.State != "committed" { // undone, rolled back, or interrupted (rolled back by Begin)
			continue
		}
		if j.Server != server {
			return "", journal{}, fmt.Errorf("the last run (%s) changed %s, not %s", j.ID, j.Server, server)
		}
		return dirs[i], j, nil
	}
	return "", journal{}, errors.New("no run to undo")
}

// UndoPlan is what Undo would do, worked out without changing anything.
type UndoPlan struct {
	Server string
	// Interrupted are runs that died half-way: Undo, like every run,
	// first rolls them back.
	Interrupted []RunPlan
	// Run is the run Undo puts back.
	Run RunPlan
	// Reload: the server runs, so the restored files are config-tested
	// and the server reloaded.
	Reload bool
	// Stop: the run started the server, which was not running before
	// it: it is stopped again, and its processes checked to have exited.
	Stop bool
	// ServerNote says why the server is stopped, or why it is left
	// running although the run found it stopped ("" otherwise).
	ServerNote string
}

// RunPlan is how one run's changes would be put back.
type RunPlan struct {
	ID      string
	Dir     string // its backup directory
	Started time.Time
	// Commands are the undo commands of the run's commands, in the order
	// they would run.
	Commands [][]string
	// Files are the paths it would put back, in the order it would.
	Files []UndoFile
	// After are the commands it would run once the files are back (see
	// Change.UndoAfter), in the order they would run.
	After [][]string
}

// UndoFile is one path Undo would put back.
type UndoFile struct {
	Path string
	// What would be done, e.g. "restore /etc/x.conf (0644) from its backup".
	What string
	// Diff is a unified diff from the current file to the one Undo would
	// restore (or to nothing, for a file the run created), for text files
	// that are not secret; Note says why there is none.
	Diff string
	Note string
}

// maxDiffSize bounds what PlanUndo reads of one file to show its diff.
const maxDiffSize = 1 << 20

// PlanUndo works out what Undo would do, without the lock or any write:
// which run it would put back, each file it would restore or remove, and
// whether it would reload. It fails as Undo would when another run holds
// the lock or there is no run to undo.
func PlanUndo(stateDir string, server *Server) (*UndoPlan, error) {
	if err := checkUnlocked(stateDir); err != nil {
		return nil, err
	}
	p := &UndoPlan{Server: server.Name}
	dirs, _ := filepath.Glob(filepath.Join(stateDir, "backups", "*", "journal.json"))
	for _, jf := range dirs {
		data, err := os.ReadFile(jf)
		if err != nil {
			continue
		}
		var j journal
		if json.Unmarshal(data, &j) == nil && j.State == "applying" {
			p.Interrupted = append(p.Interrupted, planRun(filepath.Dir(jf), j))
		}
	}
	jf, j, err := lastCommitted(stateDir, server.Name)
	if err != nil {
		return nil, err
	}
	p.Run = planRun(filepath.Dir(jf), j)
	p.planServer(stateDir, j, server)
	return p, nil
}

// planServer says what Undo would do with the server once the files of
// run j are back: stop it, reload it, or neither.
func (p *UndoPlan) planServer(stateDir string, j journal, server *Server) {
	p.Stop, p.ServerNote = serverAfterUndo(j, laterRuns(stateDir, j.ID), server.Identity(), server.Name)
	p.Reload = !p.Stop && (len(j.Entries) > 0 || len(j.UndoAfter) > 0) && server.Running() // as undoJournal decides
}

// checkUnlocked fails with ErrLocked when another run holds the lock. It
// neither creates nor writes the lock file.
func checkUnlocked(stateDir string) error {
	lock, err := os.Open(filepath.Join(stateDir, "lock"))
	if err != nil {
		return nil // no run ever took it
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		holder, _ := readUpTo(lock.Name(), 64)
		return fmt.Errorf("%w (pid %s): wait for it to finish", ErrLocked, strings.TrimSpace(string(holder)))
	}
	return syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
}

// planRun describes how restore would put back the run of journal j,
// whose backups are in dir: the undo commands, then the entries, both in
// reverse order, as restore does.
func planRun(dir string, j journal) RunPlan {
	r := RunPlan{ID: j.ID, Dir: dir, Started: j.Started}
	for i := len(j.Undo) - 1; i >= 0; i-- {
		r.Commands = append(r.Commands, j.Undo[i])
	}
	for i := len(j.Entries) - 1; i >= 0; i-- {
		r.Files = append(r.Files, planEntry(dir, j.Entries[i]))
	}
	for i := len(j.UndoAfter) - 1; i >= 0; i-- {
		r.After = append(r.After, j.UndoAfter[i])
	}
	return r
}

// planEntry describes how restoreEntry would put back e.
func planEntry(dir string, e entry) UndoFile {
	f := UndoFile{Path: e.Path}
	cur, curErr := os.Lstat(e.Path)
	switch {
	case !e.Existed:
		switch {
		case curErr != nil:
			f.What = fmt.Sprintf("remove %s (the run created it; it is gone already)", e.Path)
		case cur.IsDir():
			f.What = fmt.Sprintf("remove the directory %s and all in it (the run created it)", e.Path)
		default:
			f.What = fmt.Sprintf("remove %s (the run created it)", e.Path)
			if cur.Mode().IsRegular() {
				f.Diff, f.Note = fileDiff(e.Path, cur.Mode(), "", 0, false)
			}
		}
	case e.Link != "":
		now := "missing"
		if t, err := os.Readlink(e.Path); err == nil {
			now = "-> " + t
		}
		f.What = fmt.Sprintf("link %s -> %s again (now %s)", e.Path, e.Link, now)
	case e.Dir:
		f.What = fmt.Sprintf("restore the directory %s (%04o)", e.Path, e.Mode.Perm())
	default:
		f.What = fmt.Sprintf("restore %s (%04o) from its backup", e.Path, e.Mode.Perm())
		curMode := fs.FileMode(0)
		if curErr == nil {
			curMode = cur.Mode()
		}
		f.Diff, f.Note = fileDiff(e.Path, curMode, filepath.Join(dir, e.Backup), e.Mode, true)
	}
	return f
}

// fileDiff is the diff from the file at path (mode curMode, 0 if missing)
// to the backup (mode backupMode; none when !restore: the file goes), or
// a note saying why it is not shown: secret (root-only, or a private key),
// binary, too big.
func fileDiff(path string, curMode fs.FileMode, backup string, backupMode fs.FileMode, restore bool) (diff, note string) {
	var cur, old []byte
	if curMode != 0 {
		if !curMode.IsRegular() {
			return "", fmt.Sprintf("(now a %v, not a file)", curMode.Type())
		}
		b, err := readUpTo(path, maxDiffSize)
		if err != nil {
			return "", fmt.Sprintf("(cannot read it: %v)", err)
		}
		cur = b
	}
	if restore {
		b, err := readUpTo(backup, maxDiffSize)
		if err != nil {
			return "", fmt.Sprintf("(cannot read the backup: %v)", err)
		}
		old = b
	}
	switch {
	case secretFile(curMode, cur) || (restore && secretFile(backupMode, old)):
		return "", "(secret: not shown)"
	case len(cur) > maxDiffSize || len(old) > maxDiffSize:
		return "", "(larger than 1 MiB: no diff shown)"
	case !textFile(cur) || !textFile(old):
		return "", "(binary: no diff shown)"
	case restore && bytes.Equal(cur, old):
		return "", "(its content is already the backup's)"
	}
	from, to := path, path
	if curMode == 0 {
		from = "/dev/null"
	}
	if !restore {
		to = "/dev/null"
	}
	return udiff.Unified(from, to, string(cur), string(old)), ""
}

// secretFile: rpwizard writes private keys, answers and credentials
// root-only, and a PEM private key is secret wherever it is.
func secretFile(mode fs.FileMode, data []byte) bool {
	return (mode != 0 && mode.Perm()&0o044 == 0) || bytes.Contains(data, []byte("PRIVATE KEY"))
}

func textFile(data []byte) bool {
	return !bytes.ContainsRune(data, 0) && utf8.Valid(data)
}

// readUpTo reads at most max+1 bytes of path: a longer result means
// the file is bigger than max.
func readUpTo(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max+1))
}

// Render is the plan of undo (the last run) for humans.
func (p *UndoPlan) Render() string {
	return p.render(fmt.Sprintf("would undo the last run of %s: %s", p.Server, p.Run.ID))
}

// render is the plan under its heading (which run it undoes).
func (p *UndoPlan) render(heading string) string {
	var b strings.Builder
	for _, r := range p.Interrupted {
		fmt.Fprintf(&b, "an earlier run was interrupted (%s): undo would first restore the files it changed:\n", r.ID)
		r.render(&b)
	}
	fmt.Fprintf(&b, "%s (started %s), from %s:\n", heading, p.Run.Started.UTC().Format(time.RFC3339), p.Run.Dir)
	p.Run.render(&b)
	switch {
	case p.Stop:
		fmt.Fprintf(&b, "  - stop %s, then check that its processes have exited: %s\n", p.Server, p.ServerNote)
	case p.Reload:
		fmt.Fprintf(&b, "  - config test, then reload %s\n", p.Server)
	default:
		fmt.Fprintf(&b, "  - no reload: %s is not running (or there is no file to restore)\n", p.Server)
	}
	if !p.Stop && p.ServerNote != "" {
		fmt.Fprintf(&b, "  - %s\n", p.ServerNote)
	}
	return b.String()
}

func (r RunPlan) render(b *strings.Builder) {
	for _, c := range r.Commands {
		fmt.Fprintf(b, "  - run %s\n", strings.Join(c, " "))
	}
	for _, f := range r.Files {
		fmt.Fprintf(b, "  - %s", f.What)
		if f.Note != "" {
			fmt.Fprintf(b, " %s", f.Note)
		}
		b.WriteString("\n")
		if f.Diff != "" {
			for _, line := range strings.Split(strings.TrimRight(f.Diff, "\n"), "\n") {
				b.WriteString("      " + line + "\n")
			}
		}
	}
	for _, c := range r.After {
		fmt.Fprintf(b, "  - run %s (once the files are back)\n", strings.Join(c, " "))
	}
	if len(r.Commands) == 0 && len(r.Files) == 0 && len(r.After) == 0 {
		b.WriteString("  - nothing to put back\n")
	}
}
