package installer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// SetWhat records what the run does ("apply jatos.test", "remove
// hub.test"), for rpwizard history.
func (tx *Tx) SetWhat(what string) { tx.journal.What = what }

// pathState is the state of path as a journal records it after a run:
// "absent", "dir", "link:TARGET", "file:MODE:SHA256", or "other". Two equal
// states mean the path was not changed in between (a directory's content
// is not part of its state).
func pathState(path string) string {
	fi, err := os.Lstat(path)
	switch {
	case err != nil:
		if os.IsNotExist(err) {
			return "absent"
		}
		return "other"
	case fi.Mode()&os.ModeSymlink != 0:
		t, _ := os.Readlink(path)
		return "link:" + t
	case fi.IsDir():
		return "dir"
	case !fi.Mode().IsRegular():
		return "other"
	}
	f, err := os.Open(path)
	if err != nil {
		return "other"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "other"
	}
	return fmt.Sprintf("file:%04o:%s", fi.Mode().Perm(), hex.EncodeToString(h.Sum(nil)))
}

// RunInfo is one journaled run, as rpwizard history lists it.
type RunInfo struct {
	ID      string    `json:"id"`
	Started time.Time `json:"started"`
	// State: applying (interrupted, not yet rolled back), committed,
	// rolled-back, rollback-failed or undone.
	State  string `json:"state"`
	Server string `json:"server"`
	// What the run did, e.g. "apply jatos.test" ("" for runs recorded
	// before rpwizard kept it).
	What string `json:"what,omitempty"`
	// Sites are the sites whose files the run changed.
	Sites []string  `json:"sites"`
	Files []RunFile `json:"files"`
	// Commands are the commands the run ran that an undo reverses
	// (e.g. starting the renewal timer), as their undo commands, in the
	// order an undo runs them (those that need the restored files last).
	Commands [][]string `json:"undo_commands,omitempty"`
	Dir      string     `json:"backup_dir"`
}

// RunFile is one path a run changed.
type RunFile struct {
	Path string `json:"path"`
	// Change is "created", "changed" or "removed".
	Change string `json:"change"`
}

// Undoable reports whether undo RUN-ID may put the run back.
func (r RunInfo) Undoable() bool { return r.State == "committed" }

func runOf(dir string, j journal) RunInfo {
	r := RunInfo{ID: j.ID, Started: j.Started, State: j.State, Server: j.Server, What: j.What, Dir: dir,
		Sites: []string{}, Files: []RunFile{}}
	for _, e := range j.Entries {
		change := "changed"
		switch {
		case !e.Existed:
			change = "created"
		case e.After == "absent":
			change = "removed"
		}
		r.Files = append(r.Files, RunFile{Path: e.Path, Change: change})
	}
	r.Sites = runSites(j)
	for i := len(j.Undo) - 1; i >= 0; i-- {
		r.Commands = append(r.Commands, j.Undo[i])
	}
	for i := len(j.UndoAfter) - 1; i >= 0; i-- {
		r.Commands = append(r.Commands, j.UndoAfter[i])
	}
	return r
}

// siteFromPath finds the site a path belongs to: the site's config
// (rpwizard-NAME.conf), its saved answers (sites/NAME.yaml) or its
// certificate directory (certs/NAME/).
var siteFromPath = []*regexp.Regexp{
	regexp.MustCompile(`/rpwizard-([^/]+)\.conf$`),
	regexp.MustCompile(`/rpwizard/sites/([^/]+)\.yaml$`),
	regexp.MustCompile(`/rpwizard/certs/([^/]+)(/|$)`),
}

