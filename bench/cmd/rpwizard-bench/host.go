package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rpwizard/rpwizard/internal/testenv"
)

// hostLock is the lock every host-owning test of the project takes
// (internal/testenv): one owner of nginx, Apache, ports 80/443 and /etc at
// a time.
const hostLock = "/run/lock/rpwizard-tests.lock"

// managed are the trees a section may change; it restores them.
var managed = []string{"/etc/nginx", "/etc/apache2", "/etc/rpwizard", "/var/lib/rpwizard", "/etc/cron.d", "/etc/letsencrypt", "/var/lib/letsencrypt", "/var/log/letsencrypt", "/var/log/nginx"}

// section owns the host for fn: it waits for the host lock, stops both
// servers, snapshots the managed trees, and afterwards (also when fn fails
// or the bench is interrupted) stops the servers, restores the trees and
// starts again the servers that ran before. Sections are kept short (a
// few minutes) so that the other engineers' tests are not kept waiting.
func (b *bench) section(name string, fn func(ctx context.Context) error) error {
	return b.locked(name, func(ctx context.Context) error { return b.snapshotted(name, fn) })
}

// locked runs fn holding the host lock.
func (b *bench) locked(name string, fn func(ctx context.Context) error) error {
	if b.ctx.Err() != nil {
		return b.ctx.Err()
	}
	f, err := os.OpenFile(hostLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("host lock: %w", err)
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		b.logf("%s: waiting for the host lock (%s)", name, hostLock)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			return fmt.Errorf("host lock: %w", err)
		}
	}
	return fn(b.ctx)
}

