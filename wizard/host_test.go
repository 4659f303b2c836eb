package wizard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/internal/testbackend"
	"github.com/rpwizard/rpwizard/internal/testenv"
)

// This file holds what the host-owning tests share: the binary, the
// snapshot of the trees rpwizard writes, and an HTTPS client pinned to
// loopback.

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds rpwizard once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "rpwizard-wizard-test-")
		if binErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(binDir, "rpwizard"), "github.com/rpwizard/rpwizard").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "rpwizard")
}

// ownHost takes the host for t (see testenv.OwnHost); the wizard tests
// also need tmux.
func ownHost(t *testing.T) {
	t.Helper()
	testenv.OwnHost(t)
	for _, tool := range []string{"tmux", "nginx"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
	}
}

func pidAlive(pidFile string) bool { return testenv.PIDAlive(pidFile) }

func listening(addr string) bool { return testenv.Listening(addr) }

// backend starts the test app on a free loopback port.
func backend(t *testing.T) *testbackend.Backend {
	t.Helper()
	b, err := testbackend.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// treeHash fingerprints what a run must not touch when the user quits.
func treeHash(t *testing.T) string {
	return testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard")
}

// artifacts is where the screens of a test are kept for reviewers:
// $RPWIZARD_ARTIFACTS, else artifacts/screens/ in the repository.
func artifacts(t *testing.T) string {
	t.Helper()
	root := os.Getenv("RPWIZARD_ARTIFACTS")
	if root == "" {
		repo, err := filepath.Abs("..")
		if err != nil {
			t.Fatal(err)
		}
		root = filepath.Join(repo, "artifacts", "screens")
	}
	dir := filepath.Join(root, t.Name())
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkServed proves the site works over HTTPS through nginx on loopback:
// the app answers for every name, headers say HTTPS, port 80 redirects,
// and a WebSocket echoes.
func checkServed(t *testing.T, names ...string) {
	t.Helper()
	c := httpsClient(t, names[0])
	for _, n := range names {
		resp, err := c.Get("https://" + n + "/hello?x=1")
		if err != nil {
			t.Fatalf("GET https://%s/hello: %v", n, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e testbackend.Echo
		if resp.StatusCode != 200 || json.Unmarshal(body, &e) != nil {
			t.Fatalf("GET https://%s/hello: %d %s, want the backend's echo", n, resp.StatusCode, body)
		}
		if e.Path != "/hello?x=1" || e.Headers["Host"] != n || e.Headers["X-Forwarded-Proto"] != "https" {
			t.Errorf("the backend saw %+v", e)
		}
	}
	resp, err := c.Get("http://" + names[0] + "/x")
	if err != nil {
		t.Fatalf("GET http://%s/x: %v", names[0], err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "https://"+names[0]+"/x" {
		t.Errorf("port 80 answers %d %q, want a redirect to HTTPS", resp.StatusCode, resp.Header.Get("Location"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "wss://"+names[0]+"/ws", &websocket.DialOptions{HTTPClient: c})
	if err != nil {
		t.Fatalf("WebSocket through the proxy: %v", err)
	}
	defer conn.CloseNow()
	msg := []byte("hello through the proxy")
	if err := conn.Write(ctx, websocket.MessageText, msg); err != nil {
		t.Fatalf("WebSocket write: %v", err)
	}
	if _, got, err := conn.Read(ctx); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("WebSocket echo %q, %v", got, err)
	}
	conn.Close(websocket.StatusNormalClosure, "")
}

// httpsClient: see testenv.SiteClient.
func httpsClient(t *testing.T, domain string) *http.Client { return testenv.SiteClient(t, domain) }

// checkSaved loads the saved answers file the way --answers does.
func checkSaved(t *testing.T, path, domain string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("answers not saved: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	a, err := answers.Load(path, []string{"nginx", "apache"})
	if err != nil {
		t.Fatalf("the saved answers do not load: %v", err)
	}
	if a.Domain != domain || a.Server != "nginx" || a.TLS.Mode != "self-signed" {
		t.Errorf("saved answers: %+v", a)
	}
}
