package answers

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/internal/testcerts"
)

// Hashes of the formats both servers check (the format is what matters
// here, not the password).
const (
	apr1Hash   = "$apr1$r31uXu7H$HqJZimcKQFAMYayBlzkrA/"
	bcryptHash = "$2y$05$c4WoMPo3SXsafkva.HHa6uXQZWr7oboPiC2bT/r7q1BB8I2s0BRqC"
	shaHash    = "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="
)

// fixtures writes the files the cases name into dir (0755, as is the path
// above it) and returns the strings substituted for {name} in the cases.
func fixtures(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	ca := testcerts.CA(t, dir, "ca")
	leaf := testcerts.Leaf(t, dir, "leaf", ca, "a.test")
	other := testcerts.Leaf(t, dir, "other", ca, "b.test")
	w := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	big := w("big.pem", "", 0o644)
	os.Truncate(big, 5<<20) // sparse: larger than the PEM limit
	return map[string]string{
		"{dir}":       dir,
		"{ca}":        ca.CertFile,
		"{cakey}":     ca.KeyFile,
		"{leaf}":      leaf.CertFile,
		"{leafkey}":   leaf.KeyFile,
		"{otherkey}":  other.KeyFile,
		"{cawithkey}": w("cawithkey.pem", string(ca.CertPEM)+string(ca.KeyPEM), 0o644),
		"{notpem}":    w("notpem.txt", "hello\n", 0o644),
		"{fifo}":      fifo,
		"{big}":       big,
		"{htpasswd}":  w("htpasswd", "# users\nalice:"+apr1Hash+"\nbob:"+bcryptHash+"\ncarol:"+shaHash+"\n", 0o644),
		"{plain}":     w("plain", "alice:secret\n", 0o644),
		"{garbage}":   w("garbage", "this is not htpasswd\n", 0o644),
		"{nousers}":   w("nousers", "# nobody\n\n", 0o644),
		"{hmac}":      w("hmac", "c2VjcmV0\n", 0o600),
	}
}

