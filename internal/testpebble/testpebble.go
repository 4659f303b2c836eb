// Package testpebble runs a real ACME CA for tests: Debian's pebble and
// pebble-challtestsrv on loopback, with every name resolving to 127.0.0.1.
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
	procs        []*exec.Cmd
	logs         []string
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
	if o.Binary == "" {
		o.Binary = "pebble"
	}
	for _, bin := range []string{o.Binary, "pebble-challtestsrv"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not installed (apt-get install pebble): %w", bin, err)
		}
	}
	if err := ca.writeListenerCert(); err != nil {
		return err
	}
	ports, err := freePorts(4)
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
	data, _ := json.MarshalIndent(map[string]any{"pebble": cfg}, "", "  ")
	cfgFile := filepath.Join(ca.Dir, "pebble.json")
	if err := os.WriteFile(cfgFile, data, 0o644); err != nil {
		return err
	}
	if err := ca.run("pebble", []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
		o.Binary, "-config", cfgFile, "-dnsserver", ca.DNSAddr); err != nil {
		return err
	}
	ca.DirectoryURL = fmt.Sprintf("https://127.0.0.1:%d/dir", ports[2])
	hc := ca.Client()
	var root []byte
	err = waitFor(20*time.Second, func() error {
		resp, err := hc.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", ports[3]))
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
	return os.WriteFile(ca.Bundle, append(append(listener, '\n'), root...), 0o644)
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
