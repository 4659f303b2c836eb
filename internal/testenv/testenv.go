// Package testenv holds what tests that own the host share: the rule for
// when they run, a lock so that only one of them touches nginx, Apache,
// ports 80/443 and /etc at a time, and a fingerprint of config trees.
package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"github.com/rpwizard/rpwizard/host"
	"os"
	"sort"
	"syscall"
	"testing"
	"time"
)

// Integration reports whether host-owning tests must run: they run when
// RPWIZARD_INTEGRATION=1 (the README's test command sets it) and then a
// missing prerequisite is a failure, not a skip.
func Integration() bool { return os.Getenv("RPWIZARD_INTEGRATION") == "1" }

// RequireHost skips t unless integration tests are on, fails it when they
// are on but it cannot own the host (not root), and takes the host lock
// for the rest of the test.
func RequireHost(t testing.TB) {
	t.Helper()
	if !Integration() {
		t.Skip("integration test: set RPWIZARD_INTEGRATION=1 (as root) to run it")
	}
	if os.Geteuid() != 0 {
		t.Fatal("integration tests need root: they run nginx and Apache and write under /etc")
	}
	LockHost(t)
}

// LockHost holds an exclusive lock on the host's web servers until the
// test ends, so that host-owning tests in different packages (or different
// developers' runs) never overlap.
func LockHost(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile("/run/lock/rpwizard-tests.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("host lock: %v", err)
	}
	// Another package's host tests may hold it for a while; never wait
	// without bound.
	deadline := time.Now().Add(30 * time.Minute)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK || time.Now().After(deadline) {
			f.Close()
			t.Fatalf("host lock /run/lock/rpwizard-tests.lock: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() { f.Close() })
}

// TreeHash fingerprints every file, link and mode under the given roots
// (host.TreeSums, in one hash).
func TreeHash(t testing.TB, roots ...string) string {
	t.Helper()
	sums := host.TreeSums(roots...)
	paths := make([]string, 0, len(sums))
	for p := range sums {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		h.Write([]byte(p + "\x00" + sums[p] + "\x00"))
	}
	return hex.EncodeToString(h.Sum(nil))
}
