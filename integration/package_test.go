package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/internal/testenv"
)

// TestDebPackage builds the .deb with ./scripts/package, installs it with
// dpkg -i and checks what it installed: the version, the man page, the
// completions and the renewal units (systemd-analyze verify), and that
// installing started nothing and changed no web server. Then, with a site
// applied by the installed rpwizard: dpkg -r removes the package's files
// and leaves the site, its certificate and backups byte for byte; dpkg -P
// with the site still there keeps rpwizard's state and says so; once the
// site is undone, dpkg -P removes /etc/rpwizard and /var/lib/rpwizard and
// leaves nginx's files as they were before the site.
func TestDebPackage(t *testing.T) {
	ownHost(t)
	for _, tool := range []string{"dpkg", "dpkg-deb", "man", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "rpwizard").Output(); err == nil && len(out) > 0 && !strings.Contains(string(out), "not-installed") {
		t.Fatalf("an rpwizard package is on this host (%s): the test would replace it; remove it first (dpkg -P rpwizard)", out)
	}
	if _, err := os.Lstat("/usr/bin/rpwizard"); err == nil {
		t.Fatal("/usr/bin/rpwizard exists but no package owns it: the test would overwrite it")
	}
	clearRpwizardSites(t)
	backend(t, "127.0.0.1:9000")

	dist := t.TempDir()
	repo, _ := filepath.Abs("..")
	build := exec.Command(filepath.Join(repo, "scripts/package"))
	build.Env = append(os.Environ(), "ARCHES=amd64", "FORMATS=deb", "DIST="+dist)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("scripts/package: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dist, "rpwizard_*_amd64.deb"))
	if len(debs) != 1 {
		t.Fatalf("scripts/package wrote %v, want one rpwizard_VERSION_amd64.deb", debs)
	}
	deb := debs[0]
	version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(deb), "rpwizard_"), "_amd64.deb")

	// Whatever happens, the package goes again (OwnHost restores the
	// managed trees afterwards).
	t.Cleanup(func() {
		if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "rpwizard").Output(); err == nil && !strings.Contains(string(out), "not-installed") {
			if out, err := exec.Command("dpkg", "-P", "rpwizard").CombinedOutput(); err != nil {
				t.Errorf("cleanup: dpkg -P rpwizard: %v\n%s", err, out)
			}
		}
	})

	trees := []string{"/etc/nginx", "/etc/apache2", "/etc/rpwizard", "/var/lib/rpwizard", "/etc/cron.d", "/etc/systemd/system"}
	before := testenv.TreeHash(t, trees...)
	nginxBefore := testenv.TreeHash(t, "/etc/nginx")
	running := pidAlive("/run/nginx.pid") || pidAlive("/run/apache2/apache2.pid")
	install := dpkg(t, "-i", deb)
	if after := testenv.TreeHash(t, trees...); after != before {
		t.Errorf("installing changed the managed trees (%v)\n%s", trees, install)
	}
	if now := pidAlive("/run/nginx.pid") || pidAlive("/run/apache2/apache2.pid"); now != running {
		t.Errorf("installing started or stopped a web server (running before: %v, after: %v)", running, now)
	}
	if _, err := os.Lstat("/etc/systemd/system/timers.target.wants/rpwizard-renew.timer"); err == nil {
		t.Error("installing enabled the renewal timer")
	}
	files := packageFiles(t)

	out := runPkgCmd(t, "/usr/bin/rpwizard", "--version")
	if first, _, _ := strings.Cut(out, "\n"); first != "rpwizard "+version {
		t.Errorf("rpwizard --version: %q, want rpwizard %s", first, version)
	}
	if page := strings.TrimSpace(runPkgCmd(t, "man", "-w", "rpwizard")); page != "/usr/share/man/man8/rpwizard.8.gz" {
		t.Errorf("man -w rpwizard: %q", page)
	}
	for _, f := range []string{"/usr/share/bash-completion/completions/rpwizard", "/usr/share/zsh/vendor-completions/_rpwizard", "/usr/share/fish/vendor_completions.d/rpwizard.fish"} {
		data, err := os.ReadFile(f)
		if err != nil || !bytes.Contains(data, []byte("rpwizard")) {
			t.Errorf("completion %s: %v (%d bytes)", f, err, len(data))
		}
	}
	runPkgCmd(t, "bash", "-n", "/usr/share/bash-completion/completions/rpwizard")
	service, _ := os.ReadFile("/usr/lib/systemd/system/rpwizard-renew.service")
	if !strings.Contains(string(service), "\nExecStart=/usr/bin/rpwizard renew\n") {
		t.Errorf("rpwizard-renew.service does not run /usr/bin/rpwizard renew:\n%s", service)
	}
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		units, _ := filepath.Glob("/usr/lib/systemd/system/rpwizard-*")
		runPkgCmd(t, "systemd-analyze", append([]string{"verify"}, units...)...)
	} else if timer, _ := os.ReadFile("/usr/lib/systemd/system/rpwizard-renew.timer"); !strings.Contains(string(timer), "[Timer]\nOnCalendar=") {
		t.Errorf("rpwizard-renew.timer has no [Timer] OnCalendar=:\n%s", timer)
	}
	if data, err := os.ReadFile("/etc/logrotate.d/rpwizard"); err != nil || !bytes.Contains(data, []byte("/var/log/rpwizard.log /var/log/rpwizard-*.log {")) {
		t.Errorf("/etc/logrotate.d/rpwizard: %v\n%s", err, data)
	}
	if _, err := os.Stat("/usr/share/doc/rpwizard/copyright"); err != nil {
		t.Error(err)
	}

	// A site, set up by the installed rpwizard.
	answers := writeAnswers(t, "app: generic\nserver: nginx\ndomain: pkg.test\nupstream: 127.0.0.1:9000\ntls: {mode: self-signed}\n")
	if out, err := exec.Command("/usr/bin/rpwizard", "--answers", answers).CombinedOutput(); err != nil {
		t.Fatalf("/usr/bin/rpwizard --answers: %v\n%s", err, out)
	}
	site := testenv.TreeHash(t, "/etc/nginx", "/etc/rpwizard", "/var/lib/rpwizard")

	out = dpkg(t, "-r", "rpwizard")
	if !strings.Contains(out, "the sites it set up keep serving") {
		t.Errorf("dpkg -r does not say that the site stays:\n%s", out)
	}
	for _, f := range files {
		_, err := os.Lstat(f)
		switch {
		case f == "/etc/logrotate.d/rpwizard" && err != nil:
			t.Errorf("dpkg -r removed the conffile %s (only purge should)", f)
		case f != "/etc/logrotate.d/rpwizard" && err == nil:
			t.Errorf("dpkg -r left %s", f)
		}
	}
	if testenv.TreeHash(t, "/etc/nginx", "/etc/rpwizard", "/var/lib/rpwizard") != site {
		t.Error("dpkg -r changed the site's files, certificate or backups")
	}
	echo(t, client(t, "pkg.test"), "https://pkg.test/")

	out = dpkg(t, "-P", "rpwizard")
	if !strings.Contains(out, "purge keeps /etc/rpwizard and /var/lib/rpwizard") {
		t.Errorf("dpkg -P with a site left does not say that it keeps the state:\n%s", out)
	}
	if testenv.TreeHash(t, "/etc/nginx", "/etc/rpwizard", "/var/lib/rpwizard") != site {
		t.Error("dpkg -P with a site left changed the site's files, certificate or backups")
	}
	if _, err := os.Lstat("/etc/logrotate.d/rpwizard"); err == nil {
		t.Error("dpkg -P left /etc/logrotate.d/rpwizard")
	}

	// Without a site, purge takes rpwizard's own state with it.
	dpkg(t, "-i", deb)
	if out, err := exec.Command("/usr/bin/rpwizard", "undo", "--server", "nginx").CombinedOutput(); err != nil {
		t.Fatalf("rpwizard undo: %v\n%s", err, out)
	}
	out = dpkg(t, "-P", "rpwizard")
	if !strings.Contains(out, "no site is left") {
		t.Errorf("dpkg -P without a site does not say it removed the state:\n%s", out)
	}
	for _, p := range append(files, "/etc/rpwizard", "/var/lib/rpwizard") {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("after dpkg -P: %s is still there", p)
		}
	}
	if testenv.TreeHash(t, "/etc/nginx") != nginxBefore {
		t.Error("after the undo and the purge, /etc/nginx differs from before the site")
	}
}

