package preflight

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
)

// TestLiveListenerNamed reads this machine's /proc: a socket this test
// listens on is found with its program and pid (no root needed: the
// test's own descriptors are readable).
func TestLiveListenerNamed(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	got, err := ReadListeners("/proc", port)
	if err != nil {
		t.Fatal(err)
	}
	comm, _ := os.ReadFile("/proc/self/comm")
	if len(got) != 1 || got[0].Pid != os.Getpid() || got[0].Program != strings.TrimSpace(string(comm)) || got[0].Addr != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("listeners %+v, want this test (pid %d)", got, os.Getpid())
	}
	found := false
	for _, a := range LocalAddrs() {
		if a.IsLoopback() {
			found = true
		}
	}
	if !found {
		t.Error("LocalAddrs lacks loopback")
	}
}

// TestGatherLive gathers the facts of this host (Debian) and runs every
// check: no check may fail to run, and the fake-root skips do not apply.
func TestGatherLive(t *testing.T) {
	h, err := host.Detect(ctx, "/")
	if err != nil {
		t.Skipf("not a supported host: %v", err)
	}
	if len(h.Installed) == 0 {
		t.Skip("no proxy server installed")
	}
	in := newInput(t, h, h.Installed[0], func(a *answers.Answers) { a.Domain = "live.preflight.test" })
	live := Gather(ctx, in.Answers, h, in.ApacheModules)
	if !live.Live || live.Lookup == nil || live.Dial == nil {
		t.Fatal("live facts missing")
	}
	for _, f := range Run(ctx, live) {
		t.Logf("%-8s %s", f.Severity, f)
		if f.Severity == Skip && strings.Contains(f.Msg, "fake root") {
			t.Errorf("%s skipped on the real host", f.Check)
		}
	}
}
