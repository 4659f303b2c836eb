package installer

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestServerAfterUndo(t *testing.T) {
	yes, no := true, false
	run := func(id, state string) journal {
		return journal{ID: id, State: state, Server: "nginx", What: "apply b.test"}
	}
	started := journal{ID: "R", State: "committed", Server: "nginx", WasRunning: &no, StartedServer: "100@5"}
	tests := []struct {
		name    string
		j       journal
		later   []journal
		current string
		stop    bool
		why     string // a part of why; "" means none
	}{
		{"it started the server, which still runs", started, nil, "100@5", true, "which started it (pid 100): it is stopped again"},
		{"later runs were rolled back, undone or are interrupted", started,
			[]journal{run("L1", "rolled-back"), run("L2", "undone"), run("L3", "applying")}, "100@5", true, "stopped again"},
		{"a later run of the other server", started, []journal{{ID: "A", State: "committed", Server: "apache"}}, "100@5", true, "stopped again"},
		{"it ran before the run", journal{ID: "R", Server: "nginx", WasRunning: &yes}, nil, "100@5", false, ""},
		{"a journal from before was_running", journal{ID: "R", Server: "nginx"}, nil, "100@5", false, ""},
		{"not running now", started, nil, "", false, ""},
		{"started again since", started, nil, "200@9", false, "started again since (now pid 200)"},
		{"the same pid, another process", started, nil, "100@6", false, "started again since"},
		{"the run did not start it", journal{ID: "R", Server: "nginx", WasRunning: &no}, nil, "100@5", false, "that run did not start it"},
		{"a later committed run", started, []journal{run("L", "committed")}, "100@5", false, "the later run L (apply b.test) still stands"},
		{"a later run whose rollback failed", started, []journal{run("L", "rollback-failed")}, "100@5", false, "the later run L"},
	}
	for _, tt := range tests {
		stop, why := serverAfterUndo(tt.j, tt.later, tt.current, "nginx")
		if stop != tt.stop {
			t.Errorf("%s: stop = %v, want %v (%s)", tt.name, stop, tt.stop, why)
		}
		if (tt.why == "") != (why == "") || !strings.Contains(why, tt.why) {
			t.Errorf("%s: why = %q, want %q", tt.name, why, tt.why)
		}
	}
}

// sleepServer is a stand-in server: starting it runs a sleep (its pid in
// the pid file), stopping it kills that sleep and removes the pid file.
func sleepServer(t *testing.T, root string) *Server {
	t.Helper()
	s := fakeServer(root)
	s.StartArgv = []string{"sh", "-c", `mkdir -p "$(dirname "$1")" && { sleep 300 >/dev/null 2>&1 & echo $! >"$1"; }`, "sh", s.PIDFile}
	s.StopArgv = []string{"sh", "-c", `kill "$(cat "$1")" && rm -f "$1"`, "sh", s.PIDFile}
	t.Cleanup(func() { // the sleep, by its pid, whatever the test did
		if pid := s.PID(); pid != 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return s
}

// An undo of the run that started a stopped server stops it again, and
// its dry run says so; undone, the files are as before, byte for byte.
func TestUndoStopsTheServerTheRunStarted(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "state")
	etc := filepath.Join(root, "etc")
	os.MkdirAll(etc, 0o755)
	os.WriteFile(filepath.Join(etc, "old.conf"), []byte("old\n"), 0o644)
	s := sleepServer(t, root)
	before := treeSums(t, etc)

	commitRun(t, state, s,
		Change{Kind: WriteFile, Path: filepath.Join(etc, "site.conf"), Data: []byte("new\n"), Mode: 0o644},
		Change{Kind: Reload})
	pid := s.PID()
	if pid == 0 {
		t.Fatal("the run did not start the server")
	}
	_, j, err := lastCommitted(state, "nginx")
	if err != nil {
		t.Fatal(err)
	}
	if j.WasRunning == nil || *j.WasRunning || j.StartedServer != s.Identity() || !strings.HasPrefix(j.StartedServer, strconv.Itoa(pid)+"@") {
		t.Fatalf("journal: was_running %v, started_server %q; the server runs as %q", j.WasRunning, j.StartedServer, s.Identity())
	}

	p, err := PlanUndo(state, s)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Stop || p.Reload || !strings.Contains(p.Render(), "stop nginx, then check that its processes have exited: nginx was not running before run "+j.ID) {
		t.Errorf("plan: stop %v, reload %v:\n%s", p.Stop, p.Reload, p.Render())
	}
	var log []string
	if _, err := Undo(context.Background(), state, s, func(l string) { log = append(log, l) }); err != nil {
		t.Fatal(err)
	}
	if s.Running() {
		t.Error("the server the undone run started still runs")
	}
	if err := syscall.Kill(pid, 0); err == nil {
		if st, ok := procState(pid); ok && st != "Z" {
			t.Errorf("pid %d still runs", pid)
		}
	}
	if out := strings.Join(log, "\n"); !strings.Contains(out, "nginx was not running before this run and is stopped again (checked: pid "+strconv.Itoa(pid)) {
		t.Errorf("undo's outcome:\n%s", out)
	}
	if d := diffSums(before, treeSums(t, etc)); len(d) > 0 {
		t.Errorf("files after the undo:\n%s", strings.Join(d, "\n"))
	}
}

// A server started again since the run (here: stopped and started by
// hand) is left running by the undo, which says why.
func TestUndoLeavesARestartedServerRunning(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "state")
	s := sleepServer(t, root)
	commitRun(t, state, s,
		Change{Kind: WriteFile, Path: filepath.Join(root, "site.conf"), Data: []byte("new\n"), Mode: 0o644},
		Change{Kind: Reload})
	first := s.Identity()
	ctx := context.Background()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.ReloadOrStart(ctx); err != nil { // started by hand
		t.Fatal(err)
	}
	if s.Identity() == first || s.Identity() == "" {
		t.Fatalf("not restarted: %q, %q", first, s.Identity())
	}
	p, err := PlanUndo(state, s)
	if err != nil {
		t.Fatal(err)
	}
	if p.Stop || !strings.Contains(p.Render(), "it was started again since") {
		t.Errorf("plan:\n%s", p.Render())
	}
}