// TestValidationClasses: every class of input of issue #14 that used to
// pass validation and then break the server, or silently do the wrong
// thing, is refused with its key named (exit status 2: *Error).
func TestValidationClasses(t *testing.T) {
	fx := fixtures(t)
	const head = "app: generic\nserver: nginx\ndomain: a.test\nupstream: 127.0.0.1:8080\n"
	const ss = "tls: {mode: self-signed}\n"
	tests := []struct {
		name, yaml, key, msg string
	}{
		// Paths.
		{"admin paths twice", head + "restrict: {admin_networks: [10.0.0.0/8], admin_paths: [/admin, /admin]}\n" + ss, "restrict.admin_paths[1]", "given twice"},
		{"admin paths twice after normalising", head + "restrict: {admin_networks: [10.0.0.0/8], admin_paths: [/admin, /x/../admin]}\n" + ss, "restrict.admin_paths[1]", "given twice"},
		{"admin path of the profile", "app: jatos\nserver: nginx\ndomain: a.test\nrestrict: {admin_networks: [10.0.0.0/8], admin_paths: [/jatos]}\n" + ss, "restrict.admin_paths[0]", "profile"},
		{"admin path of the profile under a base path", "app: jupyterhub\nserver: nginx\ndomain: a.test\nbase_path: /jhub\nrestrict: {admin_networks: [10.0.0.0/8], admin_paths: [/hub/admin]}\n" + ss, "restrict.admin_paths[0]", "profile"},
		{"admin path is the probe", head + "restrict: {admin_networks: [10.0.0.0/8], admin_paths: [/.well-known/rpwizard/probe]}\n" + ss, "restrict.admin_paths[0]", "probe"},
		{"admin path dot segments to the site", head + "restrict: {admin_networks: [10.0.0.0/8], admin_paths: [/admin/..]}\n" + ss, "restrict.admin_paths[0]", "whole site"},
		{"tilde in base path", head + "base_path: /~user/\n" + ss, "base_path", "not a URL path"},
		{"tilde in admin path", head + "restrict: {admin_networks: [10.0.0.0/8], admin_paths: [/~admin]}\n" + ss, "restrict.admin_paths[0]", "not an admin path"},
		// Upstream.
		{"plus in the port", "app: generic\nserver: nginx\ndomain: a.test\nupstream: 127.0.0.1:+9000\n" + ss, "upstream", "not a number"},
		{"upstream is the proxy (80)", "app: generic\nserver: nginx\ndomain: a.test\nupstream: 127.0.0.1:80\n" + ss, "upstream", "this proxy itself"},
		{"upstream is the proxy (localhost:443)", "app: generic\nserver: apache\ndomain: a.test\nupstream: localhost:443\n" + ss, "upstream", "this proxy itself"},
		{"upstream is the proxy (::1)", "app: generic\nserver: nginx\ndomain: a.test\nupstream: '[::1]:443'\n" + ss, "upstream", "this proxy itself"},
		{"upstream is the proxy (0.0.0.0)", "app: generic\nserver: nginx\ndomain: a.test\nupstream: 0.0.0.0:80\n" + ss, "upstream", "this proxy itself"},
		// Files that are not what the key says.
		{"client CA is a leaf", head + "restrict: {client_ca_file: {leaf}}\n" + ss, "restrict.client_ca_file", "not a CA certificate"},
		{"client CA holds a key", head + "restrict: {client_ca_file: {cawithkey}}\n" + ss, "restrict.client_ca_file", "private key"},
		{"client CA is a key", head + "restrict: {client_ca_file: {cakey}}\n" + ss, "restrict.client_ca_file", "private key"},
		{"client CA not PEM", head + "restrict: {client_ca_file: {notpem}}\n" + ss, "restrict.client_ca_file", "no PEM certificate"},
		{"client CA is /dev/zero", head + "restrict: {client_ca_file: /dev/zero}\n" + ss, "restrict.client_ca_file", "character device"},
		{"ca bundle not PEM (acme)", head + "tls: {mode: acme, ca_bundle: {notpem}}\n", "tls.ca_bundle", "no PEM certificate"},
		{"ca bundle a leaf (existing)", head + "tls: {mode: existing, cert_file: {leaf}, key_file: {leafkey}, ca_bundle: {leaf}}\n", "tls.ca_bundle", "not a CA certificate"},
		{"ca bundle a FIFO", head + "tls: {mode: acme, ca_bundle: {fifo}}\n", "tls.ca_bundle", "FIFO"},
		{"ca bundle huge", head + "tls: {mode: acme, ca_bundle: {big}}\n", "tls.ca_bundle", "larger than"},
		{"htpasswd in plain text", head + "restrict: {basic_auth_file: {plain}}\n" + ss, "restrict.basic_auth_file", "not hashed"},
		{"htpasswd garbage", head + "restrict: {basic_auth_file: {garbage}}\n" + ss, "restrict.basic_auth_file", "not an htpasswd entry"},
		{"htpasswd without users", head + "restrict: {basic_auth_file: {nousers}}\n" + ss, "restrict.basic_auth_file", "no users"},
		{"htpasswd is /dev/zero", head + "restrict: {basic_auth_file: /dev/zero}\n" + ss, "restrict.basic_auth_file", "character device"},
		{"cert is /dev/zero", head + "tls: {mode: existing, cert_file: /dev/zero, key_file: {leafkey}}\n", "tls.cert_file", "character device"},
		{"key is a FIFO", head + "tls: {mode: existing, cert_file: {leaf}, key_file: {fifo}}\n", "tls.key_file", "FIFO"},
		{"eab hmac is /dev/zero", head + "tls: {mode: acme, eab_kid: k1, eab_hmac_file: /dev/zero}\n", "tls.eab_hmac_file", "character device"},
		// Keys that do nothing in the chosen mode.
		{"cert file with self-signed", head + "tls: {mode: self-signed, cert_file: {leaf}}\n", "tls.cert_file", "only used with tls.mode existing"},
		{"key file with acme", head + "tls: {mode: acme, key_file: {leafkey}}\n", "tls.key_file", "only used with tls.mode existing"},
		{"key type with existing", head + "tls: {mode: existing, cert_file: {leaf}, key_file: {leafkey}, key_type: ec256}\n", "tls.key_type", "only used with tls.mode acme"},
		{"ca bundle with self-signed", head + "tls: {mode: self-signed, ca_bundle: {ca}}\n", "tls.ca_bundle", "existing or acme"},
		{"eab hmac with self-signed", head + "tls: {mode: self-signed, eab_hmac_file: {hmac}}\n", "tls.eab_hmac_file", "only used with tls.mode acme"},
		// Certificates.
		{"cert does not cover an alias", head + "aliases: [b.test]\ntls: {mode: existing, cert_file: {leaf}, key_file: {leafkey}}\n", "tls.cert_file", "not valid for b.test"},
		{"cert and key of others", head + "tls: {mode: existing, cert_file: {leaf}, key_file: {otherkey}}\n", "tls.key_file", "does not fit"},
		// YAML.
		{"decimal for a whole number", head + "expected_websockets: 1.5\n" + ss, "expected_websockets", "not a whole number"},
		{"list for a string", head + "base_path: [/a, /b]\n" + ss, "base_path", "a list is not allowed here"},
		{"map for a string", head + "tls: {mode: {a: b}}\n", "tls.mode", "a map"},
		{"list for a list element", head + "aliases: [[b.test]]\n" + ss, "aliases[0]", "a list is not allowed here"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			y := tc.yaml
			for k, v := range fx {
				y = strings.ReplaceAll(y, k, v)
			}
			f := filepath.Join(t.TempDir(), "a.yaml")
			os.WriteFile(f, []byte(y), 0o600)
			done := make(chan error, 1)
			go func() { _, err := Load(f, nil); done <- err }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Load blocked")
			}
			if !IsInvalid(err) {
				t.Fatalf("Load = %v, want a validation error (exit 2)", err)
			}
			var e *Error
			errors.As(err, &e)
			p := e.Field(tc.key)
			if p == nil {
				t.Fatalf("no problem reported for %s: %v", tc.key, err)
			}
			if !strings.Contains(p.Error(), tc.msg) {
				t.Errorf("%s: %q, want it to mention %q", tc.key, p.Error(), tc.msg)
			}
			if strings.Contains(err.Error(), "chmod 644") || strings.Contains(err.Error(), "chmod 0644") {
				t.Errorf("advice mentions mode 644: %v", err)
			}
		})
	}
}

