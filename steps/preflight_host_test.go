package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/internal/testbackend"
	"github.com/rpwizard/rpwizard/internal/testenv"
	"github.com/rpwizard/rpwizard/preflight"
	"github.com/rpwizard/rpwizard/server"
)

// Host tests: the real checks on this Debian host. Each takes the host
// lock, stops nginx and Apache for its duration and starts again those
// that ran before, and removes what it created.

// quietServers stops nginx and Apache; cleanup starts again the ones that
// ran.
func quietServers(t *testing.T) *host.Host {
	t.Helper()
	ctx := context.Background()
	h, err := host.Detect(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"nginx", "apache"} {
		s := server.Controller(server.Must(h, name))
		if !s.Running() {
			continue
		}
		if err := s.Stop(ctx); err != nil {
			t.Fatalf("stop %s: %v", name, err)
		}
		t.Cleanup(func() {
			if s.Running() {
				return
			}
			if err := s.ReloadOrStart(context.Background()); err != nil {
				t.Errorf("start %s again: %v", name, err)
			}
		})
	}
	return h
}

// dropNewBackups removes, on cleanup, the backup directories that the
// test's transactions leave in the state directory.
func dropNewBackups(t *testing.T) {
	dir := "/var/lib/rpwizard/backups"
	old := map[string]bool{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		old[e.Name()] = true
	}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !old[e.Name()] {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	})
}

// hostEnv validates answers against the real host.
func hostEnv(t *testing.T, a *answers.Answers) *Env {
	t.Helper()
	h, err := host.Detect(context.Background(), "/")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Validate(h.Installed); err != nil {
		t.Fatal(err)
	}
	return NewEnv(a, h)
}

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestPreflightHostNamesTheProgramOnPort80(t *testing.T) {
	testenv.RequireHost(t)
	quietServers(t)
	ln, err := net.Listen("tcp", "0.0.0.0:80")
	if err != nil {
		t.Fatalf("hold port 80: %v", err)
	}
	defer ln.Close()
	a := jatosAnswers("nginx")
	a.Domain = "port80.preflight.test"
	e := hostEnv(t, a)
	_, err = Plan(context.Background(), e)
	var r *RefusedError
	if !errors.As(err, &r) {
		t.Fatalf("err = %v, want a refusal", err)
	}
	comm, _ := os.ReadFile("/proc/self/comm")
	want := fmt.Sprintf("port 80 held by %s (pid %d: ", strings.TrimSpace(string(comm)), os.Getpid())
	if r.Check != "ports" || !strings.HasPrefix(r.Msg, want) || !strings.HasSuffix(r.Msg, "not by nginx: nginx could not listen there") {
		t.Errorf("refusal %q: %q, want it to start with %q", r.Check, r.Msg, want)
	}
	if !strings.Contains(r.Fix, fmt.Sprintf("(pid %d) or move it to other ports", os.Getpid())) {
		t.Errorf("fix %q", r.Fix)
	}
	t.Logf("rpwizard: %v", err)
}

