// Package testpebble runs a real ACME CA for tests: Debian's pebble (2.4:
// no profiles, no ARI) or, with Options.Modern, Pebble v2.10.1 built from
// the module in go.mod (profiles, ARI, Retry-After, EAB, authorization
// reuse), each with Debian's pebble-challtestsrv on loopback, every name
// resolving to 127.0.0.1.
package testpebble

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure the CA.
type Options struct {
	HTTPPort, TLSPort int               // where the CA validates challenges (80/443 for a real server)
	EABKeys           map[string]string // kid → base64url HMAC; non-empty requires EAB
	// Binary is the pebble to run (default: Debian's, from PATH).
	Binary string
	// RetryAfter makes Pebble (2.10 or later) send Retry-After: 1 on
	// authorizations and orders.
	RetryAfter bool
	// Modern runs Pebble v2.10.1, built once from the module
	// (github.com/letsencrypt/pebble/v2 in go.mod) and cached, instead of
	// Debian's 2.4. Options marked "Modern" need it.
	Modern bool
	// Profiles are the CA's certificate profiles (Modern), listed in its
	// directory's meta.profiles. Pebble gives an order without a profile
	// one of them at random.
	Profiles map[string]Profile
	// AuthzReuse is PEBBLE_AUTHZREUSE: the percentage of new orders that
	// reuse a valid authorization of the account instead of asking for a
	// new challenge (100: always; the default 0: never).
	AuthzReuse int
	// NoARI serves the ACME directory without its renewalInfo entry
	// (Modern Pebble always offers ARI): a CA with profiles but no ARI.
	NoARI bool
}

// Profile is one certificate profile of a Modern Pebble.
type Profile struct {
	Description string
	Validity    time.Duration // whole seconds; Pebble's NotAfter is NotBefore + Validity − 1 s
}

// CA is a running Pebble.
type CA struct {
	Dir          string // scratch directory with configs and logs
	DirectoryURL string // the ACME directory
	ListenerRoot string // PEM file to trust for the ACME server (tls.ca_bundle)
	RootFile     string // PEM file of the root that signs issued certificates
	Bundle       string // both roots: what an institution's CA bundle would hold
	DNSAddr      string // challtestsrv's DNS server
	ChallMgmt    string // challtestsrv's management API
	Mgmt         string // Pebble's management API (roots, set-renewal-info)
	procs        []*exec.Cmd
	logs         []string
	front        *http.Server // the directory front of NoARI
}

// Start runs challtestsrv and Pebble in dir.
func Start(dir string, o Options) (*CA, error) {
	ca := &CA{Dir: dir}
	if err := ca.start(o); err != nil {
		ca.Stop()
		return nil, fmt.Errorf("%w\n%s", err, ca.Logs())
	}
	return ca, nil
}