// runSites names the sites a run changed: from the paths it touched, or,
// when none names a site, the sites its reloads were checked against.
func runSites(j journal) []string {
	out := []string{}
	add := func(n string) {
		n = strings.ReplaceAll(n, "_", "*") // SiteName of a wildcard domain
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	for _, e := range j.Entries {
		for _, re := range siteFromPath {
			if m := re.FindStringSubmatch(e.Path); m != nil {
				add(m[1])
				break
			}
		}
	}
	if len(out) == 0 {
		for _, s := range j.Sites {
			if !s.Alias && !s.Removed {
				add(s.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// journals reads every journal under stateDir, oldest first (run ids sort
// by time). Unreadable journals are skipped.
func journals(stateDir string) []struct {
	dir string
	j   journal
} {
	var out []struct {
		dir string
		j   journal
	}
	files, _ := filepath.Glob(filepath.Join(stateDir, "backups", "*", "journal.json"))
	sort.Strings(files)
	for _, jf := range files {
		data, err := readBounded(jf, maxJournal)
		if err != nil {
			continue
		}
		var j journal
		if json.Unmarshal(data, &j) != nil || j.ID == "" {
			continue
		}
		out = append(out, struct {
			dir string
			j   journal
		}{filepath.Dir(jf), j})
	}
	return out
}

// Runs lists the journaled runs under stateDir, oldest first. It only
// reads.
func Runs(stateDir string) []RunInfo {
	var out []RunInfo
	for _, x := range journals(stateDir) {
		out = append(out, runOf(x.dir, x.j))
	}
	return out
}

// UnknownRunError: no run has this id.
type UnknownRunError struct {
	ID    string
	Known []string // the ids of the runs that undo RUN-ID can put back
}

func (e *UnknownRunError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("no run %q: there is no run to undo (rpwizard history lists the runs)", e.ID)
	}
	return fmt.Sprintf("no run %q: the runs that can be undone are %s (rpwizard history lists them)", e.ID, strings.Join(e.Known, ", "))
}

// RunStateError: the run is not committed (undone already, rolled back,
// interrupted).
type RunStateError struct{ ID, State string }

func (e *RunStateError) Error() string {
	switch e.State {
	case "undone":
		return fmt.Sprintf("run %s was undone already", e.ID)
	case "rolled-back":
		return fmt.Sprintf("run %s was rolled back when it failed: there is nothing to undo", e.ID)
	case "applying":
		return fmt.Sprintf("run %s was interrupted; the next run rolls it back (there is nothing to undo)", e.ID)
	}
	return fmt.Sprintf("run %s is %s: it cannot be undone", e.ID, e.State)
}

// RunConflictError: a later committed run changed some of the same paths,
// so putting this run's backups back would undo part of that run too.
type RunConflictError struct {
	ID, Later string
	Paths     []string
}

func (e *RunConflictError) Error() string {
	return fmt.Sprintf("run %s cannot be undone: the later run %s changed the same files (%s); undo %s first, or apply the answers you want",
		e.ID, e.Later, strings.Join(e.Paths, ", "), e.Later)
}

// RunChangedError: files the run left behind were changed since, by
// something other than rpwizard; putting the backups back would lose that.
type RunChangedError struct {
	ID    string
	Paths []string
}

func (e *RunChangedError) Error() string {
	return fmt.Sprintf("run %s cannot be undone: its files were changed since (%s); nothing was restored", e.ID, strings.Join(e.Paths, ", "))
}

// overlaps reports whether a and b are the same path or one is inside
// the other (a run that created a directory removes it with all in it).
func overlaps(a, b string) bool {
	return a == b || strings.HasPrefix(b, a+"/") || strings.HasPrefix(a, b+"/")
}

// checkUndoRun finds run id and checks that it can be put back: it is
// committed, no later committed run changed the same paths, and every
// path is as the run left it. It only reads.
func checkUndoRun(stateDir, id string) (string, journal, error) {
	all := journals(stateDir)
	at := -1
	var known []string
	for i, x := range all {
		if x.j.ID == id {
			at = i
		}
		if x.j.State == "committed" {
			known = append(known, x.j.ID)
		}
	}
	if at < 0 {
		return "", journal{}, &UnknownRunError{ID: id, Known: known}
	}
	dir, j := all[at].dir, all[at].j
	if j.State != "committed" {
		return "", journal{}, &RunStateError{ID: id, State: j.State}
	}
	for _, later := range all[at+1:] {
		if later.j.State != "committed" {
			continue
		}
		var paths []string
		for _, e := range j.Entries {
			for _, le := range later.j.Entries {
				if overlaps(e.Path, le.Path) && !slices.Contains(paths, e.Path) {
					paths = append(paths, e.Path)
				}
			}
		}
		if len(paths) > 0 {
			return "", journal{}, &RunConflictError{ID: id, Later: later.j.ID, Paths: paths}
		}
	}
	var changed []string
	for _, e := range j.Entries {
		if e.After != "" && pathState(e.Path) != e.After {
			changed = append(changed, e.Path)
		}
	}
	if len(changed) > 0 {
		return "", journal{}, &RunChangedError{ID: id, Paths: changed}
	}
	return dir, j, nil
}

// RunServer returns the server that run id changed ("" if there is no
// such run), so that callers can control the right one.
func RunServer(stateDir, id string) string {
	for _, x := range journals(stateDir) {
		if x.j.ID == id {
			return x.j.Server
		}
	}
	return ""
}

// PlanUndoRun works out what UndoRun would do, without the lock or any
// write. It fails as UndoRun would: an unknown run, one that is not
// committed, a later run that changed the same files, files changed since.
func PlanUndoRun(stateDir, id string, server *Server) (*UndoPlan, error) {
	if err := checkUnlocked(stateDir); err != nil {
		return nil, err
	}
	dir, j, err := checkUndoRun(stateDir, id)
	if err != nil {
		return nil, err
	}
	p := &UndoPlan{Server: server.Name}
	for _, x := range journals(stateDir) {
		if x.j.State == "applying" {
			p.Interrupted = append(p.Interrupted, planRun(x.dir, x.j))
		}
	}
	p.Run = planRun(dir, j)
	p.planServer(stateDir, j, server)
	return p, nil
}

// UndoRun restores the files of run id as they were before it, config-tests
// and reloads server (the server the run changed; see RunServer) or, when
// the run started it, stops it again (see serverAfterUndo), and marks the
// run undone. It refuses, changing nothing, when the run cannot be put
// back (see PlanUndoRun). It returns the backup directory it restored from.
func UndoRun(ctx context.Context, stateDir, id string, server *Server, log func(string)) (string, error) {
	// Refuse bad input before Begin, which may roll back an interrupted run.
	if _, _, err := checkUndoRun(stateDir, id); err != nil {
		return "", err
	}
	tx, err := Begin(ctx, stateDir, server, log)
	if err != nil {
		return "", err
	}
	defer tx.release()
	dir, j, err := checkUndoRun(stateDir, id) // again, under the lock
	if err != nil {
		return "", err
	}
	return undoJournal(ctx, stateDir, dir, j, server, tx.log)
}

// RenderRun is the plan of undo RUN-ID for humans.
func (p *UndoPlan) RenderRun() string {
	return p.render(fmt.Sprintf("would undo run %s of %s", p.Run.ID, p.Server))
}
