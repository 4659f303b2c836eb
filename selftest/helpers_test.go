package selftest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"
)

// Test names; the fake resolver maps them to loopback.
const (
	testDomain = "app.test"
	testAlias  = "www.app.test"
)

const (
	nginxBin  = "/usr/sbin/nginx"
	apacheBin = "/usr/sbin/apache2"
	apacheMod = "/usr/lib/apache2/modules"
)

// requireBinary skips the test when bin is missing, or fails it when
// RPWIZARD_INTEGRATION=1 says the integration tests must run.
func requireBinary(tb testing.TB, bin string) {
	tb.Helper()
	if _, err := os.Stat(bin); err == nil {
		return
	}
	if os.Getenv("RPWIZARD_INTEGRATION") == "1" {
		tb.Fatalf("%s is missing but RPWIZARD_INTEGRATION=1", bin)
	}
	tb.Skipf("%s is missing (set RPWIZARD_INTEGRATION=1 to make this a failure)", bin)
}

// fakeResolver resolves the test names without DNS.
type fakeResolver map[string][]string

func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ips, ok := f[strings.ToLower(host)]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, ip := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(ip)})
	}
	return out, nil
}

func loopbackResolver() fakeResolver {
	return fakeResolver{testDomain: {"127.0.0.1"}, testAlias: {"127.0.0.1"}}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// tempDir is a world-traversable temporary directory (Apache's workers run
// as www-data and must reach the probe socket in it), removed at cleanup.
func tempDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "rpwst-")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// --- certificates -----------------------------------------------------

// testPKI is a private CA for one test.
type testPKI struct {
	dir    string
	ca     *x509.Certificate
	caKey  crypto.Signer
	caFile string
	serial int64
}

func newPKI(tb testing.TB, dir string) *testPKI {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rpwizard test CA"},
		NotBefore:             time.Now().Add(-365 * 24 * time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{dir: dir, ca: ca, caKey: key, caFile: filepath.Join(dir, "ca.pem"), serial: 100}
	writePEM(tb, p.caFile, "CERTIFICATE", der)
	return p
}

// issue writes a leaf certificate and key named base.{crt,key} and returns
// their paths.
func (p *testPKI) issue(tb testing.TB, base string, names []string, notBefore, notAfter time.Time, useRSA bool) (certFile, keyFile string) {
	tb.Helper()
	var key crypto.Signer
	var err error
	if useRSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		tb.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, key.Public(), p.caKey)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	certFile = filepath.Join(p.dir, base+".crt")
	keyFile = filepath.Join(p.dir, base+".key")
	writePEM(tb, certFile, "CERTIFICATE", der)
	writePEM(tb, keyFile, "PRIVATE KEY", kder)
	return certFile, keyFile
}

func writePEM(tb testing.TB, path, typ string, der []byte) {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// --- test backend -----------------------------------------------------

var jatosWSRoute = regexp.MustCompile(`^/publix/[^/]+/(batch/open|group/join)$`)

// backendHandler mimics the apps behind the proxy. Every backend answers
// /ping with pong and otherwise behaves like the probe (header echo,
// WebSocket echo, upload length), plus:
//   - jatos: like Play, a WebSocket route reached without an upgrade answers
//     426, and with an upgrade for an unknown study result uuid 400; /jatos
//     is the admin GUI;
//   - jupyterhub: below base, / redirects to hub/ and hub/ to hub/login, and a
//     WebSocket is accepted on every path;
//   - forceHTTPS: redirect to https:// unless X-Forwarded-Proto is https
//     (an app that does not trust the proxy's scheme).
func backendHandler(app, base string, forceHTTPS bool) http.Handler {
	probe := NewProbeHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ping" || r.URL.Path == base+"ping" {
			_, _ = w.Write([]byte("pong"))
			return
		}
		if forceHTTPS && r.Header.Get("X-Forwarded-Proto") != "https" {
			http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusMovedPermanently)
			return
		}
		switch app {
		case "jatos":
			if jatosWSRoute.MatchString(r.URL.Path) {
				if !isWebSocketHandshake(r) {
					http.Error(w, "Upgrade to WebSocket required", http.StatusUpgradeRequired)
					return
				}
				http.Error(w, "unknown study result", http.StatusBadRequest)
				return
			}
			switch {
			case r.URL.Path == "/jatos":
				http.Redirect(w, r, "/jatos/login", http.StatusSeeOther)
				return
			case strings.HasPrefix(r.URL.Path, "/jatos/"):
				_, _ = w.Write([]byte("JATOS GUI"))
				return
			case r.URL.Path == "/" && !isWebSocketHandshake(r):
				_, _ = w.Write([]byte("JATOS"))
				return
			}
		case "jupyterhub":
			if isWebSocketHandshake(r) {
				probe.ServeHTTP(w, r)
				return
			}
			switch r.URL.Path {
			case base:
				http.Redirect(w, r, base+"hub/", http.StatusFound)
				return
			case base + "hub/":
				http.Redirect(w, r, base+"hub/login", http.StatusFound)
				return
			case base + "hub/login":
				_, _ = w.Write([]byte("JupyterHub login"))
				return
			}
			if !strings.HasPrefix(r.URL.Path, base) {
				http.NotFound(w, r)
				return
			}
		}
		probe.ServeHTTP(w, r)
	})
}

