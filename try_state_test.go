package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/steps"
)

func fakeTryEnv(t *testing.T) *steps.Env {
	t.Helper()
	h := &host.Host{Layout: host.Debian(t.TempDir()), Installed: []string{"nginx"}}
	a := &answers.Answers{App: "generic", Server: "nginx", Domain: tryDomain, Upstream: "127.0.0.1:9", TLS: answers.TLS{Mode: "self-signed"}}
	return steps.NewEnv(a, h)
}

func writeTryFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// What a try run leaves outside its journal (its undone journal, the lock
// with its pid, its self-test result, the state and config directories)
// goes; rpwizard's state as it was before comes back byte for byte.
func TestTryPutsBackRpwizardsOwnState(t *testing.T) {
	for _, existing := range []bool{false, true} {
		e := fakeTryEnv(t)
		l := e.Host.Layout
		lock := filepath.Join(l.StateDir, "lock")
		if existing {
			writeTryFile(t, lock, "4242\n")
			writeTryFile(t, filepath.Join(l.StateDir, "backups", "20250101T000000Z", "journal.json"), `{"state":"committed"}`)
			writeTryFile(t, filepath.Join(l.ConfigDir, "sites", "app.test.yaml"), "app: generic\n")
		}
		s := snapshotOwnState(e)
		run := filepath.Join(l.StateDir, "backups", "20260101T000000Z")
		writeTryFile(t, filepath.Join(run, "journal.json"), `{"state":"undone"}`)
		writeTryFile(t, filepath.Join(run, "000-x.conf"), "old")
		writeTryFile(t, filepath.Join(l.StateDir, "backups", "20260101T000001Z", "journal.json"), `{"state":"rolled-back"}`)
		writeTryFile(t, lock, "999\n")
		writeTryFile(t, filepath.Join(l.StateDir, "selftest", tryDomain+".json"), "{}")
		os.MkdirAll(filepath.Join(l.ConfigDir, "certs"), 0o700)
		os.MkdirAll(l.RunDir, 0o755)
		if diff := s.changed(); len(diff) == 0 {
			t.Fatal("changed sees no change before the restore")
		}
		if err := s.restore(run); err != nil {
			t.Fatal(err)
		}
		if diff := s.changed(); len(diff) != 0 {
			t.Errorf("existing state %v: after the restore these differ: %v", existing, diff)
		}
		if !existing {
			for _, d := range []string{l.StateDir, l.ConfigDir, l.RunDir} {
				if _, err := os.Lstat(d); err == nil {
					t.Errorf("%s is still there", d)
				}
			}
		}
	}
}

// A run that someone else committed meanwhile is not the try's: it stays,
// and the difference is reported.
func TestTryKeepsAnotherRun(t *testing.T) {
	e := fakeTryEnv(t)
	l := e.Host.Layout
	s := snapshotOwnState(e)
	other := filepath.Join(l.StateDir, "backups", "20260101T000002Z", "journal.json")
	writeTryFile(t, other, `{"state":"committed"}`)
	if err := s.restore(""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("another run's journal was removed: %v", err)
	}
	if diff := strings.Join(s.changed(), " "); !strings.Contains(diff, other) {
		t.Errorf("changed = %q, want it to name %s", diff, other)
	}
}
