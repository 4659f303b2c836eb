package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/internal/testjupyter"
)

// hubCases are the real-hub sites: at the root and under a base path,
// on both servers.
var hubCases = []struct {
	server, base string
}{
	{"nginx", "/"},
	{"nginx", "/jhub/"},
	{"apache", "/"},
	{"apache", "/jhub/"},
}

// hubAnswers are the answers for a JupyterHub site at base on server.
func hubAnswers(server, base string) string {
	a := fmt.Sprintf("app: jupyterhub\nserver: %s\ndomain: hub.test\ntls:\n  mode: self-signed\n", server)
	if base != "/" {
		a += "base_path: " + base + "\n"
	}
	return a
}

// realHubSite takes the host, starts the real JupyterHub on
// 127.0.0.1:8000 with bind_url under base, and applies rpwizard's site for
// it on server (whose self-test runs on the real hub).
func realHubSite(ctx context.Context, t *testing.T, server, base string, classic bool) (*testjupyter.Hub, result) {
	t.Helper()
	testjupyter.Require(t)
	ownHost(t)
	start := time.Now()
	hub := testjupyter.Start(ctx, t, testjupyter.Options{Addr: "127.0.0.1:8000", BasePath: base, Classic: classic})
	up := time.Since(start)
	r := mustApply(t, hubAnswers(server, base))
	t.Logf("host owned; the hub served in %s, the apply (with its self-test) took %s", up.Round(time.Millisecond), (time.Since(start) - up).Round(time.Millisecond))
	t.Cleanup(func() { t.Logf("the test took %s with the host owned", time.Since(start).Round(time.Millisecond)) })
	return hub, r
}

// TestRealJupyterHub puts Debian's JupyterHub behind rpwizard's nginx and
// Apache sites, at / and under /jhub/. Through https://hub.test/ a client
// logs in, spawns a server (following its progress events), starts a
// kernel and runs code over the kernel's WebSocket channel; rpwizard's own
// self-test passes on the real hub, in the apply and on its own.
func TestRealJupyterHub(t *testing.T) {
	for _, tc := range hubCases {
		t.Run(tc.server+tc.base, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			hub, r := realHubSite(ctx, t, tc.server, tc.base, false)
			if strings.Contains(r.stdout, "APP DOWN") {
				t.Errorf("the apply's self-test says the running hub is down:\n%s", r.stdout)
			}
			st := rpwizard(t, nil, "selftest", "--answers", "/etc/rpwizard/sites/hub.test.yaml", "--resolve", "127.0.0.1", "--hold", "2s")
			if st.code != 0 || !strings.Contains(st.stdout, "PASSED: ") {
				t.Errorf("rpwizard selftest on the real hub: exit %d, want 0 and PASSED\n%s\n%s", st.code, st.stdout, st.stderr)
			}
			if s := readStored(t, "hub.test"); s.Verdict != "ok" || s.ExitCode != 0 {
				t.Errorf("stored verdict after selftest: %+v", s)
			}
			runCode(ctx, t, tc.base)
			if t.Failed() {
				t.Logf("apply:\n%s", r.stdout)
				t.Logf("hub log:\n%s", hub.Log())
			}
		})
	}
}

// runCode logs in through the proxy as alice, spawns her server, starts a
// kernel and runs code on it over the kernel's WebSocket. It returns the
// session and the kernel.
func runCode(ctx context.Context, t *testing.T, base string) (*testjupyter.Session, string) {
	t.Helper()
	s, err := testjupyter.NewSession("https://hub.test"+base, "alice", client(t, "hub.test").Transport)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"log in", func() error { return s.Login(ctx) }},
		{"spawn", func() error { return s.Spawn(ctx) }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s through https://hub.test%s: %v", st.name, base, err)
		}
	}
	id, err := s.StartKernel(ctx)
	if err != nil {
		t.Fatalf("through https://hub.test%s: %v", base, err)
	}
	out, err := s.Execute(ctx, id, "print(sum(range(1000)))")
	if err != nil {
		t.Fatalf("run code through https://hub.test%s: %v", base, err)
	}
	if strings.TrimSpace(out) != "499500" {
		t.Errorf("the kernel printed %q, want 499500", out)
	}
	return s, id
}

// TestRealJupyterHubNeedsTheUpgrade: the kernel test can fail. With the
// WebSocket upgrade removed from the config rpwizard wrote (as
// breakWebSockets does), code no longer runs through the proxy, while
// plain HTTP to the hub still works, and rpwizard's self-test blames the
// proxy (exit 1).
func TestRealJupyterHubNeedsTheUpgrade(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			hub, _ := realHubSite(ctx, t, server, "/jhub/", false)
			s, id := runCode(ctx, t, "/jhub/")
			breakWebSockets(t, server, "hub.test")
			// The reload is graceful: wait (bounded) until a new connection
			// reaches a worker with the broken config.
			var err error
			for i := 0; i < 60; i++ {
				s.CloseIdle()
				if _, err = s.Execute(ctx, id, "print(6*7)"); err != nil {
					break
				}
				time.Sleep(250 * time.Millisecond)
			}
			if err == nil {
				t.Fatalf("code still runs over the kernel WebSocket without the upgrade in the proxy's config: the test does not go through the proxy")
			}
			t.Logf("without the upgrade: %v", err)
			if code, _ := status(t, client(t, "hub.test"), "https://hub.test/jhub/hub/health"); code != 200 {
				t.Errorf("plain HTTP to the hub: %d, want 200", code)
			}
			st := rpwizard(t, nil, "selftest", "--answers", "/etc/rpwizard/sites/hub.test.yaml", "--resolve", "127.0.0.1", "--hold", "0")
			if st.code != 1 {
				t.Errorf("selftest without the upgrade: exit %d, want 1 (the proxy is at fault)\n%s\n%s", st.code, st.stdout, st.stderr)
			}
			if t.Failed() {
				t.Logf("hub log:\n%s", hub.Log())
			}
		})
	}
}
