package acme

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	legoacme "github.com/go-acme/lego/v5/acme"
	legolog "github.com/go-acme/lego/v5/log"
)

// Integration tests against Debian's Pebble. They run one after another (lego
// state is global, so the package serialises orders anyway); each issuance
// takes about 5 s per name because Pebble 2.4 sends no Retry-After.

func TestObtainHTTP01Webroot(t *testing.T) {
	e := env(t)
	p := e.ca(t, false)
	webroot := t.TempDir()
	accessLog := startNginx(t, e.httpPort, webroot)

	r := e.request(t, p, "a.test", "b.test")
	r.Challenge = "http-01"
	r.Webroot = webroot
	r.Email = "admin@example.org"
	cert, err := Obtain(context.Background(), r)
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	verifyChain(t, p, cert, "a.test", "b.test")

	// nginx really served the challenge files to Pebble, and lego removed them.
	logData, _ := os.ReadFile(accessLog)
	if n := strings.Count(string(logData), "GET /.well-known/acme-challenge/"); n < 2 {
		t.Errorf("nginx served %d challenge requests, want at least 2:\n%s", n, logData)
	}
	left, _ := os.ReadDir(filepath.Join(webroot, ".well-known", "acme-challenge"))
	if len(left) != 0 {
		t.Errorf("challenge files left in the web root: %v", left)
	}

	// Account files: lego CLI layout, dirs 0700, files 0600, nothing else.
	acctDir := filepath.Join(r.StateDir, "accounts", strings.ReplaceAll(strings.TrimPrefix(strings.TrimSuffix(p.DirectoryURL, "/dir"), "https://"), ":", "_"), "admin@example.org")
	for _, f := range []string{filepath.Join(acctDir, "account.json"), filepath.Join(acctDir, "keys", "admin@example.org.key")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("account file missing: %v", err)
		}
	}
	var files int
	err = filepath.WalkDir(r.StateDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fileMode
		if d.IsDir() {
			want = dirMode
		} else {
			files++
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files != 2 {
		t.Errorf("state dir holds %d files, want 2 (account.json and the key)", files)
	}
}

func TestObtainHTTP01Standalone(t *testing.T) {
	e := env(t)
	p := e.ca(t, false)
	r := e.request(t, p, "standalone.test")
	r.Challenge = "http-01-standalone"
	r.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", e.httpPort)
	r.KeyType = "rsa2048"
	cert, err := Obtain(context.Background(), r)
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	verifyChain(t, p, cert, "standalone.test")
	if cert.Leaf.PublicKeyAlgorithm.String() != "RSA" {
		t.Errorf("key type rsa2048 gave a %v key", cert.Leaf.PublicKeyAlgorithm)
	}
	if !portFree(e.httpPort) {
		t.Errorf("the standalone challenge server still listens on %d", e.httpPort)
	}
}

func TestObtainTLSALPN01(t *testing.T) {
	e := env(t)
	p := e.ca(t, false)
	r := e.request(t, p, "alpn.test")
	r.Challenge = "tls-alpn-01"
	r.TLSAddr = fmt.Sprintf("127.0.0.1:%d", e.tlsPort)
	r.KeyType = "ec384"
	before := legolog.Default()
	cert, err := Obtain(context.Background(), r)
	if legolog.Default() != before {
		t.Errorf("lego's global logger was not restored")
	}
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	verifyChain(t, p, cert, "alpn.test")
	if !strings.Contains(r.Log.(*logBuffer).String(), "TLS-ALPN-01") {
		t.Errorf("lego did not log a TLS-ALPN-01 challenge")
	}
	if !portFree(e.tlsPort) {
		t.Errorf("the tls-alpn-01 server still listens on %d", e.tlsPort)
	}
}

// execScript writes a lego "exec" DNS provider program that sets and clears
// TXT records through challtestsrv's management API, logging its calls.
func execScript(t *testing.T, e *testEnv, present bool) (script, calls string) {
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls.log")
	set := fmt.Sprintf(`curl -fsS -X POST -d "{\"host\":\"$2\",\"value\":\"$3\"}" %s/set-txt`, e.ctsMgmt)
	if !present {
		set = ": never publishes the record"
	}
	body := fmt.Sprintf(`#!/bin/sh
set -e
echo "$1 $2 $3" >> %q
case "$1" in
present) %s ;;
cleanup) curl -fsS -X POST -d "{\"host\":\"$2\"}" %s/clear-txt ;;
esac
`, calls, set, e.ctsMgmt)
	script = filepath.Join(dir, "dns-hook.sh")
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, calls
}

func TestObtainDNS01Exec(t *testing.T) {
	e := env(t)
	p := e.ca(t, false)
	script, calls := execScript(t, e, true)
	t.Setenv("EXEC_PATH", script)
	t.Setenv("EXEC_POLLING_INTERVAL", "1")
	t.Setenv("EXEC_PROPAGATION_TIMEOUT", "20")
	t.Setenv("EXEC_SEQUENCE_INTERVAL", "1")

	r := e.request(t, p, "*.wild.test", "wild.test")
	r.Challenge = "dns-01"
	r.DNSProvider = "exec"
	r.DNSResolvers = []string{e.dnsAddr}
	r.DNSResolversOnly = true
	cert, err := Obtain(context.Background(), r)
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	verifyChain(t, p, cert, "*.wild.test", "wild.test")
	if err := cert.Leaf.VerifyHostname("anything.wild.test"); err != nil {
		t.Errorf("wildcard certificate does not cover anything.wild.test: %v", err)
	}

	log, _ := os.ReadFile(calls)
	if n := strings.Count(string(log), "present _acme-challenge.wild.test. "); n != 2 {
		t.Errorf("the hook published %d TXT records for _acme-challenge.wild.test, want 2 (wildcard and base):\n%s", n, log)
	}
	if !strings.Contains(string(log), "cleanup _acme-challenge.wild.test. ") {
		t.Errorf("the hook was never asked to clean up:\n%s", log)
	}
	// lego's propagation check asked challtestsrv (the only resolver given);
	// it logs the nameservers it uses.
	if !strings.Contains(r.Log.(*logBuffer).String(), "nameservers="+e.dnsAddr) {
		t.Errorf("propagation check did not use %s", e.dnsAddr)
	}
	if txt := e.lookupTXT(t, "_acme-challenge.wild.test."); len(txt) != 0 {
		t.Errorf("TXT records left on challtestsrv after cleanup: %v", txt)
	}
}

// TestObtainCancel: a DNS-01 record that never appears keeps lego waiting;
// cancelling the context returns promptly with ctx.Err() and cleans up.
func TestObtainCancel(t *testing.T) {
	e := env(t)
	p := e.ca(t, false)
	script, calls := execScript(t, e, false)
	t.Setenv("EXEC_PATH", script)
	t.Setenv("EXEC_POLLING_INTERVAL", "1")
	t.Setenv("EXEC_PROPAGATION_TIMEOUT", "120")

	r := e.request(t, p, "cancel.test")
	r.Challenge = "dns-01"
	r.DNSProvider = "exec"
	r.DNSResolvers = []string{e.dnsAddr}
	r.DNSResolversOnly = true
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(3*time.Second, cancel)
	start := time.Now()
	_, err := Obtain(ctx, r)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Obtain after cancel = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 3*time.Second+stopGrace {
		t.Errorf("Obtain took %v after the cancel", d-3*time.Second)
	}
	// lego wound down: the record was cleaned up, and the package can be used again.
	if err := waitFor(5*time.Second, func() error {
		log, _ := os.ReadFile(calls)
		if !strings.Contains(string(log), "cleanup") {
			return errors.New("no cleanup yet")
		}
		return nil
	}); err != nil {
		t.Errorf("the DNS hook was not asked to clean up after the cancel")
	}
	select {
	case legoGuard <- struct{}{}:
		<-legoGuard
	case <-time.After(5 * time.Second):
		t.Errorf("the lego guard is still held after the cancel")
	}
}

// TestObtainCancelStandalone: cancelling while lego waits for the CA stops
// the built-in challenge server before Obtain returns.
func TestObtainCancelStandalone(t *testing.T) {
	e := env(t)
	p := e.ca(t, false)
	r := e.request(t, p, "cancel2.test")
	r.Challenge, r.HTTPAddr = "http-01-standalone", fmt.Sprintf("127.0.0.1:%d", e.httpPort)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel as soon as lego's challenge server listens.
		// (dial, not listen: listening could steal the port from lego).
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.httpPort), time.Second); err == nil {
				c.Close()
				break
			}
		}
		cancel()
	}()
	_, err := Obtain(ctx, r)
	if err == nil {
		t.Skip("the order finished before the cancel arrived (timing); nothing to check")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Obtain = %v, want context.Canceled", err)
	}
	if !portFree(e.httpPort) {
		t.Errorf("the challenge server still listens on %d after Obtain returned", e.httpPort)
	}
}

