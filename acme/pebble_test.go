package acme

// Test helpers: real Pebbles (Debian's /usr/bin/pebble 2.4 and
// pebble-challtestsrv, run by internal/testpebble) on loopback, shared by
// all tests of the binary, plus a private nginx instance.

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/rpwizard/rpwizard/internal/testpebble"
)

// eabKeys are the MAC keys of the EAB Pebble (from Debian's example config).
var eabKeys = map[string]string{
	"kid-1": "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W",
	"kid-2": "b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH",
}

// testEnv is the shared CA setup: the loopback ports where Pebble's
// validation authority checks http-01 and tls-alpn-01, and the Pebbles
// (each with its challtestsrv, started by internal/testpebble).
type testEnv struct {
	dir      string // scratch directory
	httpPort int    // where Pebble's VA sends http-01 checks
	tlsPort  int    // where Pebble's VA sends tls-alpn-01 checks
	dnsAddr  string // the plain CA's challtestsrv DNS (udp+tcp)
	ctsMgmt  string // the plain CA's challtestsrv management API base URL

	mu     sync.Mutex
	pebble map[bool]*pebbleCA // keyed by "EAB required"
}

// pebbleCA is one running Pebble.
type pebbleCA struct {
	*testpebble.CA
	roots *x509.CertPool // Pebble's issuing root (for issued certificates)
	err   error
}

var (
	envOnce   sync.Once
	sharedEnv *testEnv
	envErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedEnv != nil {
		for _, p := range sharedEnv.pebble {
			if p.CA == nil {
				continue
			}
			if code != 0 {
				fmt.Fprint(os.Stderr, p.Logs())
			}
			p.Stop()
		}
		os.RemoveAll(sharedEnv.dir)
	}
	os.Exit(code)
}

// needBinary fails (RPWIZARD_INTEGRATION=1) or skips the test when an
// external program is missing.
func needBinary(t *testing.T, name, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("RPWIZARD_INTEGRATION") == "1" {
		t.Fatalf("%s is not installed (%s): apt-get install -y %s", name, path, map[string]string{"pebble": "pebble", "pebble-challtestsrv": "pebble", "nginx": "nginx-light"}[name])
	}
	t.Skipf("%s is not installed; set RPWIZARD_INTEGRATION=1 to make this a failure", name)
	return ""
}

// env returns the shared setup with the plain Pebble running, starting it
// on first use.
func env(t *testing.T) *testEnv {
	t.Helper()
	needBinary(t, "pebble", "/usr/bin/pebble")
	needBinary(t, "pebble-challtestsrv", "/usr/bin/pebble-challtestsrv")
	envOnce.Do(func() { sharedEnv, envErr = startEnv() })
	if envErr != nil {
		t.Fatalf("starting the test CA: %v", envErr)
	}
	return sharedEnv
}

// ca returns a running Pebble; eab selects the instance that requires
// external account binding.
func (e *testEnv) ca(t *testing.T, eab bool) *pebbleCA {
	t.Helper()
	e.mu.Lock()
	p := e.pebble[eab]
	if p == nil {
		p = e.startPebble(eab)
		e.pebble[eab] = p
	}
	e.mu.Unlock()
	if p.err != nil {
		t.Fatalf("starting Pebble: %v", p.err)
	}
	return p
}

func startEnv() (*testEnv, error) {
	dir, err := os.MkdirTemp("", "rpwizard-acme-test-")
	if err != nil {
		return nil, err
	}
	e := &testEnv{dir: dir, pebble: map[bool]*pebbleCA{}}
	if e.httpPort, err = freePort(false); err != nil {
		return nil, err
	}
	if e.tlsPort, err = freePort(false); err != nil {
		return nil, err
	}
	p := e.startPebble(false)
	e.pebble[false] = p
	if p.err != nil {
		return nil, p.err
	}
	e.dnsAddr, e.ctsMgmt = p.DNSAddr, p.ChallMgmt
	return e, nil
}

func (e *testEnv) startPebble(eab bool) *pebbleCA {
	p := &pebbleCA{}
	o := testpebble.Options{HTTPPort: e.httpPort, TLSPort: e.tlsPort}
	name := "pebble"
	if eab {
		o.EABKeys, name = eabKeys, "pebble-eab"
	}
	dir := filepath.Join(e.dir, name)
	if p.err = os.Mkdir(dir, 0o755); p.err != nil {
		return p
	}
	if p.CA, p.err = testpebble.Start(dir, o); p.err != nil {
		return p
	}
	rootPEM, err := os.ReadFile(p.RootFile)
	if err != nil {
		p.err = err
		return p
	}
	p.roots = x509.NewCertPool()
	if !p.roots.AppendCertsFromPEM(rootPEM) {
		p.err = errors.New("pebble /roots/0 returned no PEM certificate")
	}
	return p
}