// startBackend serves backendHandler on a free loopback port.
func startBackend(tb testing.TB, app, base string, forceHTTPS bool) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: backendHandler(app, base, forceHTTPS), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// --- proxy processes ---------------------------------------------------

// startProc starts a proxy in the foreground, waits (bounded) until every
// port accepts connections and stops it at cleanup.
func startProc(tb testing.TB, errorLog string, ports []int, name string, args ...string) {
	tb.Helper()
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				tb.Errorf("%s (pid %d) did not stop", name, cmd.Process.Pid)
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for _, port := range ports {
		for {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-exited:
				log, _ := os.ReadFile(errorLog)
				tb.Fatalf("%s exited (%v): %s\n%s", name, waitErr, out.String(), log)
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(errorLog)
				tb.Fatalf("%s does not listen on %d: %s\n%s", name, port, out.String(), log)
			}
		}
	}
}

// siteSpec describes a private proxy in front of a test backend, healthy by
// default; each field breaks one thing.
type siteSpec struct {
	Server   string // "nginx" or "apache"
	App      string // "jatos", "jupyterhub", "generic"
	BasePath string

	NoWSHeaders       bool   // nginx: no Upgrade/Connection/HTTP 1.1 upstream
	VendorNoWstunnel  bool   // apache: ws:// RewriteRules, mod_proxy_wstunnel not loaded
	ApacheNoUpgrade   bool   // apache: ProxyPass without upgrade=websocket
	NoProbeLocation   bool   // nginx: config without the probe location
	BackendDown       bool   // nothing listens on the backend port
	ReadTimeout       int    // proxy idle timeout in seconds (default 3600)
	Cert              string // "good" (default), "wrongname", "expired"
	TLS10Only         bool   // only TLS 1.0 (nginx, OpenSSL at SECLEVEL=0)
	NoPort80          bool   // no HTTP server at all
	ProxyMaxBody      string // nginx size; default "10m"
	BackendForceHTTPS bool   // app redirects to https unless X-Forwarded-Proto https
	NoXFP             bool   // no X-Forwarded-Proto
	HostTrap          bool   // nginx: headers at server level, lost in locations
	RenewOnDisk       bool   // replace the certificate file after start
	AdminOpen         bool   // no admin restriction
	AdminAllowLoop    bool   // loopback is in the admin networks
	ApacheLimitOnly   bool   // apache: LimitRequestBody without the Content-Length rewrite
	Buffered          bool   // nginx: proxy_buffering on
}

// site is a running spec.
type site struct {
	Target   Target
	Dir      string
	ErrorLog string
}

const testMaxBody = 10 << 20

// confData feeds the config templates.
type confData struct {
	siteSpec
	Dir, Cert, Key, Socket     string
	HTTPPort, HTTPSPort, BPort int
	MaxBody                    string
	MaxBodyBytes               int64
	Admin                      []string
	ModDir                     string
}

