package integration

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/internal/testenv"
)

// liveServer is what the live-sessions test needs of a server: its pid
// file and the reload a renewal makes (the installer's reload command on a
// host without systemd).
type liveServer struct {
	name, pidFile string
	reload        []string
}

var liveServers = []liveServer{
	{"nginx", "/run/nginx.pid", []string{"nginx", "-s", "reload"}},
	{"apache", "/run/apache2/apache2.pid", []string{"apache2ctl", "graceful"}},
}

const liveWSPath = "/publix/0b9b1f0e-live/group/join"

// TestLiveSessions applies a JATOS site, holds WebSockets through the
// reload a renewal makes and checks that every one still echoes and that
// as many new ones get in; on nginx, that nginx.conf carries rpwizard's
// worker_shutdown_timeout (config test passing), that the reload leaves
// old workers "shutting down" for the held ones, and that a short
// worker_shutdown_timeout of the admin's own is kept by a second apply and
// ends the old workers and their WebSockets in time.
func TestLiveSessions(t *testing.T) {
	for _, s := range liveServers {
		t.Run(s.name, func(t *testing.T) {
			ownHost(t)
			backend(t, "127.0.0.1:9000")
			answers := fmt.Sprintf("app: jatos\nserver: %s\ndomain: jatos.test\ntls:\n  mode: self-signed\nexpected_websockets: 200\n", s.name)
			mustApply(t, answers)
			c := client(t, "jatos.test")
			url := "wss://jatos.test" + liveWSPath
			if s.name == "nginx" {
				conf, err := os.ReadFile("/etc/nginx/nginx.conf")
				if err != nil {
					t.Fatal(err)
				}
				if !regexp.MustCompile(`(?m)^worker_shutdown_timeout 1h; # rpwizard: old workers close WebSockets held through a reload after 1h; jatos: `).Match(conf) {
					t.Errorf("nginx.conf lacks rpwizard's worker_shutdown_timeout:\n%s", conf)
				}
				if out, err := exec.Command("nginx", "-t").CombinedOutput(); err != nil {
					t.Fatalf("nginx -t: %v\n%s", err, out)
				}
			}

			held := openLive(t, c, url, 50)
			testenv.Reload(t, s.pidFile, s.reload...)
			if alive := echoLive(held); alive != len(held) {
				t.Errorf("%d of %d held WebSockets echo after the reload", alive, len(held))
			}
			late := openLive(t, c, url, 50)
			if alive := echoLive(late); alive != len(late) {
				t.Errorf("%d of %d late WebSockets echo", alive, len(late))
			}
			t.Logf("%s: %d WebSockets held through %s, %d opened after it", s.name, len(held), strings.Join(s.reload, " "), len(late))
			if s.name == "nginx" {
				if n := shuttingDown(t); n == 0 {
					t.Error("no nginx worker is shutting down after the reload with held WebSockets")
				}
				closeLive(held)
				closeLive(late)
				shortTimeout(t, c, url, answers)
				return
			}
			closeLive(held)
			closeLive(late)
		})
	}
}

// shortTimeout: the admin sets worker_shutdown_timeout 2s; a second
// apply keeps it (and says so); WebSockets held through a reload are
// closed when it runs out, the old workers exit, and new ones connect.
func shortTimeout(t *testing.T, c *http.Client, url, answers string) {
	t.Helper()
	const conf = "/etc/nginx/nginx.conf"
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	admin := regexp.MustCompile(`(?m)^worker_shutdown_timeout .*$`).ReplaceAll(data, []byte("worker_shutdown_timeout 2s;"))
	if bytes.Equal(admin, data) {
		t.Fatal("no worker_shutdown_timeout line to replace")
	}
	if err := os.WriteFile(conf, admin, 0o644); err != nil {
		t.Fatal(err)
	}
	// The workers take the timeout from their own config: reload once so
	// that the workers holding the next WebSockets have 2s.
	testenv.Reload(t, "/run/nginx.pid", "nginx", "-s", "reload")
	r := mustApply(t, answers)
	if !strings.Contains(r.stdout+r.stderr, "sets worker_shutdown_timeout 2s itself: kept") {
		t.Errorf("the second apply does not say it keeps the admin's value:\n%s\n%s", r.stdout, r.stderr)
	}
	if got, _ := os.ReadFile(conf); !bytes.Equal(got, admin) {
		t.Errorf("the second apply changed nginx.conf:\n%s", got)
	}

	held := openLive(t, c, url, 20)
	defer closeLive(held)
	start := time.Now()
	testenv.Reload(t, "/run/nginx.pid", "nginx", "-s", "reload")
	if shuttingDown(t) == 0 {
		t.Fatal("no nginx worker is shutting down after the reload")
	}
	deadline := start.Add(15 * time.Second)
	for shuttingDown(t) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := shuttingDown(t); n > 0 {
		t.Fatalf("%d old workers still shutting down %s after the reload, with worker_shutdown_timeout 2s", n, time.Since(start).Round(time.Second))
	}
	t.Logf("old workers gone %s after the reload (worker_shutdown_timeout 2s)", time.Since(start).Round(100*time.Millisecond))
	if alive := echoLive(held); alive != 0 {
		t.Errorf("%d WebSockets of the old workers still echo after worker_shutdown_timeout", alive)
	}
	again := openLive(t, c, url, 20)
	if alive := echoLive(again); alive != len(again) {
		t.Errorf("%d of %d reconnected WebSockets echo", alive, len(again))
	}
	closeLive(again)
}

// openLive opens n WebSockets on url, each echoing once; it fails t
// unless all of them open.
func openLive(t *testing.T, c *http.Client, url string, n int) []*websocket.Conn {
	t.Helper()
	var conns []*websocket.Conn
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: c})
		cancel()
		if err != nil {
			closeLive(conns)
			t.Fatalf("WebSocket %d of %d: %v", i+1, n, err)
		}
		conns = append(conns, conn)
	}
	if alive := echoLive(conns); alive != n {
		closeLive(conns)
		t.Fatalf("%d of %d new WebSockets echo", alive, n)
	}
	return conns
}

// echoLive sends one message on each WebSocket and counts those that
// echo it within 5 s.
func echoLive(conns []*websocket.Conn) int {
	ok := 0
	for i, c := range conns {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		msg := []byte("participant " + strconv.Itoa(i))
		if c.Write(ctx, websocket.MessageText, msg) == nil {
			if _, got, err := c.Read(ctx); err == nil && bytes.Equal(got, msg) {
				ok++
			}
		}
		cancel()
	}
	return ok
}

func closeLive(conns []*websocket.Conn) {
	for _, c := range conns {
		c.CloseNow()
	}
}

// shuttingDown counts nginx's workers that are shutting down (the old
// generation of a reload).
func shuttingDown(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/run/nginx.pid")
	if err != nil {
		t.Fatal(err)
	}
	master, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	n := 0
	for pid := range host.Children(master) {
		cmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if bytes.Contains(cmdline, []byte("is shutting down")) {
			n++
		}
	}
	return n
}
