// Package testjupyter runs Debian's real JupyterHub for tests and drives it
// as a user would: log in through the hub's form (XSRF cookie and field),
// spawn a single-user server, start a kernel and run code over the
// kernel's WebSocket channel, speaking the Jupyter messaging protocol.
//
// The hub, its configurable-http-proxy, the single-user servers and their
// kernels all run on loopback, with their state in the test's temp dir,
// and are stopped by PID (each one's process group) when the test ends.
package testjupyter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/internal/testenv"

	"github.com/rpwizard/rpwizard/host"
)

// Commands are the programs a hub needs, all from Debian's packages
// (jupyterhub, jupyter-server, python3-notebook,
// node-configurable-http-proxy).
var Commands = []string{"jupyterhub", "jupyterhub-singleuser", "configurable-http-proxy"}

// Require skips t outside integration mode and fails it when a program
// the hub needs is missing in integration mode (scripts/test installs
// them): a skipped real-app test must never pass as a green run.
func Require(t testing.TB) {
	t.Helper()
	if !testenv.Integration() {
		t.Skip("real JupyterHub test: set RPWIZARD_INTEGRATION=1 (scripts/test installs jupyterhub) to run it")
	}
	for _, c := range Commands {
		if _, err := exec.LookPath(c); err != nil {
			t.Fatalf("%s is not installed (apt-get install jupyterhub jupyter-server python3-notebook node-configurable-http-proxy; scripts/test does): %v", c, err)
		}
	}
	// The modules the single-user server and its kernel import, in the
	// Python the hub runs with (Debian's, named by jupyterhub's #! line).
	py := hubPython(t)
	if out, err := exec.Command(py, "-c", "import jupyterhub, jupyter_server, notebook, ipykernel").CombinedOutput(); err != nil {
		t.Fatalf("%s lacks JupyterHub's modules (python3-notebook, jupyter-server): %v\n%s", py, err, out)
	}
}

// hubPython is the interpreter of the jupyterhub script.
func hubPython(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("jupyterhub")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	if !strings.HasPrefix(line, "#!") {
		t.Fatalf("%s has no #! line", path)
	}
	f := strings.Fields(strings.TrimPrefix(line, "#!"))
	if len(f) == 0 {
		t.Fatalf("%s: empty #! line", path)
	}
	return f[0]
}

// Options say how to run the hub.
type Options struct {
	// Addr is where the hub's public proxy listens (bind_url's host and
	// port), e.g. "127.0.0.1:8000".
	Addr string
	// BasePath is the hub's base URL ("/" or "/jhub/"), part of bind_url.
	BasePath string
	// Classic runs the classic Notebook 6 server (python3-notebook) as the
	// single-user server, which has a page to drive in a browser; without
	// it, JupyterHub 3's default, jupyter_server's ServerApp, runs.
	Classic bool
}

// Hub is a running JupyterHub.
type Hub struct {
	Dir  string // config, database, cookie secret, users' homes
	Opts Options
	cmd  *exec.Cmd
	log  *testenv.SyncBuffer
	done chan struct{}
}