var nginxTmpl = template.Must(template.New("nginx").Parse(`
daemon off;
master_process on;
worker_processes 1;
user root;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log info;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path {{.Dir}}/tmp/body;
    proxy_temp_path {{.Dir}}/tmp/proxy;
    fastcgi_temp_path {{.Dir}}/tmp/fastcgi;
    uwsgi_temp_path {{.Dir}}/tmp/uwsgi;
    scgi_temp_path {{.Dir}}/tmp/scgi;
    default_type application/octet-stream;
    client_max_body_size {{.MaxBody}};
    proxy_buffering {{if .Buffered}}on{{else}}off{{end}};
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
{{- if not .NoPort80}}
    server {
        listen 127.0.0.1:{{.HTTPPort}};
        server_name app.test www.app.test;
        location /.well-known/acme-challenge/ { root {{.Dir}}/acme; }
        location / { return 301 https://$host:{{.HTTPSPort}}$request_uri; }
    }
{{- end}}
{{- define "headers"}}
        {{- if not .NoWSHeaders}}
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        {{- end}}
        {{- if not .HostTrap}}
        proxy_set_header Host $http_host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        {{- if not .NoXFP}}
        proxy_set_header X-Forwarded-Proto $scheme;
        {{- end}}
        {{- end}}
        proxy_read_timeout {{.ReadTimeout}}s;
        proxy_send_timeout {{.ReadTimeout}}s;
{{- end}}
    server {
        listen 127.0.0.1:{{.HTTPSPort}} ssl http2;
        server_name app.test www.app.test;
        ssl_certificate {{.Cert}};
        ssl_certificate_key {{.Key}};
{{- if .TLS10Only}}
        ssl_protocols TLSv1;
        ssl_ciphers DEFAULT@SECLEVEL=0;
{{- else}}
        ssl_protocols TLSv1.2 TLSv1.3;
{{- end}}
        add_header Strict-Transport-Security "max-age=63072000" always;
{{- if .HostTrap}}
        # The inheritance trap: these are lost in every location that sets
        # a proxy_set_header of its own.
        proxy_set_header Host $http_host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
{{- end}}
{{- if not .NoProbeLocation}}
        location /.well-known/rpwizard/probe {
            allow 127.0.0.1;
            allow ::1;
            deny all;
            {{- template "headers" .}}
            proxy_pass http://unix:{{.Socket}};
        }
{{- end}}
{{- range .Admin}}
        location {{.}} {
            {{- if $.AdminAllowLoop}}
            allow 127.0.0.1;
            {{- end}}
            allow 192.0.2.0/24;
            deny all;
            {{- template "headers" $}}
            proxy_pass http://127.0.0.1:{{$.BPort}};
        }
{{- end}}
        location {{.BasePath}} {
            {{- template "headers" .}}
            proxy_pass http://127.0.0.1:{{.BPort}};
        }
    }
}
`))