func (b *bench) snapshotted(name string, fn func(ctx context.Context) error) error {
	start := time.Now()
	b.logf("== %s (host lock held)", name)
	wasNginx, wasApache := testenv.PIDAlive("/run/nginx.pid"), testenv.PIDAlive("/run/apache2/apache2.pid")
	stopServers()
	snap := filepath.Join(b.dir, "snapshot.tar")
	var existing []string
	for _, p := range managed {
		if _, err := os.Stat(p); err == nil {
			existing = append(existing, strings.TrimPrefix(p, "/"))
		}
	}
	if out, err := exec.Command("tar", append([]string{"-C", "/", "-cpf", snap}, existing...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("snapshot: %v\n%s", err, out)
	}
	b.snapshot = snap
	defer func() {
		stopServers()
		if err := restoreSnapshot(snap); err != nil {
			b.logf("RESTORE FAILED: %v (snapshot kept at %s)", err, snap)
			return
		}
		if wasNginx {
			runDaemon("nginx")
		}
		if wasApache {
			runDaemon("apache2ctl", "start")
		}
		b.logf("   %s done in %s; host restored", name, time.Since(start).Round(time.Second))
	}()
	return fn(b.ctx)
}

func restoreSnapshot(snap string) error {
	for _, p := range managed {
		os.RemoveAll(p)
	}
	if out, err := exec.Command("tar", "-C", "/", "-xpf", snap).CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}

// fresh puts the managed trees back as the section found them (the
// Debian packages' configs) and normalises them to a fresh install: only
// the default site enabled, Apache's modules as Debian enables them.
func (b *bench) fresh() error {
	stopServers()
	if err := restoreSnapshot(b.snapshot); err != nil {
		return err
	}
	for _, p := range []string{"/etc/rpwizard", "/var/lib/rpwizard", "/etc/letsencrypt", "/var/lib/letsencrypt", "/var/log/letsencrypt"} {
		os.RemoveAll(p)
	}
	// Sites: only the packages' default ones.
	for _, g := range []string{"/etc/nginx/sites-enabled/*", "/etc/apache2/sites-enabled/*", "/etc/nginx/conf.d/*"} {
		m, _ := filepath.Glob(g)
		for _, f := range m {
			if base := filepath.Base(f); base != "default" && base != "000-default.conf" {
				os.Remove(f)
			}
		}
	}
	if _, err := os.Lstat("/etc/nginx/sites-enabled/default"); err != nil {
		os.Symlink("/etc/nginx/sites-available/default", "/etc/nginx/sites-enabled/default")
	}
	if _, err := os.Lstat("/etc/apache2/sites-enabled/000-default.conf"); err != nil {
		os.Symlink("../sites-available/000-default.conf", "/etc/apache2/sites-enabled/000-default.conf")
	}
	// Modules that Debian's apache2 does not enable.
	for _, m := range []string{"proxy", "proxy_http", "proxy_wstunnel", "rewrite", "headers", "ssl", "http2", "socache_shmcb", "remoteip"} {
		os.Remove("/etc/apache2/mods-enabled/" + m + ".load")
		os.Remove("/etc/apache2/mods-enabled/" + m + ".conf")
	}
	return nil
}

func stopServers() {
	if testenv.PIDAlive("/run/nginx.pid") {
		runDaemon("nginx", "-s", "quit")
	}
	if testenv.PIDAlive("/run/apache2/apache2.pid") {
		runDaemon("apache2ctl", "stop")
	}
	for i := 0; i < 400 && (testenv.PIDAlive("/run/nginx.pid") || testenv.PIDAlive("/run/apache2/apache2.pid") || testenv.Listening("127.0.0.1:443") || testenv.Listening("127.0.0.1:80")); i++ {
		time.Sleep(25 * time.Millisecond)
	}
}

// startServer starts nginx or Apache and waits for port 80.
func startServer(server string) error {
	argv := []string{"nginx"}
	if server == "apache" {
		argv = []string{"apache2ctl", "start"}
	}
	out, err := runDaemon(argv...)
	if err != nil {
		return fmt.Errorf("start %s: %v\n%s", server, err, out)
	}
	return waitFor(15*time.Second, func() bool { return testenv.Listening("127.0.0.1:80") })
}

// runDaemon runs a command that starts a daemon. Its output goes to a
// file, not a pipe: a daemon that keeps the inherited stderr open (nginx
// without an error_log in the main context, as the JATOS nginx.conf) would
// otherwise keep the caller waiting for the pipe's end forever.
func runDaemon(argv ...string) (string, error) {
	f, err := os.CreateTemp("", "rpwizard-bench-daemon-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return string(out), err
}

// reloadServer config-tests and reloads server, waiting until the new
// config serves (a fresh worker answers).
func reloadServer(server string) error {
	if server == "nginx" {
		if out, err := exec.Command("nginx", "-t", "-q").CombinedOutput(); err != nil {
			return fmt.Errorf("nginx -t: %v\n%s", err, out)
		}
		if !testenv.PIDAlive("/run/nginx.pid") {
			return startServer(server)
		}
		if out, err := runDaemon("nginx", "-s", "reload"); err != nil {
			return fmt.Errorf("nginx reload: %v\n%s", err, out)
		}
	} else {
		if out, err := exec.Command("apache2ctl", "configtest").CombinedOutput(); err != nil {
			return fmt.Errorf("apache2ctl configtest: %v\n%s", err, out)
		}
		// A full restart: MPM limits (ServerLimit) change only then.
		stopServers()
		return startServer(server)
	}
	time.Sleep(300 * time.Millisecond) // old workers finish their requests
	return nil
}

func waitFor(limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("still not ready after %s", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// ensurePackages installs the Debian packages the bench needs when they
// are missing (a fresh machine), without starting their services.
func (b *bench) ensurePackages() error {
	pkgs := []string{"nginx", "apache2", "pebble", "wrk", "certbot", "python3-certbot-nginx", "python3-certbot-apache", "testssl.sh", "openssl", "ca-certificates", "strace"}
	var need []string
	for _, p := range pkgs {
		out, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", p).Output()
		if !strings.Contains(string(out), "install ok installed") {
			need = append(need, p)
		}
	}
	if len(need) == 0 {
		return nil
	}
	b.logf("installing %s", strings.Join(need, " "))
	return b.locked("install packages", func(ctx context.Context) error {
		if out, err := exec.CommandContext(ctx, "apt-get", "update", "-q").CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get update: %v\n%s", err, out)
		}
		made := false
		if _, err := os.Stat("/usr/sbin/policy-rc.d"); err != nil {
			os.WriteFile("/usr/sbin/policy-rc.d", []byte("#!/bin/sh\nexit 101\n"), 0o755)
			made = true
		}
		cmd := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "-q", "--no-install-recommends"}, need...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if made {
			os.Remove("/usr/sbin/policy-rc.d")
		}
		if err != nil {
			return fmt.Errorf("apt-get install: %v\n%s", err, out)
		}
		return nil
	})
}
