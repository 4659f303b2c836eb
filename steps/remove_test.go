package steps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
)

// fakeSystemctl puts a systemctl first in PATH that only logs its
// arguments, and whether the timer unit exists as it runs, to the file
// it returns; with "fail" as its only argument it fails.
func fakeSystemctl(t *testing.T, unitDir string) string {
	t.Helper()
	bin := t.TempDir()
	log := filepath.Join(t.TempDir(), "systemctl.log")
	script := `#!/bin/sh
unit=absent; test -e '` + filepath.Join(unitDir, renewalTimer) + `' && unit=present
echo "$* (timer unit $unit)" >>'` + log + `'
test "$*" != fail
`
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	return log
}

// timerHost is an ACME site's environment on a fake systemd root whose
// renewal timer is installed, as an apply installs it, through a
// committed transaction under the state directory.
func timerHost(t *testing.T) (*Env, *installer.Server, string) {
	t.Helper()
	root := t.TempDir()
	e := &Env{Answers: &answers.Answers{Domain: "a.test", TLS: answers.TLS{Mode: "acme"}},
		Host: &host.Host{Layout: host.Debian(root), Systemd: true}}
	log := fakeSystemctl(t, e.Host.Layout.SystemdUnitDir)
	ctx := context.WithValue(context.Background(), renewalBinaryKey{}, "/usr/bin/rpwizard")
	changes, err := planRenewal(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	srv := &installer.Server{Name: "nginx", PIDFile: filepath.Join(root, "run/nginx.pid"), TestArgv: []string{"true"}}
	tx := applyAll(t, e, srv, changes)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	os.Remove(log)
	return e, srv, log
}

// applyAll begins a transaction for e's server and applies changes in it;
// the caller commits or rolls back.
func applyAll(t *testing.T, e *Env, srv *installer.Server, changes []installer.Change) *installer.Tx {
	t.Helper()
	tx, err := installer.Begin(context.Background(), e.Host.Layout.StateDir, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if err := tx.Apply(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	return tx
}

func describe(changes []installer.Change) string {
	var out []string
	for _, c := range changes {
		out = append(out, c.Describe())
	}
	return strings.Join(out, "\n")
}

// Removing the last ACME site on a systemd host plans the renewal
// timer's removal as apply installed it, backwards, and a failure after
// the timer was stopped puts the units back and starts it again.
func TestRemoveLastACMESiteDropsTheTimer(t *testing.T) {
	e, srv, log := timerHost(t)
	dir := e.Host.Layout.SystemdUnitDir
	installed := host.TreeSums(dir)
	self := Site{File: filepath.Join(e.Host.Layout.ConfigDir, "sites", "a.test.yaml"), Env: e}
	changes, err := planDropRenewal(e, []Site{self}, &self)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"run systemctl stop rpwizard-renew.timer (a rollback runs systemctl start rpwizard-renew.timer once the files are back)",
		"remove " + filepath.Join(dir, "timers.target.wants", renewalTimer),
		"remove " + filepath.Join(dir, renewalTimer),
		"remove " + filepath.Join(dir, renewalService),
		"remove " + filepath.Join(dir, renewalFailed),
		"run systemctl daemon-reload (a rollback runs systemctl daemon-reload once the files are back)",
	}
	got := describe(changes)
	for i, w := range want {
		if i >= len(changes) || !strings.HasPrefix(changes[i].Describe(), w) {
			t.Fatalf("change %d: want %q; the plan is\n%s", i, w, got)
		}
	}
	if len(changes) != len(want) {
		t.Fatalf("%d changes, want %d:\n%s", len(changes), len(want), got)
	}
	if len(e.Warnings) != 0 {
		t.Errorf("warnings: %+v", e.Warnings)
	}

	// Another ACME site left: the timer stays.
	other := Site{File: "/x/b.test.yaml", Env: &Env{Answers: &answers.Answers{TLS: answers.TLS{Mode: "acme"}}}}
	if c, _ := planDropRenewal(e, []Site{self, other}, &self); len(c) != 0 {
		t.Errorf("with another ACME site left:\n%s", describe(c))
	}

	// A failure after the timer was stopped and its units removed.
	tx := applyAll(t, e, srv, changes)
	if _, err := os.Lstat(filepath.Join(dir, renewalTimer)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the timer unit is still there: %v", err)
	}
	if err := tx.Apply(context.Background(), installer.Change{Kind: installer.Run, Argv: []string{"systemctl", "fail"}}); err == nil {
		t.Fatal("the failing change did not fail")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if d := host.TreeSums(dir); !sameSums(d, installed) {
		t.Errorf("after the rollback the units differ:\n%v\nwant\n%v", d, installed)
	}
	calls, _ := os.ReadFile(log)
	if want := "stop rpwizard-renew.timer (timer unit present)\ndaemon-reload (timer unit absent)\nfail (timer unit absent)\n" +
		"daemon-reload (timer unit present)\nstart rpwizard-renew.timer (timer unit present)\n"; string(calls) != want {
		t.Errorf("systemctl ran as\n%s\nwant\n%s", calls, want)
	}

	// Committed, then undone: the same.
	os.Remove(log)
	tx = applyAll(t, e, srv, changes)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := installer.Undo(context.Background(), e.Host.Layout.StateDir, srv, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if d := host.TreeSums(dir); !sameSums(d, installed) {
		t.Errorf("after the undo the units differ:\n%v\nwant\n%v", d, installed)
	}
	calls, _ = os.ReadFile(log)
	if want := "stop rpwizard-renew.timer (timer unit present)\ndaemon-reload (timer unit absent)\n" +
		"daemon-reload (timer unit present)\nstart rpwizard-renew.timer (timer unit present)\n"; string(calls) != want {
		t.Errorf("systemctl ran as\n%s\nwant\n%s", calls, want)
	}
}

func sameSums(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestDropTimerKeepsWhatIsNotRpwizards(t *testing.T) {
	tests := []struct {
		name  string
		setup func(dir string)
		want  []string // prefixes of the changes' descriptions
		warn  string
	}{
		{"a unit edited by someone else", func(dir string) {
			os.WriteFile(filepath.Join(dir, renewalService), []byte("[Service]\nExecStart=/bin/true\n"), 0o644)
		}, nil, "was not written by rpwizard"},
		{"disabled: not started again by a rollback", func(dir string) {
			os.Remove(filepath.Join(dir, "timers.target.wants", renewalTimer))
		}, []string{"run systemctl stop rpwizard-renew.timer  #", "remove " + renewalTimer, "remove " + renewalService, "remove " + renewalFailed, "run systemctl daemon-reload"}, ""},
		{"no timer unit: nothing to stop", func(dir string) {
			os.Remove(filepath.Join(dir, "timers.target.wants", renewalTimer))
			os.Remove(filepath.Join(dir, renewalTimer))
		}, []string{"remove " + renewalService, "remove " + renewalFailed, "run systemctl daemon-reload"}, ""},
		{"nothing installed", func(dir string) {
			os.RemoveAll(dir)
		}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, _ := timerHost(t)
			dir := e.Host.Layout.SystemdUnitDir
			tt.setup(dir)
			changes := planDropTimer(e)
			got := strings.ReplaceAll(describe(changes), dir+"/", "")
			lines := strings.Split(got, "\n")
			if len(changes) != len(tt.want) {
				t.Fatalf("plan:\n%s\nwant %d changes", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("change %d: %q, want %q", i, lines[i], w)
				}
			}
			if tt.warn == "" && len(e.Warnings) > 0 || tt.warn != "" && (len(e.Warnings) != 1 || !strings.Contains(e.Warnings[0].Msg, tt.warn)) {
				t.Errorf("warnings %+v, want %q", e.Warnings, tt.warn)
			}
		})
	}
}

// A re-apply that rewrites an enabled timer (here: its interval changed
// by hand) and then fails leaves the timer running on its old units: the
// rollback puts them back, reloads systemd and only then starts the
// timer again. So does an undo of the committed re-apply.
func TestRewrittenTimerRunsAgainAfterRollback(t *testing.T) {
	e, srv, log := timerHost(t)
	dir := e.Host.Layout.SystemdUnitDir
	timer := filepath.Join(dir, renewalTimer)
	data, err := os.ReadFile(timer)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(timer, []byte(strings.Replace(string(data), "OnCalendar=", "OnCalendar=weekly\n#", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	before := host.TreeSums(dir)
	ctx := context.WithValue(context.Background(), renewalBinaryKey{}, "/usr/bin/rpwizard")
	changes, err := planRenewal(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(changes); !strings.HasPrefix(got, "run systemctl stop rpwizard-renew.timer (a rollback runs systemctl restart rpwizard-renew.timer once the files are back)") {
		t.Fatalf("the rewrite does not stop the timer first, with a restart once the files are back:\n%s", got)
	}
	const applied = "stop rpwizard-renew.timer (timer unit present)\ndaemon-reload (timer unit present)\nrestart rpwizard-renew.timer (timer unit present)\n"
	const restored = "daemon-reload (timer unit present)\nrestart rpwizard-renew.timer (timer unit present)\n"

	tx := applyAll(t, e, srv, changes)
	if err := tx.Apply(context.Background(), installer.Change{Kind: installer.Run, Argv: []string{"systemctl", "fail"}}); err == nil {
		t.Fatal("the failing change did not fail")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if d := host.TreeSums(dir); !sameSums(d, before) {
		t.Errorf("after the rollback the units differ:\n%v\nwant\n%v", d, before)
	}
	if calls, _ := os.ReadFile(log); string(calls) != applied+"fail (timer unit present)\n"+restored {
		t.Errorf("systemctl ran as\n%s\nwant\n%s", calls, applied+"fail (timer unit present)\n"+restored)
	}

	os.Remove(log)
	tx = applyAll(t, e, srv, changes)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := installer.Undo(context.Background(), e.Host.Layout.StateDir, srv, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if d := host.TreeSums(dir); !sameSums(d, before) {
		t.Errorf("after the undo the units differ:\n%v\nwant\n%v", d, before)
	}
	if calls, _ := os.ReadFile(log); string(calls) != applied+restored {
		t.Errorf("systemctl ran as\n%s\nwant\n%s", calls, applied+restored)
	}
}