// TestValidationAccepts: the right inputs next to the refused ones pass,
// normalised.
func TestValidationAccepts(t *testing.T) {
	fx := fixtures(t)
	const head = "app: generic\nserver: nginx\ndomain: a.test\n"
	tests := []struct {
		name, yaml string
		check      func(*Answers) string
	}{
		{"dot segments in base path", head + "upstream: 127.0.0.1:8080\nbase_path: /jhub/..\ntls: {mode: self-signed}\n",
			func(a *Answers) string { return a.BasePath + " want /" }},
		{"dot segments in admin path", head + "upstream: 127.0.0.1:8080\nbase_path: /app//x/./\nrestrict: {admin_networks: [10.0.0.0/8], admin_paths: [/x/../admin]}\ntls: {mode: self-signed}\n",
			func(a *Answers) string { return a.BasePath + " " + a.Restrict.AdminPaths[0] + " want /app/x/ /admin" }},
		{"leading zeros in the port", head + "upstream: 127.0.0.1:09000\ntls: {mode: self-signed}\n",
			func(a *Answers) string { return a.Upstream + " want 127.0.0.1:9000" }},
		{"port 443 of another host", head + "upstream: 192.0.2.10:443\ntls: {mode: self-signed}\n",
			func(a *Answers) string { return a.Upstream + " want 192.0.2.10:443" }},
		{"existing with a CA bundle", head + "upstream: 127.0.0.1:8080\ntls: {mode: existing, cert_file: {leaf}, key_file: {leafkey}, ca_bundle: {ca}}\n",
			func(a *Answers) string { return a.TLS.CABundle + " want " + fx["{ca}"] }},
		{"client CA and htpasswd", head + "upstream: 127.0.0.1:8080\nrestrict: {client_ca_file: {ca}, basic_auth_file: {htpasswd}}\ntls: {mode: self-signed}\n",
			func(a *Answers) string { return a.Restrict.ClientCAFile + " want " + fx["{ca}"] }},
		{"system CA bundle as client CAs", head + "upstream: 127.0.0.1:8080\nrestrict: {client_ca_file: /etc/ssl/certs/ca-certificates.crt}\ntls: {mode: self-signed}\n",
			func(a *Answers) string { return a.Restrict.ClientCAFile + " want /etc/ssl/certs/ca-certificates.crt" }},
		{"a whole number written as one", head + "upstream: 127.0.0.1:8080\nexpected_websockets: 1000\ntls: {mode: self-signed}\n",
			func(a *Answers) string { return strconv.Itoa(a.ExpectedWebSockets) + " want 1000" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			y := tc.yaml
			for k, v := range fx {
				y = strings.ReplaceAll(y, k, v)
			}
			if strings.Contains(y, "ca-certificates.crt") {
				if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err != nil {
					t.Skip("no system CA bundle here")
				}
			}
			f := filepath.Join(t.TempDir(), "a.yaml")
			os.WriteFile(f, []byte(y), 0o600)
			a, err := Load(f, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, want, _ := strings.Cut(tc.check(a), " want ")
			if got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// TestHtpasswdReadableByWorkerGroup: 0640 root:www-data is how a password
// file should be kept, and is accepted; 0600 root:root is refused with
// advice that never says 644.
func TestHtpasswdReadableByWorkerGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to root:www-data")
	}
	g, err := user.LookupGroup("www-data")
	if err != nil {
		t.Skip("no www-data group on this host")
	}
	gid, _ := strconv.Atoi(g.Gid)
	fx := fixtures(t)
	f := fx["{htpasswd}"]
	a := func() *Answers {
		return &Answers{App: "generic", Server: "nginx", Domain: "a.test", Upstream: "127.0.0.1:8080", TLS: TLS{Mode: "self-signed"}, Restrict: Restrict{BasicAuthFile: f}}
	}
	os.Chown(f, 0, gid)
	os.Chmod(f, 0o640)
	if err := a().Validate(nil); err != nil {
		t.Errorf("0640 root:www-data refused: %v", err)
	}
	os.Chown(f, 0, 0)
	os.Chmod(f, 0o600)
	err = a().Validate(nil)
	var e *Error
	if !errors.As(err, &e) || e.Field("restrict.basic_auth_file") == nil {
		t.Fatalf("0600 root:root: Validate = %v, want a restrict.basic_auth_file problem", err)
	}
	msg := e.Field("restrict.basic_auth_file").Error()
	if strings.Contains(msg, "644") || !strings.Contains(msg, "chmod 640") || !strings.Contains(msg, "chgrp www-data") {
		t.Errorf("advice: %s", msg)
	}
}

// TestDecodeText: bytes that are not text, and a second document, are
// refused with the line.
func TestDecodeText(t *testing.T) {
	tests := []struct {
		name, yaml string
		line       int
		msg        string
	}{
		{"invalid UTF-8", "app: jatos\ndomain: a\xff.test\n", 2, "invalid UTF-8"},
		{"NUL byte", "app: jatos\n\ndomain: a\x00.test\n", 3, "NUL"},
		{"control character", "app: jatos\x07\n", 1, "control character"},
		{"second document", "app: jatos\n---\napp: generic\n", 3, "second YAML document"},
		{"empty", "", 0, "empty"},
		{"null document", "~\n", 0, "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode("f.yaml", []byte(tc.yaml))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode = %v, want *Error", err)
			}
			p := e.Problems[0]
			if p.Line != tc.line || !strings.Contains(p.Msg, tc.msg) {
				t.Errorf("got line %d %q, want line %d %q", p.Line, p.Msg, tc.line, tc.msg)
			}
		})
	}
}

