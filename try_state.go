package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/selftest"
	"github.com/rpwizard/rpwizard/steps"
)

// ownState is what `rpwizard try` notes before it applies, so that it can
// leave the host as it found it: a fingerprint of the web servers' and
// rpwizard's trees, rpwizard's own files that any run writes outside the
// journal (the lock, the self-test result) and directories that did not
// exist. The installer's undo puts back the site; this puts back the rest.
type ownState struct {
	roots     []string
	sums      map[string]string
	files     []savedFile
	dirs      []string // did not exist before; removed again when empty, deepest first
	backups   string   // the state directory's backups/
	oldRuns   map[string]bool
	existed   map[string]bool // roots that existed before
	serverRan bool            // the web server ran before the try
}

type savedFile struct {
	path   string
	exists bool
	data   []byte
	mode   fs.FileMode
	lock   bool // the run lock: written back only while holding it
}

// maxOwnFile bounds what is saved of one of rpwizard's own files.
const maxOwnFile = 4 << 20

func snapshotOwnState(e *steps.Env) *ownState {
	l := e.Host.Layout
	j := func(p string) string { return filepath.Join(l.Root, p) }
	s := &ownState{
		roots:     []string{j("/etc/nginx"), j("/etc/apache2"), j("/etc/httpd"), l.ConfigDir, l.StateDir, l.RunDir, l.CronDir, l.SystemdUnitDir},
		backups:   filepath.Join(l.StateDir, "backups"),
		oldRuns:   map[string]bool{},
		serverRan: e.Server.Running(),
	}
	s.sums = host.TreeSums(s.roots...)
	s.existed = map[string]bool{}
	for _, r := range s.roots {
		if _, err := os.Lstat(r); err == nil {
			s.existed[r] = true
		}
	}
	result, _ := selftest.ResultPath(l.StateDir, tryDomain)
	for _, f := range []savedFile{{path: filepath.Join(l.StateDir, "lock"), lock: true}, {path: result}} {
		if fi, err := os.Lstat(f.path); err == nil && fi.Mode().IsRegular() && fi.Size() <= maxOwnFile {
			if data, err := os.ReadFile(f.path); err == nil {
				f.exists, f.data, f.mode = true, data, fi.Mode().Perm()
			}
		}
		s.files = append(s.files, f)
	}
	for _, d := range []string{l.ConfigDir, filepath.Join(l.ConfigDir, "sites"), filepath.Join(l.ConfigDir, "certs"),
		l.StateDir, s.backups, filepath.Join(l.StateDir, "selftest"), l.RunDir} {
		if _, err := os.Lstat(d); errors.Is(err, fs.ErrNotExist) {
			s.dirs = append(s.dirs, d)
		}
	}
	sort.Slice(s.dirs, func(a, b int) bool { return len(s.dirs[a]) > len(s.dirs[b]) })
	entries, _ := os.ReadDir(s.backups)
	for _, en := range entries {
		s.oldRuns[en.Name()] = true
	}
	return s
}

// restore removes the try run's backups and journal (runDir, and any new
// run whose journal says it was rolled back or undone: a run of someone
// else that is applying or committed stays), puts rpwizard's own files
// back as they were, and removes the directories the try created, if
// empty.
func (s *ownState) restore(runDir string) error {
	var errs []error
	entries, _ := os.ReadDir(s.backups)
	for _, en := range entries {
		dir := filepath.Join(s.backups, en.Name())
		if s.oldRuns[en.Name()] || !en.IsDir() {
			continue
		}
		if dir != runDir {
			var j struct {
				State string `json:"state"`
			}
			data, err := os.ReadFile(filepath.Join(dir, "journal.json"))
			if err != nil || json.Unmarshal(data, &j) != nil || (j.State != "rolled-back" && j.State != "undone") {
				continue
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range s.files {
		if err := f.putBack(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range s.dirs {
		os.Remove(d) // only when empty; what stays is reported by changed
	}
	return errors.Join(errs...)
}

func (f savedFile) putBack() error {
	if !f.exists {
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if !f.lock {
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			return err
		}
		return os.Chmod(f.path, f.mode)
	}
	lock, err := os.OpenFile(f.path, os.O_RDWR|os.O_CREATE, f.mode)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("another rpwizard run holds %s, so its content (a pid) was not put back", f.path)
	}
	if err := lock.Truncate(0); err != nil {
		return err
	}
	if _, err := lock.WriteAt(f.data, 0); err != nil {
		return err
	}
	return os.Chmod(f.path, f.mode)
}

// changed lists the paths under the roots that differ from the snapshot
// (host.DiffSums).
func (s *ownState) changed() []string {
	return host.DiffSums(s.sums, host.TreeSums(s.roots...))
}

// describeRoots names the roots that existed before the try, exist now
// or are rpwizard's own (created by the try and removed again), for
// messages: not the other platform's directories.
func (s *ownState) describeRoots() string {
	var out []string
	for _, r := range s.roots {
		_, err := os.Lstat(r)
		if err == nil || s.existed[r] || slices.Contains(s.dirs, r) {
			out = append(out, r)
		}
	}
	return strings.Join(out, ", ")
}
