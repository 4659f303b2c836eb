package installer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	// reloaded: the server was reloaded (or started) by this transaction.
	reloaded bool
	log      func(string)
	done     bool
}

type journal struct {
	ID      string     `json:"id"`
	Started time.Time  `json:"started"`
	State   string     `json:"state"` // applying, committed, rolled-back
	Server  string     `json:"server"`
	Entries []entry    `json:"entries"`
	Undo    [][]string `json:"undo,omitempty"`
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
	return tx, nil
}

// recoverInterrupted rolls back a journal left in state "applying" by a
// run that was killed.
func recoverInterrupted(ctx context.Context, stateDir string, server *Server, log func(string)) error {
	dirs, _ := filepath.Glob(filepath.Join(stateDir, "backups", "*", "journal.json"))
	for _, jf := range dirs {
		data, err := os.ReadFile(jf)
		if err != nil {
			continue
		}
		var j journal
		if json.Unmarshal(data, &j) != nil || j.State != "applying" {
			continue
		}
		log("an earlier run was interrupted (" + j.ID + "): restoring the files it changed")
		// Whether it had reloaded is unknown: reload the restored files if
		// the server runs, so that it serves them again.
		tx := &Tx{dir: filepath.Dir(jf), journal: j, server: server, log: log, reloaded: server.Running(), wasRunning: true}
		if err := tx.restore(ctx); err != nil {
			return fmt.Errorf("restore interrupted run %s: %w", j.ID, err)
		}
	}
	return nil
}

// Dir is the backup directory of this transaction.
func (tx *Tx) Dir() string { return tx.dir }

// Changed reports whether the transaction modified anything.
func (tx *Tx) Changed() bool { return len(tx.journal.Entries) > 0 || len(tx.journal.Undo) > 0 }

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
		return WriteAtomic(c.Path, c.Data, c.Mode)
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
		if len(c.Undo) > 0 {
			tx.journal.Undo = append(tx.journal.Undo, c.Undo)
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

// Reload config-tests and reloads the server if files changed since the
// last reload; it starts the server when it is not running.
func (tx *Tx) Reload(ctx context.Context) error {
	if !tx.dirty {
		return nil
	}
	if err := tx.server.Test(ctx); err != nil {
		return err
	}
	if err := tx.server.ReloadOrStart(ctx); err != nil {
		return err
	}
	tx.dirty = false
	tx.reloaded = true
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
	return tx.restore(ctx)
}

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
	// Only a server that was given the new config needs the old one back;
	// when the config test failed, it still runs the old one.
	if len(tx.journal.Entries) > 0 && tx.reloaded {
		switch {
		case tx.wasRunning:
			if err := tx.server.Test(ctx); err != nil {
				errs = append(errs, fmt.Errorf("the restored config does not pass the config test: %w", err))
			} else if err := tx.server.ReloadOrStart(ctx); err != nil {
				errs = append(errs, fmt.Errorf("reload the restored config: %w", err))
			}
		default:
			if err := tx.server.Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop the server this run started: %w", err))
			}
		}
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
