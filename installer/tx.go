package installer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Tx is one transaction on the host: every file it changes is backed up
// first and listed in a journal on disk, so Rollback (or the next run, if
// this one is killed) can put it back byte for byte.
type Tx struct {
	dir     string // backup directory of this run
	journal journal
	server  *Server
	lock    *os.File
	// dirty: files changed since the last successful reload.
	dirty bool
	// wasRunning: the server ran before this transaction.
	wasRunning bool
	// reloaded: the server was reloaded (or started) by this transaction,
	// and the reload was confirmed.
	reloaded bool
	// reloadSent: a reload (or start) was sent, confirmed or not: from
	// then on the server may run this transaction's config, so a rollback
	// must reload (or stop) it, even when the run was interrupted while
	// the reload was in flight.
	reloadSent bool
	// rollingBack: restore runs as this transaction's own rollback (or
	// the recovery of a killed run), not as an undo of a committed one.
	rollingBack bool
	// outcome says, after a restore, what the server was checked to serve.
	outcome string
	log     func(string)
	done    bool
}

type journal struct {
	ID      string     `json:"id"`
	Started time.Time  `json:"started"`
	State   string     `json:"state"` // applying, committed, rolled-back
	Server  string     `json:"server"`
	Entries []entry    `json:"entries"`
	Undo    [][]string `json:"undo,omitempty"`
	// UndoAfter are the commands a restore runs after the files (see
	// Change.UndoAfter), in the order recorded; run last first.
	UndoAfter [][]string `json:"undo_after,omitempty"`
	// Sites are the names whose served certificate confirms a reload.
	Sites []Site `json:"sites,omitempty"`
	// WasRunning: the server ran when the transaction began (nil in
	// journals written before this was recorded).
	WasRunning *bool `json:"was_running,omitempty"`
	// What says what the run did ("apply jatos.test", "remove hub.test"),
	// for rpwizard history; "" in older journals (see runs.go).
	What string `json:"what,omitempty"`
	// StartedServer names the server process this run started (see
	// Server.Identity), "" when it found the server running or did not
	// start it (and in journals written before this was recorded): undo
	// stops the server again only while that process is the one running.
	StartedServer string `json:"started_server,omitempty"`
}

// entry is the state of one path before the transaction first touched it.
type entry struct {
	Path    string      `json:"path"`
	Existed bool        `json:"existed"`
	Link    string      `json:"link,omitempty"` // it was a symlink to Link
	Dir     bool        `json:"dir,omitempty"`
	Mode    fs.FileMode `json:"mode,omitempty"`
	UID     int         `json:"uid"`
	GID     int         `json:"gid"`
	Backup  string      `json:"backup,omitempty"` // file name in the backup directory
	// After is the state the run left the path in, recorded at commit
	// (see pathState): undo RUN-ID refuses when it changed since.
	After string `json:"after,omitempty"`
}

// ErrLocked means another rpwizard run holds the lock.
var ErrLocked = errors.New("another rpwizard run is in progress")