var apacheTmpl = template.Must(template.New("apache").Parse(`
ServerRoot "{{.Dir}}"
DefaultRuntimeDir "{{.Dir}}"
PidFile "{{.Dir}}/httpd.pid"
ErrorLog "{{.Dir}}/error.log"
LogLevel warn
Mutex posixsem
LoadModule mpm_event_module {{.ModDir}}/mod_mpm_event.so
LoadModule authz_core_module {{.ModDir}}/mod_authz_core.so
LoadModule authz_host_module {{.ModDir}}/mod_authz_host.so
LoadModule alias_module {{.ModDir}}/mod_alias.so
LoadModule headers_module {{.ModDir}}/mod_headers.so
LoadModule rewrite_module {{.ModDir}}/mod_rewrite.so
LoadModule proxy_module {{.ModDir}}/mod_proxy.so
LoadModule proxy_http_module {{.ModDir}}/mod_proxy_http.so
{{- if not .VendorNoWstunnel}}
LoadModule proxy_wstunnel_module {{.ModDir}}/mod_proxy_wstunnel.so
{{- end}}
LoadModule ssl_module {{.ModDir}}/mod_ssl.so
LoadModule socache_shmcb_module {{.ModDir}}/mod_socache_shmcb.so
LoadModule http2_module {{.ModDir}}/mod_http2.so
# Apache refuses to serve as root; the workers reach the probe socket
# because its directory is world-traversable and the socket 0666.
User www-data
Group www-data
StartServers 1
ServerLimit 2
ThreadsPerChild 25
MaxRequestWorkers 50
ServerName app.test
{{- if not .NoPort80}}
Listen 127.0.0.1:{{.HTTPPort}}
{{- end}}
Listen 127.0.0.1:{{.HTTPSPort}}
SSLSessionCache shmcb:{{.Dir}}/ssl_scache(512000)
{{- if not .NoPort80}}
<VirtualHost 127.0.0.1:{{.HTTPPort}}>
    ServerName app.test
    ServerAlias www.app.test
    Redirect permanent / https://app.test:{{.HTTPSPort}}/
</VirtualHost>
{{- end}}
<VirtualHost 127.0.0.1:{{.HTTPSPort}}>
    ServerName app.test
    ServerAlias www.app.test
    Protocols h2 http/1.1
    SSLEngine on
    SSLCertificateFile {{.Cert}}
    SSLCertificateKeyFile {{.Key}}
    SSLProtocol -all +TLSv1.2 +TLSv1.3
    Header always set Strict-Transport-Security "max-age=63072000"
    ProxyPreserveHost On
{{- if not .NoXFP}}
    RequestHeader set X-Forwarded-Proto https
{{- end}}
    LimitRequestBody {{.MaxBodyBytes}}
{{- if not .ApacheLimitOnly}}
    # LimitRequestBody is not enforced on reverse-proxied requests with a
    # Content-Length (httpd's input filter skips the limit when proxyreq is
    # set), so refuse oversized bodies on the header alone.
    RewriteEngine On
    RewriteCond %{HTTP:Content-Length} -gt{{.MaxBodyBytes}}
    RewriteRule ^ - [R=413,L]
{{- end}}
{{- if lt .ReadTimeout 60}}
    # An idle tunnel lasts max(Timeout, ProxyTimeout): both must be short.
    Timeout {{.ReadTimeout}}
{{- end}}
    ProxyTimeout {{.ReadTimeout}}
    <Location /.well-known/rpwizard/probe>
        Require ip 127.0.0.1 ::1
    </Location>
{{- range .Admin}}
    <Location {{.}}>
        Require ip 192.0.2.0/24{{if $.AdminAllowLoop}} 127.0.0.1{{end}}
    </Location>
{{- end}}
{{- if .VendorNoWstunnel}}
    # Vendor style (JATOS docs): ws:// rewrites, which need mod_proxy_wstunnel.
    RewriteCond %{HTTP:Upgrade} =websocket [NC]
    RewriteRule ^/\.well-known/rpwizard/probe(.*)$ "unix:{{.Socket}}|ws://localhost/.well-known/rpwizard/probe$1" [P,L]
    RewriteCond %{HTTP:Upgrade} =websocket [NC]
    RewriteRule ^/(.*)$ ws://127.0.0.1:{{.BPort}}/$1 [P,L]
    ProxyPass /.well-known/rpwizard/probe unix:{{.Socket}}|http://localhost/.well-known/rpwizard/probe
    ProxyPass {{.BasePath}} http://127.0.0.1:{{.BPort}}{{.BasePath}}
{{- else}}
    ProxyPass /.well-known/rpwizard/probe unix:{{.Socket}}|http://localhost/.well-known/rpwizard/probe{{if not .ApacheNoUpgrade}} upgrade=websocket{{end}}
    ProxyPass {{.BasePath}} http://127.0.0.1:{{.BPort}}{{.BasePath}}{{if not .ApacheNoUpgrade}} upgrade=websocket{{end}}
{{- end}}
    ProxyPassReverse {{.BasePath}} http://127.0.0.1:{{.BPort}}{{.BasePath}}
</VirtualHost>
`))

