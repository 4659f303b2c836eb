package main

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
	"syscall"
	"time"
)

// pebbleCA is a running ACME test CA: Pebble and Debian's
// pebble-challtestsrv as its DNS server (every name is 127.0.0.1), with
// the same settings for every contestant: validation without Pebble's
// random 0–15 s sleep (PEBBLE_VA_NOSLEEP=1), no rejected nonces, no
// authorization reuse.
type pebbleCA struct {
	Name         string
	DirURL       string
	ListenerRoot string // trust for the ACME server
	IssuingRoot  string // trust for the certificates it issues
	Bundle       string // both
	dir          string
	procs        []*exec.Cmd
}

// startPebble runs bin (Debian's /usr/bin/pebble, or Pebble 2.10 built
// from the module cache); retryAfter makes it send Retry-After: 1 on
// authorizations and orders (Pebble 2.10's retryAfter setting).
func startPebble(dir, name, bin string, retryAfter bool) (*pebbleCA, error) {
	ca := &pebbleCA{Name: name, dir: dir}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := ca.start(bin, retryAfter); err != nil {
		ca.stop()
		logs, _ := os.ReadFile(filepath.Join(dir, "pebble.log"))
		return nil, fmt.Errorf("%w\n%s", err, logs)
	}
	return ca, nil
}

func (ca *pebbleCA) start(bin string, retryAfter bool) error {
	if err := ca.writeListenerCert(); err != nil {
		return err
	}
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	dns := fmt.Sprintf("127.0.0.1:%d", ports[0])
	if err := ca.run("challtestsrv", nil, "pebble-challtestsrv", "-dns01", dns, "-management", fmt.Sprintf("127.0.0.1:%d", ports[1]),
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv6", "", "-defaultIPv4", "127.0.0.1"); err != nil {
		return err
	}
	cfg := map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", ports[2]),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", ports[3]),
		"certificate":                    filepath.Join(ca.dir, "listener-cert.pem"),
		"privateKey":                     filepath.Join(ca.dir, "listener-key.pem"),
		"httpPort":                       80,
		"tlsPort":                        443,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
	}
	if retryAfter {
		cfg["retryAfter"] = map[string]int{"authz": 1, "order": 1}
	}
	data, _ := json.MarshalIndent(map[string]any{"pebble": cfg}, "", "  ")
	cfgFile := filepath.Join(ca.dir, "pebble.json")
	if err := os.WriteFile(cfgFile, data, 0o644); err != nil {
		return err
	}
	if err := ca.run("pebble", []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
		bin, "-config", cfgFile, "-dnsserver", dns); err != nil {
		return err
	}
	ca.DirURL = fmt.Sprintf("https://127.0.0.1:%d/dir", ports[2])
	pool := x509.NewCertPool()
	pemData, _ := os.ReadFile(ca.ListenerRoot)
	pool.AppendCertsFromPEM(pemData)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var root []byte
	err = waitFor(20*time.Second, func() bool {
		resp, err := hc.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", ports[3]))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		root, err = io.ReadAll(resp.Body)
		return err == nil && resp.StatusCode == 200
	})
	if err != nil {
		return fmt.Errorf("pebble did not start: %w", err)
	}
	ca.IssuingRoot = filepath.Join(ca.dir, "issuing-root.pem")
	ca.Bundle = filepath.Join(ca.dir, "bundle.pem")
	if err := os.WriteFile(ca.IssuingRoot, root, 0o644); err != nil {
		return err
	}
	return os.WriteFile(ca.Bundle, append(append(pemData, '\n'), root...), 0o644)
}

func (ca *pebbleCA) stop() {
	for _, c := range ca.procs {
		if c.Process != nil {
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			c.Wait()
		}
	}
	ca.procs = nil
}

func (ca *pebbleCA) run(name string, env []string, prog string, args ...string) error {
	f, err := os.Create(filepath.Join(ca.dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(prog, args...)
	cmd.Dir = ca.dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", prog, err)
	}
	ca.procs = append(ca.procs, cmd)
	return nil
}

// writeListenerCert makes a throwaway root and a 127.0.0.1 certificate for
// Pebble's HTTPS listeners (Debian's package ships none).
func (ca *pebbleCA) writeListenerCert() error {
	now := time.Now()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rpwizard bench ACME listener root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return err
	}
	root, _ := x509.ParseCertificate(rootDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, &leafKey.PublicKey, rootKey)
	if err != nil {
		return err
	}
	keyDER, _ := x509.MarshalECPrivateKey(leafKey)
	ca.ListenerRoot = filepath.Join(ca.dir, "listener-root.pem")
	for name, data := range map[string][]byte{
		ca.ListenerRoot: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}),
		filepath.Join(ca.dir, "listener-cert.pem"): pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		filepath.Join(ca.dir, "listener-key.pem"):  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// freePorts returns n loopback ports free for TCP and UDP.
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
		if u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			u.Close()
			ports = append(ports, port)
		}
	}
	return ports, nil
}

// buildPebble210 builds Pebble v2.10.1 (required by go.mod, so in the
// module cache) into dir.
func (b *bench) buildPebble210() (string, error) {
	bin := filepath.Join(b.dir, "pebble-2.10")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/letsencrypt/pebble/v2/cmd/pebble").CombinedOutput(); err != nil {
		// Outside the module (or with a different go.mod): the module proxy.
		gobin := filepath.Join(b.dir, "gobin")
		cmd := exec.Command("go", "install", "github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.1")
		cmd.Env = append(os.Environ(), "GOBIN="+gobin)
		if out2, err2 := cmd.CombinedOutput(); err2 != nil {
			return "", fmt.Errorf("build pebble 2.10: %v\n%s\n%s", err, out, out2)
		}
		return filepath.Join(gobin, "pebble"), nil
	}
	return bin, nil
}