func (ca *CA) start(o Options) error {
	if o.Modern && o.Binary == "" {
		bin, err := ModernBinary()
		if err != nil {
			return err
		}
		o.Binary = bin
	}
	if o.Binary == "" {
		o.Binary = "pebble"
	}
	if !o.Modern && (len(o.Profiles) > 0 || o.NoARI || o.RetryAfter) {
		return fmt.Errorf("testpebble: Profiles, NoARI and RetryAfter need Options.Modern (Debian's Pebble 2.4 has none of them)")
	}
	for _, bin := range []string{o.Binary, "pebble-challtestsrv"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not installed (apt-get install pebble): %w", bin, err)
		}
	}
	if err := ca.writeListenerCert(); err != nil {
		return err
	}
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	ca.DNSAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	ca.ChallMgmt = fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	if err := ca.run("challtestsrv", nil, "pebble-challtestsrv", "-dns01", ca.DNSAddr,
		"-management", strings.TrimPrefix(ca.ChallMgmt, "http://"),
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv6", "", "-defaultIPv4", "127.0.0.1"); err != nil {
		return err
	}
	cfg := map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", ports[2]),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", ports[3]),
		"certificate":                    filepath.Join(ca.Dir, "listener-cert.pem"),
		"privateKey":                     filepath.Join(ca.Dir, "listener-key.pem"),
		"httpPort":                       o.HTTPPort,
		"tlsPort":                        o.TLSPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": len(o.EABKeys) > 0,
	}
	if len(o.EABKeys) > 0 {
		cfg["externalAccountMACKeys"] = o.EABKeys
	}
	if o.RetryAfter {
		cfg["retryAfter"] = map[string]int{"authz": 1, "order": 1}
	}
	if len(o.Profiles) > 0 {
		profiles := map[string]any{}
		for name, p := range o.Profiles {
			profiles[name] = map[string]any{"description": p.Description, "validityPeriod": int64(p.Validity / time.Second)}
		}
		cfg["profiles"] = profiles
	}
	data, _ := json.MarshalIndent(map[string]any{"pebble": cfg}, "", "  ")
	cfgFile := filepath.Join(ca.Dir, "pebble.json")
	if err := os.WriteFile(cfgFile, data, 0o644); err != nil {
		return err
	}
	if err := ca.run("pebble", []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", fmt.Sprintf("PEBBLE_AUTHZREUSE=%d", o.AuthzReuse)},
		o.Binary, "-config", cfgFile, "-dnsserver", ca.DNSAddr); err != nil {
		return err
	}
	ca.DirectoryURL = fmt.Sprintf("https://127.0.0.1:%d/dir", ports[2])
	ca.Mgmt = fmt.Sprintf("https://127.0.0.1:%d", ports[3])
	hc := ca.Client()
	var root []byte
	err = waitFor(20*time.Second, func() error {
		resp, err := hc.Get(ca.Mgmt + "/roots/0")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("roots: HTTP %d", resp.StatusCode)
		}
		root, err = io.ReadAll(resp.Body)
		return err
	})
	if err != nil {
		return fmt.Errorf("pebble did not start: %w", err)
	}
	ca.RootFile = filepath.Join(ca.Dir, "issuing-root.pem")
	if err := os.WriteFile(ca.RootFile, root, 0o644); err != nil {
		return err
	}
	listener, _ := os.ReadFile(ca.ListenerRoot)
	ca.Bundle = filepath.Join(ca.Dir, "bundle.pem")
	if err := os.WriteFile(ca.Bundle, append(append(listener, '\n'), root...), 0o644); err != nil {
		return err
	}
	if o.NoARI {
		return ca.startFront(fmt.Sprintf("127.0.0.1:%d", ports[4]))
	}
	return nil
}

// startFront serves Pebble's directory on addr without renewalInfo. Only
// the directory goes through it: every URL in it is Pebble's own.
func (ca *CA) startFront(addr string) error {
	cert, err := tls.LoadX509KeyPair(filepath.Join(ca.Dir, "listener-cert.pem"), filepath.Join(ca.Dir, "listener-key.pem"))
	if err != nil {
		return err
	}
	ln, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		return err
	}
	pebbleDir, hc := ca.DirectoryURL, ca.Client()
	ca.front = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/dir" {
			http.NotFound(w, r)
			return
		}
		resp, err := hc.Get(pebbleDir)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var dir map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&dir); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		delete(dir, "renewalInfo")
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(dir)
	})}
	go ca.front.Serve(ln)
	ca.DirectoryURL = "https://" + addr + "/dir"
	return nil
}

// SetRenewalInfo makes Pebble (Modern) answer renewalInfo for the
// certificate certPEM with the window start–end (RFC 9773), instead of the
// window it derives from the certificate's lifetime.
func (ca *CA) SetRenewalInfo(certPEM []byte, start, end time.Time) error {
	ari, _ := json.Marshal(map[string]any{"suggestedWindow": map[string]string{
		"start": start.UTC().Format(time.RFC3339), "end": end.UTC().Format(time.RFC3339)}})
	body, _ := json.Marshal(map[string]string{"Certificate": string(certPEM), "ARIResponse": string(ari)})
	resp, err := ca.Client().Post(ca.Mgmt+"/set-renewal-info/", "application/json", strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("set-renewal-info: HTTP %d: %s", resp.StatusCode, msg)
	}
	return nil
}