// Begin takes the lock under stateDir, rolls back any run that died
// half-way, and starts a transaction for server. log receives progress
// lines (may be nil).
func Begin(ctx context.Context, stateDir string, server *Server, log func(string)) (*Tx, error) {
	if log == nil {
		log = func(string) {}
	}
	// The state directory holds the ACME webroot, which the web server
	// must traverse; the backups inside it are root-only.
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	os.Chmod(stateDir, 0o755)
	if err := os.MkdirAll(filepath.Join(stateDir, "backups"), 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(stateDir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(lock.Name())
		lock.Close()
		return nil, fmt.Errorf("%w (pid %s): wait for it to finish", ErrLocked, strings.TrimSpace(string(holder)))
	}
	lock.Truncate(0)
	fmt.Fprintf(lock, "%d\n", os.Getpid())
	if err := recoverInterrupted(ctx, stateDir, server, log); err != nil {
		lock.Close()
		return nil, err
	}
	id := time.Now().UTC().Format("20060102T150405.000000000Z")
	tx := &Tx{
		dir:     filepath.Join(stateDir, "backups", id),
		server:  server,
		lock:    lock,
		log:     log,
		journal: journal{ID: id, Started: time.Now().UTC(), State: "applying", Server: server.Name},
	}
	tx.wasRunning = server.Running()
	tx.journal.WasRunning = &tx.wasRunning
	return tx, nil
}

// Watch names sites whose served certificate confirms every reload of
// this transaction, and notes what the server presents for them now, so
// that a rollback can check it serves that again.
func (tx *Tx) Watch(ctx context.Context, sites ...Site) {
	for _, s := range sites {
		if tx.wasRunning {
			s.Before, _ = servedFingerprint(ctx, s.addr(), s.serverName())
		}
		tx.journal.Sites = append(tx.journal.Sites, s)
	}
}

// Recover rolls back, under the lock, any run that was killed half-way,
// so that a new run plans against the files as they were before it.
func Recover(ctx context.Context, stateDir string, server *Server, log func(string)) error {
	tx, err := Begin(ctx, stateDir, server, log)
	if err != nil {
		return err
	}
	tx.release()
	return nil
}

// Interrupted lists the runs under stateDir that were killed half-way and
// not yet rolled back (by journal id). It only reads.
func Interrupted(stateDir string) []string {
	var ids []string
	dirs, _ := filepath.Glob(filepath.Join(stateDir, "backups", "*", "journal.json"))
	for _, jf := range dirs {
		data, err := readBounded(jf, maxJournal)
		if err != nil {
			continue
		}
		var j journal
		if json.Unmarshal(data, &j) == nil && j.State == "applying" {
			ids = append(ids, j.ID)
		}
	}
	return ids
}

// maxJournal bounds what is read of a journal.
const maxJournal = 16 << 20

// readBounded reads a regular file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > limit {
		return nil, fmt.Errorf("%s is not a regular file of at most %d bytes", path, limit)
	}
	return io.ReadAll(io.LimitReader(f, limit))
}

// recoverInterrupted rolls back a journal left in state "applying" by a
// run that was killed.
func recoverInterrupted(ctx context.Context, stateDir string, server *Server, log func(string)) error {
	dirs, _ := filepath.Glob(filepath.Join(stateDir, "backups", "*", "journal.json"))
	for _, jf := range dirs {
		data, err := readBounded(jf, maxJournal)
		if err != nil {
			continue
		}
		var j journal
		if json.Unmarshal(data, &j) != nil || j.State != "applying" {
			continue
		}
		log("an earlier run was interrupted (" + j.ID + "): restoring the files it changed")
		srv, ok := server.named(j.Server)
		if !ok {
			return fmt.Errorf("restore interrupted run %s: it changed %s, which this host's rpwizard cannot control", j.ID, j.Server)
		}
		// Whether it had reloaded is unknown: reload the restored files if
		// the server runs, so that it serves them again; stop a server the
		// killed run started.
		wasRunning := j.WasRunning == nil || *j.WasRunning
		tx := &Tx{dir: filepath.Dir(jf), journal: j, server: srv, log: log, reloadSent: srv.Running(), wasRunning: wasRunning, rollingBack: true}
		if err := tx.restore(ctx); err != nil {
			return fmt.Errorf("restore interrupted run %s: %w", j.ID, err)
		}
		log(tx.Outcome())
	}
	return nil
}

// Dir is the backup directory of this transaction.
func (tx *Tx) Dir() string { return tx.dir }

// Changed reports whether the transaction modified anything.
func (tx *Tx) Changed() bool {
	return len(tx.journal.Entries) > 0 || len(tx.journal.Undo) > 0 || len(tx.journal.UndoAfter) > 0
}

// Reloaded reports whether the transaction reloaded or started the server.
func (tx *Tx) Reloaded() bool { return tx.reloaded }