// TestHugeFilesFailFastAndShort: a 10 MB file that is not an answers file
// used to take minutes and print 180,000 lines.
func TestHugeFilesFailFastAndShort(t *testing.T) {
	dir := t.TempDir()
	var lines strings.Builder
	for i := 0; lines.Len() < 10<<20; i++ {
		fmt.Fprintf(&lines, "key%d: value\n", i)
	}
	inputs := map[string][]byte{
		"10 MB of keys":   []byte(lines.String()),
		"10 MB of binary": make([]byte, 10<<20),
	}
	for name, data := range inputs {
		t.Run(name+" (Load)", func(t *testing.T) {
			f := filepath.Join(dir, "a.yaml")
			os.WriteFile(f, data, 0o600)
			start := time.Now()
			_, err := Load(f, nil)
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
			if err == nil || strings.Count(err.Error(), "\n") > 20 {
				t.Errorf("Load = %d lines: %.300v", strings.Count(fmt.Sprint(err), "\n"), err)
			}
		})
	}
	// Within the size limit, the decoder itself is fast and short: key
	// lookup used to be quadratic in the number of lines.
	small := []byte(lines.String()[:900<<10])
	small = small[:strings.LastIndexByte(string(small), '\n')+1]
	start := time.Now()
	_, _, err := Decode("a.yaml", small)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Decode of 900 KiB of unknown keys took %v", d)
	}
	if err == nil || strings.Count(err.Error(), "\n") > 21 || !strings.Contains(err.Error(), "more problems") {
		t.Errorf("Decode = %d lines: %.500v", strings.Count(fmt.Sprint(err), "\n"), err)
	}
}