// Start runs JupyterHub with the dummy authenticator and the simple local
// spawner (single-user servers as root, with --allow-root), and waits
// (bounded by ctx) until its health endpoint answers on Addr. Everything
// it starts is stopped in t.Cleanup.
func Start(ctx context.Context, t testing.TB, o Options) *Hub {
	t.Helper()
	if o.BasePath == "" {
		o.BasePath = "/"
	}
	dir := t.TempDir()
	apiPort, hubPort := freePort(t), freePort(t)
	// Every user's server serves the same directory (they all run as
	// root here). jupyter_server alone has no page at /tree: its default
	// URL is then the view page of a file there, which needs a login (so
	// that opening the server takes the hub's OAuth redirects, as /tree
	// does) and, as every page it renders, sets the _xsrf cookie.
	nbDir := filepath.Join(dir, "notebooks")
	if err := os.MkdirAll(nbDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nbDir, ReadyFile), []byte("ready\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := fmt.Sprintf("c.Spawner.notebook_dir = %q\nc.Spawner.default_url = '/view/%s'\n", nbDir, ReadyFile)
	if o.Classic {
		env = fmt.Sprintf("c.Spawner.notebook_dir = %q\n", nbDir) +
			"c.Spawner.environment = {'JUPYTERHUB_SINGLEUSER_APP': 'notebook.notebookapp.NotebookApp'}\nc.Spawner.default_url = '/tree'\n"
	}
	cfg := fmt.Sprintf(`# written by rpwizard's tests
c.JupyterHub.bind_url = %[1]q
c.JupyterHub.hub_ip = '127.0.0.1'
c.JupyterHub.hub_port = %[2]d
c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:%[3]d'
c.ConfigurableHTTPProxy.pid_file = %[4]q
# Debian's configurable-http-proxy finds its modules there; a node that
# is not Debian's own does not look there by itself.
c.ConfigurableHTTPProxy.command = ['env', 'NODE_PATH=/usr/share/nodejs', 'configurable-http-proxy']
c.JupyterHub.authenticator_class = 'dummy'
c.JupyterHub.spawner_class = 'simple'
c.Spawner.args = ['--allow-root']
c.Spawner.ip = '127.0.0.1'
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
c.SimpleLocalProcessSpawner.home_dir_template = %[5]q
c.JupyterHub.db_url = %[6]q
c.JupyterHub.cookie_secret_file = %[7]q
c.JupyterHub.pid_file = %[8]q
c.JupyterHub.log_level = 'INFO'
%[9]s`,
		"http://"+o.Addr+o.BasePath, hubPort, apiPort, filepath.Join(dir, "proxy.pid"),
		filepath.Join(dir, "home", "{username}"), "sqlite:///"+filepath.Join(dir, "jupyterhub.sqlite"),
		filepath.Join(dir, "cookie_secret"), filepath.Join(dir, "jupyterhub.pid"), env)
	cfgFile := filepath.Join(dir, "jupyterhub_config.py")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if testenv.Listening(o.Addr) {
		t.Fatalf("something already listens on %s: the hub cannot bind there (Debian's jupyterhub.service? sudo systemctl disable --now jupyterhub)", o.Addr)
	}
	h := &Hub{Dir: dir, Opts: o, log: &testenv.SyncBuffer{}, done: make(chan struct{})}
	h.cmd = exec.Command("jupyterhub", "-f", cfgFile)
	h.cmd.Dir = dir
	h.cmd.Env = append(os.Environ(), "HOME="+dir, "JUPYTER_RUNTIME_DIR="+filepath.Join(dir, "runtime"))
	h.cmd.Stdout, h.cmd.Stderr = h.log, h.log
	// Its own process group: the cleanup stops the hub and everything it
	// started, and a Ctrl+C on the test does not reach it twice.
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("start jupyterhub: %v", err)
	}
	go func() { h.cmd.Wait(); close(h.done) }()
	t.Cleanup(func() { h.stop(t) })

	health := "http://" + o.Addr + o.BasePath + "hub/health"
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, health, nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h
			}
		}
		select {
		case <-h.done:
			t.Fatalf("jupyterhub exited before it served %s:\n%s", health, h.Log())
		case <-ctx.Done():
			t.Fatalf("jupyterhub did not serve %s: %v\n%s", health, ctx.Err(), h.Log())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ReadyFile is a file in every server's directory.
const ReadyFile = "rpwizard-ready.txt"

// NotebookDir is the directory every user's server serves.
func (h *Hub) NotebookDir() string { return filepath.Join(h.Dir, "notebooks") }

// Log is what the hub (and its proxy and spawners) printed so far.
func (h *Hub) Log() string { return h.log.String() }

// stop ends every process of the hub's tree by PID: first SIGTERM to the
// hub (which stops its servers and proxy itself), then SIGKILL to the
// process group of every process of the tree that is still there; the
// single-user servers and kernels run in process groups of their own.
func (h *Hub) stop(t testing.TB) {
	tree := descendants(h.cmd.Process.Pid)
	syscall.Kill(-h.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
	}
	// Descendants that appeared while it shut down count too.
	for p := range descendants(h.cmd.Process.Pid) {
		tree[p] = true
	}
	for p := range tree {
		if pgid, err := syscall.Getpgid(p); err == nil && pgid != 1 {
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
		syscall.Kill(p, syscall.SIGKILL)
	}
	syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
	<-h.done
	deadline := time.Now().Add(5 * time.Second)
	for p := range tree {
		for alive(p) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(p) {
			t.Errorf("process %d of the hub's tree survived SIGKILL", p)
		}
	}
	if t.Failed() {
		t.Logf("jupyterhub's log:\n%s", h.Log())
	}
}

// descendants lists pid's children, grandchildren and so on.
func descendants(pid int) map[int]bool { return host.Descendants(pid) }

// alive: the process exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && !strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}

// freePort is a loopback port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var errNoOutput = errors.New("no output")
