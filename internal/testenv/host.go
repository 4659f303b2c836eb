package testenv

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Managed are the trees an rpwizard run may change, and the nginx logs its
// sites write; OwnHost puts them back.
var Managed = []string{"/etc/nginx", "/etc/apache2", "/etc/rpwizard", "/var/lib/rpwizard", "/etc/cron.d", "/var/log/nginx"}

// OwnHost takes the host for t (RequireHost: integration on, root, the
// host lock), stops nginx and Apache, snapshots the managed trees and, on
// cleanup, stops the servers again and restores the snapshot.
func OwnHost(t *testing.T) {
	t.Helper()
	RequireHost(t)
	StopServers(t)
	snap := filepath.Join(t.TempDir(), "snapshot.tar")
	var existing []string
	for _, p := range Managed {
		if _, err := os.Stat(p); err == nil {
			existing = append(existing, strings.TrimPrefix(p, "/"))
		}
	}
	if out, err := exec.Command("tar", append([]string{"-C", "/", "-cpf", snap}, existing...)...).CombinedOutput(); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		StopServers(t)
		for _, p := range Managed {
			os.RemoveAll(p)
		}
		if out, err := exec.Command("tar", "-C", "/", "-xpf", snap).CombinedOutput(); err != nil {
			t.Errorf("restore the snapshot: %v\n%s", err, out)
		}
	})
}

// StopServers stops the system nginx and Apache and waits (bounded) until
// ports 80 and 443 are free.
func StopServers(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if PIDAlive("/run/nginx.pid") {
		exec.CommandContext(ctx, "nginx", "-s", "quit").Run()
	}
	if PIDAlive("/run/apache2/apache2.pid") {
		exec.CommandContext(ctx, "apache2ctl", "stop").Run()
	}
	for i := 0; i < 400 && (PIDAlive("/run/nginx.pid") || PIDAlive("/run/apache2/apache2.pid") || Listening("127.0.0.1:80") || Listening("127.0.0.1:443")); i++ {
		time.Sleep(25 * time.Millisecond)
	}
}

// PIDAlive reports whether the process named by a pid file runs.
func PIDAlive(pidFile string) bool {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return false
	}
	return syscall.Kill(pid, 0) == nil
}

// Listening reports whether something accepts TCP connections on addr.
func Listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
