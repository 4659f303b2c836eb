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

	"github.com/rpwizard/rpwizard/host"
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

// Generations watches a server's master process (named by its pid file)
// for new generations of workers: the sign that a reload is being carried
// out.
type Generations struct {
	pidFile string
	seen    map[int]bool
}

// NewGenerations notes the server's current workers.
func NewGenerations(pidFile string) *Generations {
	g := &Generations{pidFile: pidFile, seen: map[int]bool{}}
	for c := range host.Children(g.master()) {
		g.seen[c] = true
	}
	return g
}

func (g *Generations) master() int {
	data, err := os.ReadFile(g.pidFile)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// WaitNew returns as soon as the n-th new generation of workers appears
// (workers that appear within 100 ms of each other are one generation),
// or false when exited is closed first or timeout passes. It polls every
// millisecond, to catch a reload while it is in flight.
func (g *Generations) WaitNew(n int, exited <-chan struct{}, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	count := 0
	var last time.Time
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		fresh := false
		for c := range host.Children(g.master()) {
			if !g.seen[c] {
				g.seen[c] = true
				fresh = true
			}
		}
		if fresh && time.Since(last) > 100*time.Millisecond {
			count++
			last = time.Now()
			if count == n {
				return true
			}
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// Reload runs argv (a server's reload command) and waits, as the installer
// does, until the master named by pidFile has new workers and none of the
// old ones still holds a listening socket: only then do new connections
// see the new config.
func Reload(t testing.TB, pidFile string, argv ...string) {
	t.Helper()
	g := NewGenerations(pidFile)
	master := g.master()
	before := host.Children(master)
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, out)
	}
	for i := 0; i < 750; i++ { // 15 s
		now := host.Children(master)
		fresh, old := false, false
		listeners := host.ListeningInodes()
		for c := range now {
			switch {
			case !before[c]:
				fresh = true
			case host.HoldsAny(c, listeners):
				old = true
			}
		}
		if fresh && !old {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%v: the old workers still accept connections after 15 s", argv)
}