func procState(pid int) (string, bool) {
	out, err := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(out))[:1], true
}

// Undo commands run before the files are restored, UndoAfter commands
// after them, last recorded first, in a rollback and in an undo alike.
func TestUndoAfterRunsOnceTheFilesAreBack(t *testing.T) {
	for _, how := range []string{"rollback", "undo"} {
		t.Run(how, func(t *testing.T) {
			root := t.TempDir()
			state := filepath.Join(root, "state")
			unit := filepath.Join(root, "unit")
			os.WriteFile(unit, []byte("unit\n"), 0o644)
			log := filepath.Join(root, "log")
			note := func(word string) []string {
				return []string{"sh", "-c", `if test -e "$1"; then echo "$2 unit" >>"$3"; else echo "$2 none" >>"$3"; fi`, "sh", unit, word, log}
			}
			changes := []Change{
				{Kind: Run, Argv: []string{"true"}, Undo: note("undo"), UndoAfter: note("start")},
				{Kind: Remove, Path: unit},
				{Kind: Run, Argv: []string{"true"}, UndoAfter: note("daemon-reload")},
			}
			s := fakeServer(root)
			if how == "undo" {
				commitRun(t, state, s, changes...)
				p, err := PlanUndo(state, s)
				if err != nil {
					t.Fatal(err)
				}
				out := p.Render()
				if !strings.Contains(out, "(once the files are back)") || strings.Index(out, "daemon-reload") > strings.Index(out, " start ") {
					t.Errorf("plan:\n%s", out)
				}
				if _, err := Undo(context.Background(), state, s, nil); err != nil {
					t.Fatal(err)
				}
			} else {
				tx, err := Begin(context.Background(), state, s, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range changes {
					if err := tx.Apply(context.Background(), c); err != nil {
						t.Fatal(err)
					}
				}
				if err := tx.Rollback(); err != nil {
					t.Fatal(err)
				}
			}
			got, _ := os.ReadFile(log)
			if want := "undo none\ndaemon-reload unit\nstart unit\n"; string(got) != want {
				t.Errorf("commands ran as\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// An undo of a run that changed no file (only a command with its undo)
// does not reload a running server, as its dry run says.
func TestUndoWithoutFilesDoesNotReload(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "state")
	s := sleepServer(t, root)
	if err := s.ReloadOrStart(context.Background()); err != nil { // running before the run
		t.Fatal(err)
	}
	marker := filepath.Join(root, "reloaded")
	s.ReloadArgv = []string{"touch", marker}
	commitRun(t, state, s, Change{Kind: Run, Argv: []string{"true"}, Undo: []string{"true"}})

	p, err := PlanUndo(state, s)
	if err != nil {
		t.Fatal(err)
	}
	if p.Reload || p.Stop {
		t.Fatalf("plan: reload %v, stop %v:\n%s", p.Reload, p.Stop, p.Render())
	}
	if _, err := Undo(context.Background(), state, s, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the undo reloaded the server, though its plan said no reload")
	}
	if !s.Running() {
		t.Error("the server no longer runs")
	}
}