func TestPreflightHostUpstream(t *testing.T) {
	testenv.RequireHost(t)
	quietServers(t)
	ctx := context.Background()
	t.Run("stopped upstream warns", func(t *testing.T) {
		a := jatosAnswers("nginx")
		a.Domain, a.Upstream = "stopped.preflight.test", freePort(t)
		e := hostEnv(t, a)
		if _, err := planPreflight(ctx, e); err != nil {
			t.Fatal(err)
		}
		want := "upstream: nothing answers on " + a.Upstream + " yet (connection refused): JATOS is not running, and the proxy will answer 502 Bad Gateway until it is"
		found := false
		for _, w := range e.Warnings {
			if w.Msg == want && strings.HasPrefix(w.Fix, "start JATOS (listening on "+a.Upstream+")") {
				found = true
			}
		}
		if !found {
			t.Errorf("warnings %+v lack %q", e.Warnings, want)
		}
	})
	t.Run("running upstream, under 200 ms", func(t *testing.T) {
		b, err := testbackend.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		a := jatosAnswers("nginx")
		a.Domain, a.Upstream = "running.preflight.test", b.Addr
		e := hostEnv(t, a)
		best := time.Hour
		var changes []installer.Change
		for i := 0; i < 3; i++ {
			start := time.Now()
			changes, err = planPreflight(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			best = min(best, time.Since(start))
		}
		t.Logf("preflight took %s", best)
		if best > 200*time.Millisecond {
			t.Errorf("preflight took %s, want < 200 ms", best)
		}
		var notes []string
		for _, c := range changes {
			notes = append(notes, c.Why)
		}
		comm, _ := os.ReadFile("/proc/self/comm")
		want := fmt.Sprintf("checked upstream: JATOS answers on %s (%s (pid %d", b.Addr, strings.TrimSpace(string(comm)), os.Getpid())
		if !strings.Contains(strings.Join(notes, "\n"), want) {
			t.Errorf("notes lack %q:\n%s", want, strings.Join(notes, "\n"))
		}
		for _, w := range e.Warnings {
			if strings.HasPrefix(w.Msg, "upstream:") {
				t.Errorf("unexpected warning %q", w.Msg)
			}
		}
	})
}

func TestPreflightHostForeignConfig(t *testing.T) {
	testenv.RequireHost(t)
	quietServers(t)
	dropNewBackups(t)
	ctx := context.Background()
	const domain = "foreign.preflight.test"
	avail, enabled := "/etc/nginx/sites-available/rpwizard-test-foreign", "/etc/nginx/sites-enabled/rpwizard-test-foreign"
	if err := os.WriteFile(avail, []byte("server {\n    listen 127.0.0.1:80;\n    server_name "+domain+";\n    return 204;\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(avail, enabled); err != nil {
		os.Remove(avail)
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(enabled); os.Remove(avail) })
	before := testenv.TreeHash(t, "/etc/nginx")

	a := jatosAnswers("nginx")
	a.Domain = domain
	_, err := Plan(ctx, hostEnv(t, a))
	var r *RefusedError
	if !errors.As(err, &r) || r.Check != "existing config" ||
		r.Msg != domain+" is already served by "+enabled+", which rpwizard did not write" || !strings.Contains(r.Fix, "take_over: true") {
		t.Fatalf("err = %v, want the existing config refused", err)
	}
	if testenv.TreeHash(t, "/etc/nginx") != before {
		t.Fatal("a refused run changed /etc/nginx")
	}

	// With take_over, the link is removed through the journal, which
	// keeps it for rollback and `rpwizard undo`.
	a = jatosAnswers("nginx")
	a.Domain, a.TakeOver = domain, true
	e := hostEnv(t, a)
	changes, err := planPreflight(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	var remove []installer.Change
	for _, c := range changes {
		if c.Kind == installer.Remove {
			remove = append(remove, c)
		}
	}
	if len(remove) != 1 || remove[0].Path != enabled {
		t.Fatalf("planned %v, want the removal of %s", remove, enabled)
	}
	res, err := Apply(ctx, e, &installer.Plan{Steps: []installer.PlannedStep{{Name: "preflight", Changes: changes}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(enabled); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there after take over", enabled)
	}
	if _, err := os.Stat(avail); err != nil {
		t.Errorf("the site file itself must stay: %v", err)
	}
	journal, err := os.ReadFile(filepath.Join(res.BackupDir, "journal.json"))
	if err != nil || !strings.Contains(string(journal), `"link": "`+avail+`"`) {
		t.Errorf("journal lacks the removed link: %v\n%s", err, journal)
	}
}

// TestPreflightHostForeignConfigIncluded: a vhost for the same name in a
// directory that only an include names (from conf.d or conf-enabled) is
// found, as the server itself reads it (nginx -T, apache2ctl -t -D
// DUMP_INCLUDES), with a quoted "#" before its server_name on the same
// line; take_over renames it where the include no longer reads it.
func TestPreflightHostForeignConfigIncluded(t *testing.T) {
	testenv.RequireHost(t)
	ctx := context.Background()
	const domain = "included.preflight.test"
	tests := []struct {
		server, include, dir, vhost, source string
	}{
		{"nginx", "/etc/nginx/conf.d/rpwizard-test-include.conf", "/etc/nginx/rpwizard-test-vhosts",
			"server {\n    listen 127.0.0.1:80;\n    add_header X-Note \"a # b\"; server_name " + domain + ";\n    return 204;\n}\n", "nginx -T"},
		{"apache", "/etc/apache2/conf-enabled/rpwizard-test-include.conf", "/etc/apache2/rpwizard-test-vhosts",
			"<VirtualHost 127.0.0.1:80>\n    ServerAdmin \"it # support@example.org\"\n    ServerName " + domain + "\n</VirtualHost>\n", "apachectl -t -D DUMP_INCLUDES"},
	}
	for _, tt := range tests {
		t.Run(tt.server, func(t *testing.T) {
			h := quietServers(t)
			if !h.Has(tt.server) {
				t.Skip(tt.server + " is not installed")
			}
			vhost := filepath.Join(tt.dir, "foreign.conf")
			if err := os.MkdirAll(tt.dir, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Remove(tt.include); os.RemoveAll(tt.dir) })
			if err := os.WriteFile(vhost, []byte(tt.vhost), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(tt.include, []byte("# rpwizard test\ninclude "+tt.dir+"/*.conf;\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.server == "apache" {
				os.WriteFile(tt.include, []byte("# rpwizard test\nIncludeOptional "+tt.dir+"/*.conf\n"), 0o644)
			}
			cfg, err := server.Must(h, tt.server).ReadConfig(ctx)
			if err != nil || cfg.Source != tt.source {
				t.Fatalf("read config: %v, source %q, want %q", err, cfg.Source, tt.source)
			}

			a := jatosAnswers(tt.server)
			a.Domain = domain
			_, err = Plan(ctx, hostEnv(t, a))
			var r *RefusedError
			if !errors.As(err, &r) || r.Check != "existing config" || r.Msg != domain+" is already served by "+vhost+", which rpwizard did not write" {
				t.Fatalf("err = %v, want the included vhost refused", err)
			}

			a = jatosAnswers(tt.server)
			a.Domain, a.TakeOver = domain, true
			changes, err := planPreflight(ctx, hostEnv(t, a))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range changes {
				switch c.Kind {
				case installer.WriteFile:
					got = append(got, "write "+c.Path)
				case installer.Remove:
					got = append(got, "remove "+c.Path)
				}
			}
			want := []string{"write " + vhost + preflight.DisabledSuffix, "remove " + vhost}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("take over planned %q, want %q", got, want)
			}
		})
	}
}

// TestPreflightHostInstallsMissingNginx removes nginx, lets preflight plan
// its install (install_missing), checks that a rollback removes it again
// (the install's Undo), then installs it for good. The package is
// downloaded first so that the host gets its nginx back even offline.
func TestPreflightHostInstallsMissingNginx(t *testing.T) {
	testenv.RequireHost(t)
	if !dpkgInstalled("nginx") {
		t.Fatal("nginx must be installed when the test starts (scripts/test installs it)")
	}
	quietServers(t)
	dropNewBackups(t)
	ctx := context.Background()
	debs := t.TempDir()
	os.Chmod(debs, 0o755)
	aptRun(t, debs, "apt-get", "download", "nginx")
	// No service starts while packages come and go (as scripts/test does).
	if _, err := os.Stat("/usr/sbin/policy-rc.d"); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile("/usr/sbin/policy-rc.d", []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove("/usr/sbin/policy-rc.d") })
	}
	t.Cleanup(func() {
		if dpkgInstalled("nginx") {
			return
		}
		files, _ := filepath.Glob(filepath.Join(debs, "nginx_*.deb"))
		if len(files) == 0 {
			aptRun(t, "", "apt-get", "install", "-y", "nginx")
			return
		}
		aptRun(t, "", append([]string{"dpkg", "-i"}, files...)...)
	})
	aptRun(t, "", "apt-get", "remove", "-y", "nginx")

	b, err := testbackend.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	plan := func() (*Env, []installer.Change) {
		a := jatosAnswers("nginx")
		a.Domain, a.Upstream, a.InstallMissing = "install.preflight.test", b.Addr, true
		e := hostEnv(t, a)
		if e.Host.Has("nginx") {
			t.Fatal("nginx still detected after its removal")
		}
		changes, err := planPreflight(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if !e.WillInstall("nginx") {
			t.Fatal("preflight does not plan the install")
		}
		return e, changes
	}
	e, changes := plan()
	install := changes[len(changes)-1]
	if install.Kind != installer.Run || !strings.Contains(strings.Join(install.Argv, " "), "apt-get install -y") ||
		install.Argv[len(install.Argv)-1] != "nginx" || strings.Join(install.Undo[len(install.Undo)-3:], " ") != "remove -y nginx" {
		t.Fatalf("install change %+v", install)
	}
	// The rest of the plan still plans from paths alone.
	if _, err := Plan(ctx, e); err != nil {
		t.Fatalf("plan with nginx missing: %v", err)
	}

	// A failure after the install rolls it back: nginx is removed again.
	failing := installer.Change{Kind: installer.Run, Argv: []string{"false"}, Why: "fail on purpose"}
	_, err = Apply(ctx, e, &installer.Plan{Steps: []installer.PlannedStep{{Name: "preflight", Changes: append(changes, failing)}}})
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("apply with a failure: %v", err)
	}
	if dpkgInstalled("nginx") {
		t.Error("the rollback did not remove the nginx it installed")
	}

	e, changes = plan()
	res, err := Apply(ctx, e, &installer.Plan{Steps: []installer.PlannedStep{{Name: "preflight", Changes: changes}}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed {
		t.Error("the install is not recorded as a change")
	}
	h, err := host.Detect(ctx, "/")
	if err != nil || !h.Has("nginx") || h.Versions["nginx"] == "" {
		t.Fatalf("nginx after the install: %v %v", h, err)
	}
	t.Logf("installed nginx %s", h.Versions["nginx"])
	if fs := preflight.Run(ctx, preflight.Gather(ctx, e.Answers, h, nil)); len(fs) == 0 {
		t.Error("no findings")
	}
}

func dpkgInstalled(pkg string) bool {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", pkg).Output()
	return err == nil && strings.Contains(string(out), "install ok installed")
}

// aptRun runs a package command non-interactively in dir.
func aptRun(t *testing.T, dir string, argv ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}