// Apply performs one change.
func (tx *Tx) Apply(ctx context.Context, c Change) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted before %q: %w", c.Describe(), err)
	}
	if c.Touches() && c.Noop() {
		return nil
	}
	switch c.Kind {
	case WriteFile, Remove, Symlink, Mkdir:
		if err := tx.remember(c.Path); err != nil {
			return err
		}
		tx.dirty = true
	}
	switch c.Kind {
	case WriteFile:
		data := c.Data
		if c.Generate != nil {
			var err error
			if data, err = c.Generate(); err != nil {
				return fmt.Errorf("make %s: %w", c.Path, err)
			}
		}
		return WriteAtomic(c.Path, data, c.Mode)
	case Remove:
		if err := os.Remove(c.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", c.Path, err)
		}
		return nil
	case Symlink:
		return symlinkAtomic(c.Target, c.Path)
	case Mkdir:
		if err := os.MkdirAll(c.Path, c.Mode.Perm()); err != nil {
			return fmt.Errorf("create %s: %w", c.Path, err)
		}
		return os.Chmod(c.Path, c.Mode.Perm())
	case Reload:
		return tx.Reload(ctx)
	case Run:
		if len(c.Undo) > 0 || len(c.UndoAfter) > 0 {
			if len(c.Undo) > 0 {
				tx.journal.Undo = append(tx.journal.Undo, c.Undo)
			}
			if len(c.UndoAfter) > 0 {
				tx.journal.UndoAfter = append(tx.journal.UndoAfter, c.UndoAfter)
			}
			if err := tx.save(); err != nil {
				return err
			}
		}
		out, err := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(c.Argv, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	case Action:
		return c.Do(ctx, tx)
	}
	return fmt.Errorf("unknown change kind %d", c.Kind)
}

// reloadTimeout bounds a reload once it is sent, confirmation included.
const reloadTimeout = 30 * time.Second

// Reload config-tests and reloads the server if files changed since the
// last reload; it starts the server when it is not running. The reload
// only counts once confirmed: a new generation of workers serves, and
// every watched site presents the certificate now on disk.
//
// Once the reload is sent it runs to its end even when ctx is cancelled
// (a signal): a rollback's reload must not be merged with, or overtaken
// by, one still in flight. The cancellation is reported afterwards.
func (tx *Tx) Reload(ctx context.Context) error {
	if !tx.dirty {
		return nil
	}
	if err := tx.server.Test(ctx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted before the reload: %w", err)
	}
	tx.reloadSent = true
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reloadTimeout)
	defer cancel()
	starts := !tx.server.Running()
	if err := tx.server.ReloadOrStart(rctx); err != nil {
		return err
	}
	if starts {
		tx.journal.StartedServer = tx.server.Identity() // recorded at commit
	}
	if err := tx.confirmNew(rctx); err != nil {
		return err
	}
	tx.dirty = false
	tx.reloaded = true
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted during the reload: %w", err)
	}
	return nil
}

// remember backs up path before its first modification in this
// transaction, and records it in the journal (written before the change).
func (tx *Tx) remember(path string) error {
	for _, e := range tx.journal.Entries {
		if e.Path == path {
			return nil
		}
	}
	if err := os.MkdirAll(tx.dir, 0o700); err != nil {
		return fmt.Errorf("create backup directory: %w", err)
	}
	e := entry{Path: path}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Parents that do not exist yet are created by the change; note
		// the first missing one so rollback removes what we created.
		if parent := filepath.Dir(path); parent != path {
			if _, perr := os.Stat(parent); errors.Is(perr, fs.ErrNotExist) {
				if err := tx.remember(parent); err != nil {
					return err
				}
			}
		}
	case err != nil:
		return fmt.Errorf("inspect %s: %w", path, err)
	default:
		e.Existed = true
		e.Mode = fi.Mode()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			e.UID, e.GID = int(st.Uid), int(st.Gid)
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Link, err = os.Readlink(path)
			if err != nil {
				return fmt.Errorf("read link %s: %w", path, err)
			}
		case fi.IsDir():
			e.Dir = true
		default:
			data, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("back up %s: %w", path, err)
			}
			e.Backup = fmt.Sprintf("%03d-%s", len(tx.journal.Entries), filepath.Base(path))
			if err := WriteAtomic(filepath.Join(tx.dir, e.Backup), data, 0o600); err != nil {
				return fmt.Errorf("back up %s: %w", path, err)
			}
		}
	}
	tx.journal.Entries = append(tx.journal.Entries, e)
	return tx.save()
}

