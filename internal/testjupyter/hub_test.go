package testjupyter

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHubDirect runs the real hub on a free loopback port (no proxy, no
// host lock: it binds nothing the host tests use) and drives it: login,
// spawn, kernel, code over the kernel's WebSocket. It proves the helpers
// work on their own, so that a failure behind a proxy is the proxy's.
func TestHubDirect(t *testing.T) {
	Require(t)
	for _, tc := range []struct {
		name    string
		base    string
		classic bool
	}{
		{"jupyter_server at /jhub/", "/jhub/", false},
		{"classic notebook at /", "/", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
			Start(ctx, t, Options{Addr: addr, BasePath: tc.base, Classic: tc.classic})
			s, err := NewSession("http://"+addr+tc.base, "alice", http.DefaultTransport)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Login(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.Spawn(ctx); err != nil {
				t.Fatal(err)
			}
			id, err := s.StartKernel(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out, err := s.Execute(ctx, id, "print(sum(range(1000)))")
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(out) != "499500" {
				t.Errorf("kernel printed %q, want 499500", out)
			}
		})
	}
}