// newSite starts a backend and a private nginx or Apache for spec and
// returns the Target that describes it.
func newSite(tb testing.TB, spec siteSpec) *site {
	tb.Helper()
	if spec.Server == "apache" {
		requireBinary(tb, apacheBin)
	} else {
		spec.Server = "nginx"
		requireBinary(tb, nginxBin)
	}
	if spec.App == "" {
		spec.App = "generic"
	}
	spec.BasePath = normaliseBase(spec.BasePath)
	if spec.ReadTimeout == 0 {
		spec.ReadTimeout = 3600
	}
	if spec.ProxyMaxBody == "" {
		spec.ProxyMaxBody = "10m"
	}
	dir := tempDir(tb)
	for _, d := range []string{"tmp", "acme"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	pki := newPKI(tb, dir)
	now := time.Now()
	names := []string{testDomain, testAlias}
	var certFile, keyFile string
	switch spec.Cert {
	case "wrongname":
		certFile, keyFile = pki.issue(tb, "leaf", []string{"other.test"}, now.Add(-24*time.Hour), now.Add(90*24*time.Hour), false)
	case "expired":
		certFile, keyFile = pki.issue(tb, "leaf", names, now.Add(-90*24*time.Hour), now.Add(-24*time.Hour), false)
	default:
		certFile, keyFile = pki.issue(tb, "leaf", names, now.Add(-24*time.Hour), now.Add(90*24*time.Hour), spec.TLS10Only)
	}

	bport := freePort(tb)
	if !spec.BackendDown {
		bport = startBackend(tb, spec.App, spec.BasePath, spec.BackendForceHTTPS)
	}
	var admin []string
	if spec.App == "jatos" && !spec.AdminOpen {
		admin = []string{"/jatos"}
	}
	d := confData{
		siteSpec: spec, Dir: dir, Cert: certFile, Key: keyFile,
		Socket:   filepath.Join(dir, "probe.sock"),
		HTTPPort: freePort(tb), HTTPSPort: freePort(tb), BPort: bport,
		MaxBody: spec.ProxyMaxBody, MaxBodyBytes: testMaxBody, Admin: admin, ModDir: apacheMod,
	}
	errorLog := filepath.Join(dir, "error.log")
	ports := []int{d.HTTPSPort}
	if !spec.NoPort80 {
		ports = append(ports, d.HTTPPort)
	}
	var conf bytes.Buffer
	if spec.Server == "apache" {
		if err := apacheTmpl.Execute(&conf, d); err != nil {
			tb.Fatal(err)
		}
		path := filepath.Join(dir, "httpd.conf")
		if err := os.WriteFile(path, conf.Bytes(), 0o644); err != nil {
			tb.Fatal(err)
		}
		startProc(tb, errorLog, ports, apacheBin, "-d", dir, "-f", path, "-DFOREGROUND")
	} else {
		if err := nginxTmpl.Execute(&conf, d); err != nil {
			tb.Fatal(err)
		}
		path := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(path, conf.Bytes(), 0o644); err != nil {
			tb.Fatal(err)
		}
		startProc(tb, errorLog, ports, nginxBin, "-p", dir+"/", "-c", path, "-e", errorLog)
	}
	if spec.RenewOnDisk {
		// A renewal wrote a new certificate; nobody reloaded the proxy.
		renewed, _ := pki.issue(tb, "renewed", names, now.Add(-time.Hour), now.Add(90*24*time.Hour), false)
		b, err := os.ReadFile(renewed)
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(certFile, b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}

	t := Target{
		Domain:               testDomain,
		Aliases:              []string{testAlias},
		App:                  spec.App,
		Upstream:             fmt.Sprintf("127.0.0.1:%d", d.BPort),
		BasePath:             spec.BasePath,
		Connect:              "127.0.0.1",
		HTTPPort:             d.HTTPPort,
		HTTPSPort:            d.HTTPSPort,
		CABundle:             pki.caFile,
		CertFile:             certFile,
		HSTS:                 true,
		MaxBody:              testMaxBody,
		Hold:                 time.Second,
		AdminPaths:           admin,
		AdminAllowedFromHere: spec.AdminAllowLoop,
		ProbeSocket:          d.Socket,
		Streaming:            true,
		Timeout:              5 * time.Second,
		Resolver:             loopbackResolver(),
	}
	return &site{Target: t, Dir: dir, ErrorLog: errorLog}
}

// errorLogTail is the end of a proxy's error log, for failure messages.
func (s *site) errorLogTail() string {
	b, err := os.ReadFile(s.ErrorLog)
	if err != nil {
		return fmt.Sprintf("(no error log: %v)", err)
	}
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// reportText renders a report for failure messages.
func reportText(rep Report) string {
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		return errors.Join(err).Error()
	}
	return b.String()
}