// Validations counts the challenges Pebble's VA has tried to validate
// (from its log), of any type.
func (ca *CA) Validations() int {
	data, _ := os.ReadFile(filepath.Join(ca.Dir, "pebble.log"))
	return strings.Count(string(data), "Pulled a task from the Tasks queue")
}

var modern struct {
	sync.Mutex
	path string
}

// ModernBinary builds Pebble v2.10.1 from the module in go.mod (once per
// process, into the user's cache directory keyed by the module version, so
// that later runs reuse it) and returns its path.
func ModernBinary() (string, error) {
	modern.Lock()
	defer modern.Unlock()
	if modern.path != "" {
		return modern.path, nil
	}
	const mod = "github.com/letsencrypt/pebble/v2"
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", mod).Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w (is it in go.mod?)", mod, err)
	}
	version := strings.TrimSpace(string(out))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "rpwizard-testpebble", version)
	bin := filepath.Join(dir, "pebble")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		modern.path = bin
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+version, "-o", tmp, mod+"/cmd/pebble")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("build Pebble %s: %w\n%s", version, err, out)
	}
	// A concurrent build of the same version writes the same binary: the
	// rename makes whichever lands last the one used.
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	modern.path = bin
	return bin, nil
}

// Client trusts Pebble's listener.
func (ca *CA) Client() *http.Client {
	pool := x509.NewCertPool()
	data, _ := os.ReadFile(ca.ListenerRoot)
	pool.AppendCertsFromPEM(data)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// Orders counts the orders Pebble has received (from its log).
func (ca *CA) Orders() int {
	data, _ := os.ReadFile(filepath.Join(ca.Dir, "pebble.log"))
	return strings.Count(string(data), "POST /order-plz")
}

// Logs returns what the processes printed.
func (ca *CA) Logs() string {
	var b strings.Builder
	for _, l := range ca.logs {
		data, _ := os.ReadFile(l)
		fmt.Fprintf(&b, "--- %s\n%s", filepath.Base(l), data)
	}
	return b.String()
}

// Stop kills every process the CA started.
func (ca *CA) Stop() {
	for _, c := range ca.procs {
		if c.Process != nil {
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			c.Wait()
		}
	}
	ca.procs = nil
	if ca.front != nil {
		ca.front.Close()
		ca.front = nil
	}
}

func (ca *CA) run(name string, env []string, prog string, args ...string) error {
	logName := filepath.Join(ca.Dir, name+".log")
	f, err := os.Create(logName)
	if err != nil {
		return err
	}
	cmd := exec.Command(prog, args...)
	cmd.Dir = ca.Dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", prog, err)
	}
	ca.procs = append(ca.procs, cmd)
	ca.logs = append(ca.logs, logName)
	return nil
}

// writeListenerCert makes a throwaway root and a 127.0.0.1 certificate for
// Pebble's HTTPS listeners (Debian's package ships none).
func (ca *CA) writeListenerCert() error {
	now := time.Now()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rpwizard test ACME listener root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return err
	}
	root, _ := x509.ParseCertificate(rootDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, &leafKey.PublicKey, rootKey)
	if err != nil {
		return err
	}
	keyDER, _ := x509.MarshalECPrivateKey(leafKey)
	ca.ListenerRoot = filepath.Join(ca.Dir, "listener-root.pem")
	files := map[string][]byte{
		ca.ListenerRoot: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}),
		filepath.Join(ca.Dir, "listener-cert.pem"): pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		filepath.Join(ca.Dir, "listener-key.pem"):  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	for name, data := range files {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries > 100 {
			return nil, fmt.Errorf("no free loopback ports")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		port := l.Addr().(*net.TCPAddr).Port
		// The DNS server needs the UDP port too.
		if u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			u.Close()
		} else {
			continue
		}
		ports = append(ports, port)
	}
	return ports, nil
}

func waitFor(limit time.Duration, f func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