// clearRpwizardSites starts a test without rpwizard's sites,
// certificates and runs, whatever an earlier test left (ownHost restores
// them afterwards).
func clearRpwizardSites(t *testing.T) {
	t.Helper()
	for _, p := range []string{"/etc/rpwizard", "/var/lib/rpwizard", "/etc/cron.d/rpwizard"} {
		os.RemoveAll(p)
	}
	for _, pattern := range []string{"/etc/nginx/sites-enabled/rpwizard-*", "/etc/nginx/sites-available/rpwizard-*",
		"/etc/apache2/sites-enabled/rpwizard-*", "/etc/apache2/sites-available/rpwizard-*"} {
		old, _ := filepath.Glob(pattern)
		for _, p := range old {
			os.Remove(p)
		}
	}
}

// dpkg runs dpkg with args and returns its output; it fails t if dpkg fails.
func dpkg(t *testing.T, args ...string) string {
	t.Helper()
	return runPkgCmd(t, "dpkg", args...)
}

// runPkgCmd runs a command (at most 2 minutes) and returns its combined output;
// it fails t if the command fails.
func runPkgCmd(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// packageFiles are the files and links the installed rpwizard package
// owns (dpkg -L, without directories).
func packageFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, p := range strings.Split(runPkgCmd(t, "dpkg", "-L", "rpwizard"), "\n") {
		if fi, err := os.Lstat(p); p != "" && err == nil && !fi.IsDir() {
			files = append(files, p)
		}
	}
	if len(files) < 10 {
		t.Fatalf("dpkg -L rpwizard lists only %v", files)
	}
	return files
}