func TestEAB(t *testing.T) {
	e := env(t)
	p := e.ca(t, true)
	t.Run("missing", func(t *testing.T) {
		r := e.request(t, p, "eab.test")
		r.Challenge, r.HTTPAddr = "http-01-standalone", fmt.Sprintf("127.0.0.1:%d", e.httpPort)
		_, err := Obtain(context.Background(), r)
		if err == nil || !strings.Contains(err.Error(), "this CA requires external account binding: set tls.eab_kid and RPWIZARD_EAB_HMAC") {
			t.Fatalf("err = %v", err)
		}
		t.Logf("explained: %v", err)
	})
	t.Run("wrong HMAC", func(t *testing.T) {
		r := e.request(t, p, "eab.test")
		r.Challenge, r.HTTPAddr = "http-01-standalone", fmt.Sprintf("127.0.0.1:%d", e.httpPort)
		r.EABKID, r.EABHMAC = "kid-1", eabKeys["kid-2"]
		_, err := Obtain(context.Background(), r)
		if err == nil || !strings.Contains(err.Error(), "the CA rejected the external account binding: check tls.eab_kid and RPWIZARD_EAB_HMAC") {
			t.Fatalf("err = %v", err)
		}
		t.Logf("explained: %v", err)
		var pd *legoacme.ProblemDetails
		if !errors.As(err, &pd) {
			t.Errorf("the CA's problem is not wrapped: %#v", err)
		}
		if strings.Contains(err.Error(), eabKeys["kid-2"]) || strings.Contains(r.Log.(*logBuffer).String(), eabKeys["kid-2"]) {
			t.Errorf("the HMAC key appears in the error or the log")
		}
	})
	t.Run("right HMAC", func(t *testing.T) {
		r := e.request(t, p, "eab.test")
		r.Challenge, r.HTTPAddr = "http-01-standalone", fmt.Sprintf("127.0.0.1:%d", e.httpPort)
		r.EABKID, r.EABHMAC = "kid-1", eabKeys["kid-1"]
		cert, err := Obtain(context.Background(), r)
		if err != nil {
			t.Fatalf("Obtain: %v", err)
		}
		verifyChain(t, p, cert, "eab.test")
		if strings.Contains(r.Log.(*logBuffer).String(), eabKeys["kid-1"]) {
			t.Errorf("the HMAC key appears in the log")
		}
	})
}

