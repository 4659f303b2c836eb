// Package integration runs the real rpwizard binary against the real nginx
// and Apache of this host, on loopback. These tests own the host: they run
// only with RPWIZARD_INTEGRATION=1, as root, one at a time (see
// internal/testenv), and each puts /etc/nginx, /etc/apache2, /etc/rpwizard
// and /var/lib/rpwizard back as they were.
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rpwizard/rpwizard/internal/testbackend"
	"github.com/rpwizard/rpwizard/internal/testenv"
)

var binary string // the rpwizard binary under test

func TestMain(m *testing.M) {
	if testenv.Integration() && os.Getenv("RPWIZARD_BINARY") != "" {
		// A binary built elsewhere (scripts/trixie runs this test binary
		// in a Debian 13 root that has no Go toolchain).
		binary = os.Getenv("RPWIZARD_BINARY")
		if _, err := os.Stat(binary); err != nil {
			fmt.Fprintln(os.Stderr, "RPWIZARD_BINARY:", err)
			os.Exit(1)
		}
		os.Setenv("RPWIZARD_TEST_RENEWAL_BINARY", binary) // for tests only: see steps/binary.go
		os.Exit(m.Run())
	}
	if testenv.Integration() {
		dir, err := os.MkdirTemp("", "rpwizard-it-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		binary = filepath.Join(dir, "rpwizard")
		out, err := exec.Command("go", "build", "-o", binary, "github.com/rpwizard/rpwizard").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build rpwizard: %v\n%s", err, out)
			os.Exit(1)
		}
		os.Setenv("RPWIZARD_TEST_RENEWAL_BINARY", binary) // for tests only: see steps/binary.go
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// ownHost takes the host for t: see testenv.OwnHost.
func ownHost(t *testing.T) {
	t.Helper()
	testenv.OwnHost(t)
}

// pidAlive and listening: see testenv.
func pidAlive(pidFile string) bool { return testenv.PIDAlive(pidFile) }

func listening(addr string) bool { return testenv.Listening(addr) }

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// rpwizard runs the binary with args and extra environment.
func rpwizard(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run rpwizard: %v", err)
	}
	return r
}

// apply writes the answers to a file and runs rpwizard --answers on it.
func apply(t *testing.T, answersYAML string, extra ...string) result {
	t.Helper()
	f := writeAnswers(t, answersYAML)
	return rpwizard(t, nil, append([]string{"--answers", f}, extra...)...)
}

func writeAnswers(t *testing.T, answersYAML string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "answers.yaml")
	if err := os.WriteFile(f, []byte(answersYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func mustApply(t *testing.T, answersYAML string) result {
	t.Helper()
	r := apply(t, answersYAML)
	if r.code != 0 {
		t.Fatalf("rpwizard exited %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	return r
}

// backend starts the test app on addr for the test's duration.
func backend(t *testing.T, addr string) *testbackend.Backend {
	t.Helper()
	b, err := testbackend.Start(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// client: see testenv.SiteClient.
func client(t *testing.T, domain string) *http.Client { return testenv.SiteClient(t, domain) }

// echo GETs url and decodes the backend's echo; it fails t unless the
// backend answered.
func echo(t *testing.T, c *http.Client, url string) testbackend.Echo {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e testbackend.Echo
	if resp.StatusCode != 200 || json.Unmarshal(body, &e) != nil {
		t.Fatalf("GET %s: %d %s, want the backend's echo", url, resp.StatusCode, body)
	}
	return e
}

func status(t *testing.T, c *http.Client, url string) (int, http.Header) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// wsEcho opens a WebSocket through the proxy and checks one round trip.
func wsEcho(t *testing.T, c *http.Client, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: c})
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("WebSocket %s: %v (HTTP %d)", url, err, code)
	}
	defer conn.CloseNow()
	msg := []byte("hello through " + url)
	if err := conn.Write(ctx, websocket.MessageText, msg); err != nil {
		t.Fatalf("WebSocket %s: write: %v", url, err)
	}
	_, got, err := conn.Read(ctx)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("WebSocket %s: echo %q, %v; want %q", url, got, err, msg)
	}
	conn.Close(websocket.StatusNormalClosure, "")
}
