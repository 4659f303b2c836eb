package acme

// Test helpers: a real Pebble (Debian's /usr/bin/pebble 2.4) and
// pebble-challtestsrv on loopback, shared by all tests of the binary, plus a
// private nginx instance.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
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
)

// eabKeys are the MAC keys of the EAB Pebble (from Debian's example config).
var eabKeys = map[string]string{
	"kid-1": "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W",
	"kid-2": "b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH",
}

// testEnv is the shared CA setup.
type testEnv struct {
	dir      string // scratch directory
	caBundle string // root of Pebble's listener certificate
	dnsAddr  string // challtestsrv DNS (udp+tcp)
	ctsMgmt  string // challtestsrv management API base URL
	httpPort int    // where Pebble's VA sends http-01 checks
	tlsPort  int    // where Pebble's VA sends tls-alpn-01 checks

	mu     sync.Mutex
	procs  []*exec.Cmd
	logs   []string
	pebble map[bool]*pebbleCA // keyed by "EAB required"
}

// pebbleCA is one running Pebble.
type pebbleCA struct {
	dirURL  string
	mgmtURL string
	roots   *x509.CertPool // Pebble's issuing root (for issued certificates)
	err     error
}

var (
	envOnce   sync.Once
	sharedEnv *testEnv
	envErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedEnv != nil {
		sharedEnv.stop()
		if code != 0 {
			sharedEnv.dumpLogs(os.Stderr)
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

// env returns the shared challtestsrv setup, starting it on first use.
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
	if err := e.writeListenerCert(); err != nil {
		return nil, err
	}
	dnsPort, err := freePort(true)
	if err != nil {
		return nil, err
	}
	mgmtPort, err := freePort(false)
	if err != nil {
		return nil, err
	}
	if e.httpPort, err = freePort(false); err != nil {
		return nil, err
	}
	if e.tlsPort, err = freePort(false); err != nil {
		return nil, err
	}
	e.dnsAddr = fmt.Sprintf("127.0.0.1:%d", dnsPort)
	e.ctsMgmt = fmt.Sprintf("http://127.0.0.1:%d", mgmtPort)
	err = e.start("challtestsrv", nil, "pebble-challtestsrv",
		"-dns01", e.dnsAddr,
		"-management", fmt.Sprintf("127.0.0.1:%d", mgmtPort),
		"-http01", "", "-https01", "", "-tlsalpn01", "",
		"-defaultIPv6", "", "-defaultIPv4", "127.0.0.1")
	if err != nil {
		return nil, err
	}
	if err := waitFor(10*time.Second, func() error {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", mgmtPort), time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("challtestsrv did not start: %w", err)
	}
	return e, nil
}

// writeListenerCert makes a throwaway root and a localhost certificate for
// Pebble's HTTPS listeners (Debian's package ships no test/certs).
func (e *testEnv) writeListenerCert() error {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rpwizard test listener root"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return err
	}
	root, _ := x509.ParseCertificate(rootDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, &leafKey.PublicKey, rootKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(leafKey)
	if err != nil {
		return err
	}
	e.caBundle = filepath.Join(e.dir, "listener-root.pem")
	files := map[string][]byte{
		e.caBundle: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}),
		filepath.Join(e.dir, "listener-cert.pem"): pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		filepath.Join(e.dir, "listener-key.pem"):  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	for name, data := range files {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (e *testEnv) startPebble(eab bool) *pebbleCA {
	p := &pebbleCA{}
	port, err := freePort(false)
	if err != nil {
		p.err = err
		return p
	}
	mgmt, err := freePort(false)
	if err != nil {
		p.err = err
		return p
	}
	cfg := map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", port),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmt),
		"certificate":                    filepath.Join(e.dir, "listener-cert.pem"),
		"privateKey":                     filepath.Join(e.dir, "listener-key.pem"),
		"httpPort":                       e.httpPort,
		"tlsPort":                        e.tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": eab,
	}
	name := "pebble"
	if eab {
		cfg["externalAccountMACKeys"] = eabKeys
		name = "pebble-eab"
	}
	data, _ := json.MarshalIndent(map[string]any{"pebble": cfg}, "", "  ")
	cfgFile := filepath.Join(e.dir, name+".json")
	if p.err = os.WriteFile(cfgFile, data, 0o644); p.err != nil {
		return p
	}
	p.err = e.start(name, []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
		"pebble", "-config", cfgFile, "-dnsserver", e.dnsAddr)
	if p.err != nil {
		return p
	}
	p.dirURL = fmt.Sprintf("https://127.0.0.1:%d/dir", port)
	p.mgmtURL = fmt.Sprintf("https://127.0.0.1:%d", mgmt)
	hc := e.client()
	p.err = waitFor(20*time.Second, func() error {
		resp, err := hc.Get(p.dirURL)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("directory: HTTP %d", resp.StatusCode)
		}
		return nil
	})
	if p.err != nil {
		p.err = fmt.Errorf("%s did not serve its directory: %w", name, p.err)
		return p
	}
	// The root that signs issued certificates (management API).
	var rootPEM []byte
	p.err = waitFor(10*time.Second, func() error {
		resp, err := hc.Get(p.mgmtURL + "/roots/0")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("roots: HTTP %d", resp.StatusCode)
		}
		rootPEM, err = io.ReadAll(resp.Body)
		return err
	})
	if p.err != nil {
		return p
	}
	p.roots = x509.NewCertPool()
	if !p.roots.AppendCertsFromPEM(rootPEM) {
		p.err = errors.New("pebble /roots/0 returned no PEM certificate")
	}
	return p
}

// client trusts Pebble's listener certificate.
func (e *testEnv) client() *http.Client {
	pool := x509.NewCertPool()
	data, _ := os.ReadFile(e.caBundle)
	pool.AppendCertsFromPEM(data)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// start runs a program in its own process group, logging to a file.
func (e *testEnv) start(name string, extraEnv []string, prog string, args ...string) error {
	logName := filepath.Join(e.dir, name+".log")
	logFile, err := os.Create(logName)
	if err != nil {
		return err
	}
	cmd := exec.Command(prog, args...)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", prog, err)
	}
	go func() { _ = cmd.Wait(); logFile.Close() }()
	e.procs = append(e.procs, cmd)
	e.logs = append(e.logs, logName)
	return nil
}

func (e *testEnv) stop() {
	for _, cmd := range e.procs {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}
}

func (e *testEnv) dumpLogs(w io.Writer) {
	for _, name := range e.logs {
		data, _ := os.ReadFile(name)
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(w, "--- tail of %s ---\n%s\n", filepath.Base(name), data)
	}
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
		Directory:         p.dirURL,
		CABundle:          e.caBundle,
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