func readAccount(t *testing.T, stateDir string) (data []byte, uri string, mod time.Time) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(stateDir, "accounts", "*", "*", "account.json"))
	if len(matches) != 1 {
		t.Fatalf("want one account.json under %s, found %v", stateDir, matches)
	}
	data, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	var a account
	if err := json.Unmarshal(data, &a); err != nil || a.Registration == nil || a.Registration.Location == "" {
		t.Fatalf("account.json has no registration URI (%v): %s", err, data)
	}
	st, _ := os.Stat(matches[0])
	return data, a.Registration.Location, st.ModTime()
}

func TestAccountReuse(t *testing.T) {
	e := env(t)
	p := e.ca(t, false)
	r := e.request(t, p, "reuse.test")
	r.Challenge, r.HTTPAddr = "http-01-standalone", fmt.Sprintf("127.0.0.1:%d", e.httpPort)
	if _, err := Obtain(context.Background(), r); err != nil {
		t.Fatalf("first Obtain: %v", err)
	}
	data1, uri1, mod1 := readAccount(t, r.StateDir)

	second := &logBuffer{}
	r.Log = second
	cert, err := Obtain(context.Background(), r)
	if err != nil {
		t.Fatalf("second Obtain: %v\n%s", err, second)
	}
	verifyChain(t, p, cert, "reuse.test")
	data2, uri2, mod2 := readAccount(t, r.StateDir)
	if !bytes.Equal(data1, data2) || !mod1.Equal(mod2) || uri1 != uri2 {
		t.Errorf("account.json changed on reuse:\n%s\n---\n%s", data1, data2)
	}
	if s := second.String(); strings.Contains(s, "registered") || strings.Contains(s, "Registering") || !strings.Contains(s, "using the ACME account "+uri1) {
		t.Errorf("second Obtain did not simply reuse the account:\n%s", s)
	}

	// account.json lost, key kept: the account is found again by its key.
	matches, _ := filepath.Glob(filepath.Join(r.StateDir, "accounts", "*", "*", "account.json"))
	if err := os.Remove(matches[0]); err != nil {
		t.Fatal(err)
	}
	third := &logBuffer{}
	r.Log = third
	if _, err := Obtain(context.Background(), r); err != nil {
		t.Fatalf("third Obtain: %v\n%s", err, third)
	}
	_, uri3, _ := readAccount(t, r.StateDir)
	if uri3 != uri1 || !strings.Contains(third.String(), "by its key") {
		t.Errorf("account not recovered by key: %s vs %s\n%s", uri3, uri1, third)
	}
}