func (tx *Tx) save() error {
	data, err := json.MarshalIndent(tx.journal, "", "  ")
	if err != nil {
		return fmt.Errorf("encode journal: %w", err)
	}
	if err := os.MkdirAll(tx.dir, 0o700); err != nil {
		return fmt.Errorf("create backup directory: %w", err)
	}
	return WriteAtomic(filepath.Join(tx.dir, "journal.json"), data, 0o600)
}

// Commit ends the transaction keeping its changes; the backups stay for
// `rpwizard undo`.
func (tx *Tx) Commit() error {
	defer tx.release()
	if !tx.Changed() {
		os.RemoveAll(tx.dir)
		return nil
	}
	tx.journal.State = "committed"
	for i := range tx.journal.Entries {
		tx.journal.Entries[i].After = pathState(tx.journal.Entries[i].Path)
	}
	return tx.save()
}

// Rollback restores every file the transaction changed and, if it had
// reloaded or started the server, brings the old config back (or stops
// the server it started). It ignores ctx's cancellation: a rollback runs
// to its end, bounded by its own timeout.
func (tx *Tx) Rollback() error {
	defer tx.release()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tx.rollingBack = true
	return tx.restore(ctx)
}

// Outcome says, after Rollback (or an undo), what was restored and what
// the server was checked to serve. It claims nothing that was not checked.
func (tx *Tx) Outcome() string { return tx.outcome }

