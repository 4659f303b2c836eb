package integration

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/internal/testenv"
)

// tryTrees are what `rpwizard try` must leave byte for byte as it found
// them: the web servers' configs, rpwizard's config and state (backups,
// journals, lock, self-test results), cron and systemd units, and the
// self-test's run directory.
var tryTrees = []string{"/etc/nginx", "/etc/apache2", "/etc/rpwizard", "/var/lib/rpwizard", "/etc/cron.d", "/etc/systemd/system", "/run/rpwizard"}

// TestTryLeavesTheHostAsItFoundIt: `rpwizard try` without a terminal
// applies the echo app's site on real nginx and Apache, passes the
// self-test, removes it all and exits 0, with every tree as before and the
// server stopped again when it was not running; from a host with an
// rpwizard site of its own, that site keeps serving and its run stays the
// one undo would undo. --dry-run changes nothing. Ctrl+C during the apply
// rolls back and exits 130, again leaving the trees as they were.
func TestTryLeavesTheHostAsItFoundIt(t *testing.T) {
	ownHost(t)
	clearRpwizardSites(t)
	try := func(t *testing.T, args ...string) result {
		t.Helper()
		before := testenv.TreeHash(t, tryTrees...)
		r := rpwizard(t, nil, append([]string{"try"}, args...)...)
		if after := testenv.TreeHash(t, tryTrees...); after != before {
			t.Errorf("rpwizard try %v changed the trees %v\nstdout:\n%s\nstderr:\n%s", args, tryTrees, r.stdout, r.stderr)
		}
		return r
	}
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			testenv.StopServers(t)
			r := try(t, "--server", server)
			if r.code != 0 {
				t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			t.Logf("rpwizard try --server %s:\n%s", server, r.stdout)
			for _, want := range []string{"the built-in echo app listens on 127.0.0.1:", "https://rpwizard-try.localhost/ is served by",
				"removed: ", "are as before the try, byte for byte (checked"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("the output does not say %q:\n%s", want, r.stdout)
				}
			}
			if pidAlive("/run/nginx.pid") || pidAlive("/run/apache2/apache2.pid") {
				t.Errorf("%s was not running before the try, and still runs after it", server)
			}
			if r := try(t, "--server", server, "--dry-run"); r.code != 0 || !strings.Contains(r.stdout, "dry run: nothing was changed") {
				t.Errorf("--dry-run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}

	t.Run("beside a site", func(t *testing.T) {
		testenv.StopServers(t)
		backend(t, "127.0.0.1:9000")
		mustApply(t, "app: generic\nserver: nginx\ndomain: app.test\nupstream: 127.0.0.1:9000\ntls: {mode: self-signed}\n")
		c := client(t, "app.test")
		pids := serverPIDs(t)
		plan := rpwizard(t, nil, "undo", "--dry-run", "--server", "nginx")
		r := try(t, "--server", "nginx")
		if r.code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		echo(t, c, "https://app.test/")
		if !pidAlive("/run/nginx.pid") || serverPIDs(t) == "" {
			t.Fatalf("nginx ran before the try (%s) and is not running after it", pids)
		}
		if after := rpwizard(t, nil, "undo", "--dry-run", "--server", "nginx"); after.stdout != plan.stdout {
			t.Errorf("after the try, undo would not undo the site's run any more:\nbefore:\n%s\nafter:\n%s", plan.stdout, after.stdout)
		}
	})

	t.Run("Ctrl+C during the apply", func(t *testing.T) {
		testenv.StopServers(t)
		before := testenv.TreeHash(t, tryTrees...)
		cmd := exec.Command(binary, "try", "--server", "nginx")
		cmd.Env = append(os.Environ(), "RPWIZARD_TEST_STALL_AFTER=site config")
		var out testenv.SyncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 600 && !strings.Contains(out.String(), "site config"); i++ { // 60 s
			time.Sleep(100 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			<-done
			t.Fatalf("rpwizard try did not end within 2 minutes after SIGINT\n%s", out.String())
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Errorf("exit %v, want 130\n%s", err, out.String())
		}
		t.Logf("rpwizard try, SIGINT after the site config:\n%s", out.String())
		if !strings.Contains(out.String(), "every change was rolled back") {
			t.Errorf("the output does not say it rolled back:\n%s", out.String())
		}
		if after := testenv.TreeHash(t, tryTrees...); after != before {
			t.Errorf("after Ctrl+C the trees differ from before\n%s", out.String())
		}
		if pidAlive("/run/nginx.pid") {
			t.Error("nginx was not running before the try, and runs after Ctrl+C")
		}
	})
}