func TestDueAndRenewPebble(t *testing.T) {
	e := env(t)
	p := e.ca(t, false)
	r := e.request(t, p, "renew.test")
	r.Challenge, r.HTTPAddr = "http-01-standalone", fmt.Sprintf("127.0.0.1:%d", e.httpPort)
	cur, err := Obtain(context.Background(), r)
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}

	// Pebble 2.4 has no ARI: Due falls back to the lifetime rule.
	due, reason, err := Due(context.Background(), r, cur, time.Now())
	if err != nil || due || !strings.Contains(reason, "offers no renewal window") {
		t.Errorf("Due(now) = %v, %q, %v; want not due, lifetime rule without ARI", due, reason, err)
	}
	life := cur.Leaf.NotAfter.Sub(cur.Leaf.NotBefore)
	due, reason, err = Due(context.Background(), r, cur, cur.Leaf.NotAfter.Add(-life/4))
	if err != nil || !due || !strings.Contains(reason, "less than a third") {
		t.Errorf("Due(3/4 of lifetime) = %v, %q, %v; want due", due, reason, err)
	}
	// Only the PEM is needed, as read back from disk.
	fromDisk := &Certificate{CertPEM: cur.CertPEM}
	r2 := r
	r2.Domains = []string{"renew.test", "extra.test"}
	due, reason, err = Due(context.Background(), r2, fromDisk, time.Now())
	if err != nil || !due || !strings.Contains(reason, "extra.test") {
		t.Errorf("Due(changed names) = %v, %q, %v; want due", due, reason, err)
	}

	next, err := Renew(context.Background(), r, cur)
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	verifyChain(t, p, next, "renew.test")
	if next.Leaf.SerialNumber.Cmp(cur.Leaf.SerialNumber) == 0 {
		t.Errorf("Renew returned the same serial %x", next.Leaf.SerialNumber)
	}
	if bytes.Equal(next.KeyPEM, cur.KeyPEM) {
		t.Errorf("Renew reused the private key")
	}
}

func TestObtainFailureExplained(t *testing.T) {
	e := env(t)
	p := e.ca(t, false)
	if !portFree(e.httpPort) {
		t.Fatalf("port %d is busy", e.httpPort)
	}
	r := e.request(t, p, "unreachable.test")
	r.Webroot = t.TempDir() // nothing serves it
	_, err := Obtain(context.Background(), r)
	if err == nil {
		t.Fatal("Obtain succeeded with nothing on the challenge port")
	}
	want := "the CA could not reach http://unreachable.test/.well-known/acme-challenge/ on port 80"
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "open port 80 to the internet, or use tls.challenge: dns-01") {
		t.Errorf("error does not explain the port-80 problem:\n%v", err)
	}
	t.Logf("explained: %v", err)
	var ae *Error
	var pd *legoacme.ProblemDetails
	if !errors.As(err, &ae) || !errors.As(err, &pd) {
		t.Errorf("want an *Error wrapping the CA's problem, got %#v", err)
	}
}

func TestObtainDirectoryErrors(t *testing.T) {
	e := env(t)
	p := e.ca(t, false)
	t.Run("untrusted", func(t *testing.T) {
		r := e.request(t, p, "x.test")
		r.CABundle = ""
		r.Challenge, r.HTTPAddr = "http-01-standalone", "127.0.0.1:0"
		_, err := Obtain(context.Background(), r)
		if err == nil || !strings.Contains(err.Error(), "cannot reach the ACME directory "+p.DirectoryURL) || !strings.Contains(err.Error(), "set tls.ca_bundle") {
			t.Fatalf("err = %v", err)
		}
		t.Logf("explained: %v", err)
	})
	t.Run("refused", func(t *testing.T) {
		port, _ := freePort(false)
		r := e.request(t, p, "x.test")
		r.Directory = fmt.Sprintf("https://127.0.0.1:%d/dir", port)
		r.Challenge, r.HTTPAddr = "http-01-standalone", "127.0.0.1:0"
		_, err := Obtain(context.Background(), r)
		if err == nil || !strings.Contains(err.Error(), "cannot reach the ACME directory") || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("err = %v", err)
		}
		t.Logf("explained: %v", err)
	})
}
