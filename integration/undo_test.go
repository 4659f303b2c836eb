package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/internal/testenv"
	"github.com/rpwizard/rpwizard/internal/testpebble"
)

// undoTrees are the trees an undo puts back byte for byte (the state
// directory keeps the undone run's journal and backups).
var undoTrees = []string{"/etc/nginx", "/etc/apache2", "/etc/rpwizard", "/etc/cron.d", "/etc/systemd/system"}

// sumsDiff lists the paths whose fingerprint differs between a and b.
func sumsDiff(a, b map[string]string) []string {
	var d []string
	for p, v := range a {
		if b[p] != v {
			d = append(d, p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			d = append(d, p+" (new)")
		}
	}
	sort.Strings(d)
	return d
}

// masterPID is the pid in pidFile (0 if none).
func masterPID(pidFile string) int {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// gone reports whether every one of pids has exited.
func gone(pids map[int]bool) []int {
	var left []int
	for p := range pids {
		if err := syscall.Kill(p, 0); !errors.Is(err, syscall.ESRCH) {
			if st, ok := host.StartTime(p); ok && st > 0 { // a zombie has exited
				left = append(left, p)
			}
		}
	}
	return left
}

// startedByTest starts nginx by hand (as an admin would) and stops it
// again, by its pid, when the test ends.
func startedByTest(t *testing.T) int {
	t.Helper()
	if out, err := exec.Command("/usr/sbin/nginx").CombinedOutput(); err != nil {
		t.Fatalf("start nginx: %v\n%s", err, out)
	}
	pid := 0
	for i := 0; i < 200 && pid == 0; i++ {
		pid = masterPID("/run/nginx.pid")
		time.Sleep(25 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatal("nginx started by hand wrote no pid file")
	}
	t.Cleanup(func() { stopByPID(pid) })
	return pid
}

// stopByPID asks the process pid to quit (SIGQUIT: nginx's graceful
// stop) and waits, bounded, until it has.
func stopByPID(pid int) {
	if syscall.Kill(pid, syscall.SIGQUIT) != nil {
		return
	}
	for i := 0; i < 400; i++ {
		if _, ok := host.StartTime(pid); !ok {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestUndoStopsTheServerTheApplyStarted, on nginx and Apache: on a host
// where the server is installed but stopped, an apply starts it; undo
// (its --dry-run says so first) restores every file byte for byte and
// stops the server again: its master and workers have exited, nothing
// listens on 80 or 443.
func TestUndoStopsTheServerTheApplyStarted(t *testing.T) {
	for _, srv := range []struct{ name, pidFile string }{{"nginx", "/run/nginx.pid"}, {"apache", "/run/apache2/apache2.pid"}} {
		t.Run(srv.name, func(t *testing.T) {
			ownHost(t) // stops both servers
			startWithoutSites(t)
			os.MkdirAll("/etc/rpwizard", 0o700) // every run makes it, outside the journal
			backend(t, "127.0.0.1:9000")
			before := host.TreeSums(undoTrees...)

			mustApply(t, appCases[0].answers(srv.name))
			master := masterPID(srv.pidFile)
			if master == 0 || !pidAlive(srv.pidFile) {
				t.Fatalf("the apply did not start %s", srv.name)
			}
			procs := host.Descendants(master)
			procs[master] = true
			echo(t, client(t, "jatos.test"), "https://jatos.test/")

			dry := mustRun(t, "undo", "--server", srv.name, "--dry-run")
			for _, w := range []string{"stop " + srv.name + ", then check that its processes have exited",
				fmt.Sprintf("which started it (pid %d): it is stopped again", master), "dry run: nothing was changed"} {
				if !strings.Contains(dry.stdout, w) {
					t.Errorf("undo --dry-run lacks %q:\n%s", w, dry.stdout)
				}
			}
			if strings.Contains(dry.stdout, "config test, then reload") {
				t.Errorf("undo --dry-run would reload the server it stops:\n%s", dry.stdout)
			}
			if !pidAlive(srv.pidFile) || masterPID(srv.pidFile) != master {
				t.Fatal("undo --dry-run stopped or restarted the server")
			}

			r := mustRun(t, "undo", "--server", srv.name)
			t.Logf("rpwizard undo --server %s:\n%s", srv.name, r.stdout)
			if want := fmt.Sprintf("was not running before this run and is stopped again (checked: pid %d", master); !strings.Contains(r.stdout, want) {
				t.Errorf("undo does not say %q:\n%s", want, r.stdout)
			}
			if pidAlive(srv.pidFile) {
				t.Errorf("%s still runs after the undo of the apply that started it", srv.name)
			}
			if left := gone(procs); len(left) > 0 {
				t.Errorf("processes of %s still run after the undo: %v", srv.name, left)
			}
			for _, addr := range []string{"127.0.0.1:80", "127.0.0.1:443"} {
				if listening(addr) {
					t.Errorf("something still listens on %s after the undo", addr)
				}
			}
			if d := sumsDiff(before, host.TreeSums(undoTrees...)); len(d) > 0 {
				t.Errorf("after the undo these differ from before the apply: %v", d)
			}
		})
	}
}

// TestUndoKeepsARunningServerRunning: a server that ran before the apply
// keeps running through the undo (reloaded, the same master); one the
// apply started but an admin restarted since is left running, and the
// undo says why. Either way the files are as before, byte for byte.
func TestUndoKeepsARunningServerRunning(t *testing.T) {
	t.Run("running before the apply", func(t *testing.T) {
		ownHost(t)
		startWithoutSites(t)
		os.MkdirAll("/etc/rpwizard", 0o700)
		backend(t, "127.0.0.1:9000")
		master := startedByTest(t)
		before := host.TreeSums(undoTrees...)
		mustApply(t, appCases[0].answers("nginx"))
		if masterPID("/run/nginx.pid") != master {
			t.Fatal("the apply restarted nginx instead of reloading it")
		}
		dry := mustRun(t, "undo", "--server", "nginx", "--dry-run")
		if !strings.Contains(dry.stdout, "config test, then reload nginx") || strings.Contains(dry.stdout, "stop nginx") {
			t.Errorf("undo --dry-run:\n%s", dry.stdout)
		}
		r := mustRun(t, "undo", "--server", "nginx")
		if !strings.Contains(r.stdout, "nginx reloaded and serves the previous config") {
			t.Errorf("undo output:\n%s", r.stdout)
		}
		if masterPID("/run/nginx.pid") != master || !pidAlive("/run/nginx.pid") {
			t.Error("nginx ran before the apply and does not run the same master after the undo")
		}
		if d := sumsDiff(before, host.TreeSums(undoTrees...)); len(d) > 0 {
			t.Errorf("after the undo these differ from before the apply: %v", d)
		}
	})
	t.Run("restarted by hand since the apply", func(t *testing.T) {
		ownHost(t)
		startWithoutSites(t)
		os.MkdirAll("/etc/rpwizard", 0o700)
		backend(t, "127.0.0.1:9000")
		before := host.TreeSums(undoTrees...)
		mustApply(t, appCases[0].answers("nginx"))
		started := masterPID("/run/nginx.pid")
		testenv.StopServers(t)
		again := startedByTest(t)
		if again == started {
			t.Fatalf("nginx restarted with the same pid %d", again)
		}
		dry := mustRun(t, "undo", "--server", "nginx", "--dry-run")
		if !strings.Contains(dry.stdout, fmt.Sprintf("it was started again since (now pid %d): it is left running", again)) || strings.Contains(dry.stdout, "stop nginx") {
			t.Errorf("undo --dry-run:\n%s", dry.stdout)
		}
		r := mustRun(t, "undo", "--server", "nginx")
		if !strings.Contains(r.stdout, "it is left running") {
			t.Errorf("undo output:\n%s", r.stdout)
		}
		if masterPID("/run/nginx.pid") != again || !pidAlive("/run/nginx.pid") {
			t.Error("undo stopped or restarted the nginx an admin started")
		}
		if d := sumsDiff(before, host.TreeSums(undoTrees...)); len(d) > 0 {
			t.Errorf("after the undo these differ from before the apply: %v", d)
		}
	})
}

// renewalUnits are the paths an apply on a systemd host writes for the
// renewal timer.
var renewalUnits = []string{
	"/etc/systemd/system/timers.target.wants/rpwizard-renew.timer",
	"/etc/systemd/system/rpwizard-renew.timer",
	"/etc/systemd/system/rpwizard-renew.service",
	"/etc/systemd/system/rpwizard-renew-failed.service",
}

// ownRenewalUnits puts the renewal unit paths back as they were when the
// test ends (testenv.OwnHost does not cover /etc/systemd/system).
func ownRenewalUnits(t *testing.T) {
	t.Helper()
	type saved struct {
		link string
		data []byte
		mode os.FileMode
		ok   bool
	}
	was := map[string]saved{}
	for _, p := range renewalUnits {
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		s := saved{ok: true, mode: fi.Mode().Perm()}
		if fi.Mode()&os.ModeSymlink != 0 {
			s.link, _ = os.Readlink(p)
		} else if s.data, err = os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
		was[p] = s
	}
	t.Cleanup(func() {
		for _, p := range renewalUnits {
			os.Remove(p)
			s, ok := was[p]
			switch {
			case !ok:
			case s.link != "":
				os.Symlink(s.link, p)
			default:
				os.WriteFile(p, s.data, s.mode)
			}
		}
	})
}

// fakeSystemctl is a stand-in systemctl for a host without systemd: it
// logs each call to log (with whether the timer unit exists then), runs
// nginx's own commands for the nginx service, succeeds for everything
// else, and fails one daemon-reload while the file failOnce exists
// (removing it).
func fakeSystemctl(t *testing.T) (env []string, log, failOnce string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "systemctl.log")
	failOnce = filepath.Join(dir, "fail-daemon-reload")
	script := `#!/bin/sh
unit=absent; test -e /etc/systemd/system/rpwizard-renew.timer && unit=present
echo "$* (timer unit $unit)" >>` + log + `
case "$*" in
"start nginx") exec /usr/sbin/nginx ;;
"reload nginx") exec /usr/sbin/nginx -s reload ;;
"stop nginx") exec /usr/sbin/nginx -s quit ;;
daemon-reload) if test -e ` + failOnce + `; then rm -f ` + failOnce + `; echo "Failed to reload daemon (test)" >&2; exit 1; fi ;;
esac
exit 0
`
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{host.SystemdTestEnv + "=1", "PATH=" + bin + ":" + os.Getenv("PATH")}, log, failOnce
}

// calls reads the stand-in systemctl's log and empties it.
func calls(t *testing.T, log string) string {
	t.Helper()
	data, _ := os.ReadFile(log)
	os.Remove(log)
	return string(data)
}

// mustRunEnv runs rpwizard with extra environment; it must exit 0.
func mustRunEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	r := rpwizard(t, env, args...)
	if r.code != 0 {
		t.Fatalf("rpwizard %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// TestRemoveLastACMESiteDropsTheSystemdTimer, on nginx with Pebble and a
// stand-in systemctl (this test machine runs no systemd; rpwizard is told
// that it does): an ACME apply installs and starts the renewal timer;
// removing the only ACME site plans (--dry-run) and then takes the timer
// away — stopped, link and units removed, systemd reloaded — and a remove
// that fails after that puts the units back byte for byte, reloads
// systemd and starts the timer again; undo of the remove does the same.
// What a real systemd does with these commands is not tested here.
func TestRemoveLastACMESiteDropsTheSystemdTimer(t *testing.T) {
	ownHost(t)
	ownRenewalUnits(t)
	startWithoutSites(t)
	for _, p := range renewalUnits {
		os.Remove(p)
	}
	unitsBefore := testenv.TreeHash(t, "/etc/systemd/system")
	backend(t, "127.0.0.1:9000")
	ca, bundle := pebble(t, testpebble.Options{})
	env, log, failOnce := fakeSystemctl(t)

	mustRunEnv(t, env, "--answers", writeAnswers(t, acmeAnswers("nginx", ca.DirectoryURL, bundle)))
	for _, p := range renewalUnits {
		if _, err := os.Lstat(p); err != nil {
			t.Fatalf("the ACME apply on a systemd host did not install %s: %v", p, err)
		}
	}
	if _, err := os.Lstat("/etc/cron.d/rpwizard"); err == nil {
		t.Error("the ACME apply on a systemd host wrote a cron entry too")
	}
	if c := calls(t, log); !strings.Contains(c, "restart rpwizard-renew.timer") {
		t.Errorf("the apply did not start the timer; systemctl calls:\n%s", c)
	}
	installed := testenv.TreeHash(t, undoTrees...)

	// --dry-run: the plan, and nothing done.
	dry := mustRunEnv(t, env, "remove", "jatos.test", "--dry-run")
	for _, w := range []string{"run systemctl stop rpwizard-renew.timer (a rollback runs systemctl start rpwizard-renew.timer once the files are back)"} {
		if !strings.Contains(dry.stdout, w) {
			t.Errorf("remove --dry-run lacks %q:\n%s", w, dry.stdout)
		}
	}
	for _, p := range renewalUnits {
		if !strings.Contains(dry.stdout, "remove "+p) {
			t.Errorf("remove --dry-run does not remove %s:\n%s", p, dry.stdout)
		}
	}
	if strings.Contains(dry.stdout, "timer rpwizard-renew.timer is kept") || !strings.Contains(dry.stdout, "run systemctl daemon-reload") {
		t.Errorf("remove --dry-run:\n%s", dry.stdout)
	}
	if c := calls(t, log); c != "" || testenv.TreeHash(t, undoTrees...) != installed {
		t.Fatalf("remove --dry-run acted: systemctl %q, or files changed", c)
	}

	// A remove that fails after the timer was stopped and its units removed.
	os.WriteFile(failOnce, nil, 0o600)
	r := rpwizard(t, env, "remove", "jatos.test")
	if r.code != 1 || !strings.Contains(r.stderr, "rolled back") {
		t.Fatalf("remove with a failing daemon-reload: exit %d, want 1, rolled back\n%s%s", r.code, r.stdout, r.stderr)
	}
	c := calls(t, log)
	want := []string{"stop rpwizard-renew.timer (timer unit present)", "daemon-reload (timer unit absent)",
		"daemon-reload (timer unit present)", "start rpwizard-renew.timer (timer unit present)"}
	if !inOrder(c, want) {
		t.Errorf("systemctl calls of the failed remove:\n%s\nwant, in this order: %q", c, want)
	}
	if testenv.TreeHash(t, undoTrees...) != installed {
		t.Error("the failed remove did not put every file back")
	}
	echo(t, client(t, "jatos.test"), "https://jatos.test/after-the-failed-remove")

	// The remove.
	mustRunEnv(t, env, "remove", "jatos.test")
	for _, p := range renewalUnits {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("remove of the last ACME site left %s", p)
		}
	}
	if c := calls(t, log); !inOrder(c, []string{"stop rpwizard-renew.timer (timer unit present)", "daemon-reload (timer unit absent)"}) || strings.Contains(c, "start rpwizard-renew.timer") {
		t.Errorf("systemctl calls of the remove:\n%s", c)
	}
	if testenv.TreeHash(t, "/etc/systemd/system") != unitsBefore {
		t.Error("after the remove /etc/systemd/system is not as before the apply")
	}

	// Undo of the remove: the units back, systemd reloaded, the timer started.
	mustRunEnv(t, env, "undo", "--server", "nginx")
	if testenv.TreeHash(t, undoTrees...) != installed {
		t.Error("undo of the remove did not bring every file back")
	}
	if c := calls(t, log); !inOrder(c, []string{"daemon-reload (timer unit present)", "start rpwizard-renew.timer (timer unit present)"}) {
		t.Errorf("systemctl calls of the undo:\n%s", c)
	}
}

// inOrder reports whether the lines of want appear in text in this order.
func inOrder(text string, want []string) bool {
	lines := strings.Split(text, "\n")
	i := 0
	for _, l := range lines {
		if i < len(want) && l == want[i] {
			i++
		}
	}
	return i == len(want)
}