// lookupTXT asks challtestsrv's DNS server for the TXT records of name.
func (e *testEnv) lookupTXT(t *testing.T, name string) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	in, _, err := (&dns.Client{Timeout: 3 * time.Second}).Exchange(m, e.dnsAddr)
	if err != nil {
		t.Fatalf("looking up TXT %s on challtestsrv: %v", name, err)
	}
	var out []string
	for _, rr := range in.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(txt.Txt, ""))
		}
	}
	return out
}

// freePort returns a loopback port that is free now (TCP, and UDP too when
// udp is set).
func freePort(udp bool) (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !udp {
			l.Close()
			return port, nil
		}
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free loopback port")
}

func waitFor(limit time.Duration, f func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// portFree reports whether nothing listens on 127.0.0.1:port.
func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// nginx runs a private nginx (not the system one) on 127.0.0.1:port that
// serves root; it returns the access log path.
func startNginx(t *testing.T, port int, root string) string {
	t.Helper()
	bin := needBinary(t, "nginx", "/usr/sbin/nginx")
	dir := t.TempDir()
	for _, d := range []string{"tmp", "logs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(`%s
daemon off;
worker_processes 1;
error_log %[2]s/logs/error.log;
events { worker_connections 64; }
http {
	access_log %[2]s/logs/access.log;
	client_body_temp_path %[2]s/tmp/body;
	proxy_temp_path %[2]s/tmp/proxy;
	fastcgi_temp_path %[2]s/tmp/fastcgi;
	uwsgi_temp_path %[2]s/tmp/uwsgi;
	scgi_temp_path %[2]s/tmp/scgi;
	server {
		listen 127.0.0.1:%[3]d;
		server_name _;
		root %[4]s;
		location /.well-known/acme-challenge/ { default_type text/plain; }
		location / { return 404; }
	}
}
`, user, dir, port, root)
	confFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-p", dir, "-c", confFile, "-e", filepath.Join(dir, "logs", "error.log"),
		"-g", "pid "+filepath.Join(dir, "nginx.pid")+";")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	if err := waitFor(10*time.Second, func() error {
		select {
		case <-exited:
			errLog, _ := os.ReadFile(filepath.Join(dir, "logs", "error.log"))
			return fmt.Errorf("nginx exited: %s %s", out.String(), errLog)
		default:
		}
		if portFree(port) {
			return errors.New("nginx is not listening yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "logs", "access.log")
}

// logBuffer collects the lego log of one test and prints it if the test
// fails.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testLog(t *testing.T) *logBuffer {
	b := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("lego log:\n%s", b.String())
		}
	})
	return b
}

// request is a Request against the given Pebble with a fresh state dir.
func (e *testEnv) request(t *testing.T, p *pebbleCA, domains ...string) Request {
	return Request{
		Domains:           domains,
		Directory:         p.DirectoryURL,
		CABundle:          p.ListenerRoot,
		StateDir:          filepath.Join(t.TempDir(), "state"),
		Log:               testLog(t),
		HTTPClientTimeout: 10 * time.Second,
	}
}

// verifyChain checks that cert chains to Pebble's root and covers names.
func verifyChain(t *testing.T, p *pebbleCA, cert *Certificate, names ...string) {
	t.Helper()
	chain, err := parseChain(cert.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) < 2 {
		t.Fatalf("expected leaf + issuer in CertPEM, got %d certificate(s)", len(chain))
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	for _, n := range names {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: p.roots, Intermediates: inter, DNSName: n}); err != nil {
			t.Errorf("certificate does not verify for %s against Pebble's root: %v", n, err)
		}
	}
	if _, err := ParseCertificate(cert.CertPEM, cert.KeyPEM); err != nil {
		t.Errorf("key does not match certificate: %v", err)
	}
	if got := strings.Join(certNames(cert.Leaf), ","); len(cert.Leaf.DNSNames) != len(names) {
		t.Errorf("certificate names %s, want %v", got, names)
	}
}