func (tx *Tx) restore(ctx context.Context) error {
	var errs []error
	for i := len(tx.journal.Undo) - 1; i >= 0; i-- {
		undo := tx.journal.Undo[i]
		if out, err := exec.CommandContext(ctx, undo[0], undo[1:]...).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("undo %s: %w: %s", strings.Join(undo, " "), err, out))
		}
	}
	for i := len(tx.journal.Entries) - 1; i >= 0; i-- {
		if err := tx.restoreEntry(tx.journal.Entries[i]); err != nil {
			errs = append(errs, err)
		}
	}
	// Commands that need the restored files (start a timer whose unit is
	// back): run even when some file could not be restored, so that what
	// can come back does.
	for i := len(tx.journal.UndoAfter) - 1; i >= 0; i-- {
		undo := tx.journal.UndoAfter[i]
		if out, err := exec.CommandContext(ctx, undo[0], undo[1:]...).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("undo %s: %w: %s", strings.Join(undo, " "), err, out))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, tx.restoreServing(ctx)...)
	} else {
		tx.outcome = fmt.Sprintf("the files could not all be restored; %s was not reloaded", tx.server.Name)
	}
	tx.journal.State = "rolled-back"
	if len(errs) > 0 {
		tx.journal.State = "rollback-failed"
	}
	if err := tx.save(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// restoreServing brings the server back to the restored files and checks
// what it serves; it sets tx.outcome to what was checked.
func (tx *Tx) restoreServing(ctx context.Context) []error {
	name := tx.server.Name
	switch {
	case len(tx.journal.Entries) == 0 && !tx.reloadSent:
		tx.outcome = "nothing had been changed"
		return nil
	case !tx.reloadSent && !tx.wasRunning:
		tx.outcome = fmt.Sprintf("previous files restored; %s was not running and was not started", name)
		return nil
	case !tx.reloadSent && !tx.server.Running():
		tx.outcome = fmt.Sprintf("previous files restored; %s is not running (it was when this run began)", name)
		return nil
	case !tx.reloadSent:
		// The server never received this run's config: it must still
		// present what it presented before.
		if err := tx.confirmRestored(ctx); err != nil {
			tx.outcome = fmt.Sprintf("previous files restored, but %s was not checked to serve the previous config", name)
			return []error{fmt.Errorf("could not confirm that %s serves the previous config: %w", name, err)}
		}
		tx.outcome = fmt.Sprintf("previous files restored; %s never received this run's config%s", name, tx.checked(" and still serves the previous one"))
		return nil
	case !tx.wasRunning:
		checked, err := tx.server.StopConfirmed(ctx)
		if err != nil {
			tx.outcome = fmt.Sprintf("previous files restored, but %s, which this run started, could not be stopped", name)
			return []error{fmt.Errorf("stop the server this run started: %w", err)}
		}
		tx.outcome = fmt.Sprintf("previous files restored; %s was not running before this run and is stopped again (%s)", name, checked)
		return nil
	}
	if err := tx.server.Test(ctx); err != nil {
		tx.outcome = fmt.Sprintf("previous files restored, but they fail %s's config test, so it was not reloaded: it may still serve this run's config", name)
		return []error{fmt.Errorf("the restored config does not pass the config test: %w", err)}
	}
	if err := tx.server.ReloadOrStart(ctx); err != nil {
		tx.outcome = fmt.Sprintf("previous files restored, but the reload of %s was not confirmed: it may still serve this run's config", name)
		return []error{fmt.Errorf("reload the restored config: %w", err)}
	}
	if err := tx.confirmRestored(ctx); err != nil {
		tx.outcome = fmt.Sprintf("previous files restored and %s reloaded, but it does not serve them", name)
		return []error{fmt.Errorf("could not confirm that %s serves the previous config: %w", name, err)}
	}
	tx.outcome = fmt.Sprintf("previous files restored; %s reloaded and serves the previous config%s", name, tx.checked(""))
	return nil
}

// checked names what a confirmation looked at, after prefix.
func (tx *Tx) checked(prefix string) string {
	var names []string
	for _, s := range tx.journal.Sites {
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return prefix + " (new workers started)"
	}
	return prefix + " (checked: the certificate presented for " + strings.Join(names, ", ") + ")"
}

func (tx *Tx) restoreEntry(e entry) error {
	if !e.Existed {
		if err := os.RemoveAll(e.Path); err != nil {
			return fmt.Errorf("remove %s: %w", e.Path, err)
		}
		return nil
	}
	switch {
	case e.Link != "":
		return symlinkAtomic(e.Link, e.Path)
	case e.Dir:
		if err := os.MkdirAll(e.Path, e.Mode.Perm()); err != nil {
			return fmt.Errorf("restore %s: %w", e.Path, err)
		}
		return os.Chmod(e.Path, e.Mode.Perm())
	}
	data, err := os.ReadFile(filepath.Join(tx.dir, e.Backup))
	if err != nil {
		return fmt.Errorf("read backup of %s: %w", e.Path, err)
	}
	if err := WriteAtomic(e.Path, data, e.Mode.Perm()); err != nil {
		return fmt.Errorf("restore %s: %w", e.Path, err)
	}
	return os.Lchown(e.Path, e.UID, e.GID)
}

func (tx *Tx) release() {
	if tx.lock != nil {
		tx.lock.Close()
		tx.lock = nil
	}
}

// WriteAtomic writes data to path through a temporary file in the same
// directory, fsync and rename, so readers see the old or the new file,
// never half of one. Missing parent directories are created (0755).
func WriteAtomic(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".rpwizard-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(mode.Perm()); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func symlinkAtomic(target, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	tmp := filepath.Join(filepath.Dir(path), ".rpwizard-link-"+filepath.Base(path))
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("link %s: %w", path, err)
	}
	return nil
}
