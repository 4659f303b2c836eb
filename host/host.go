// Package host describes the machine rpwizard works on: the platform's
// file layout (paths, service names, package manager), which proxy servers
// are installed and their versions, SELinux, and whether systemd runs. It
// only reads; everything that writes lives in package installer.
//
// Detect on a fake root (a temp dir in tests) runs no binary: a server
// counts as installed when its binary exists under the root, and its
// version is read from that file, which holds what `nginx -v` or
// `httpd -v` would print (e.g. "nginx version: nginx/1.26.2").
package host

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// OSRelease holds the fields of /etc/os-release rpwizard uses.
type OSRelease struct{ ID, IDLike, VersionID, PrettyName string }

// ReadOSRelease parses root/etc/os-release (or root/usr/lib/os-release).
func ReadOSRelease(root string) (OSRelease, error) {
	data, err := os.ReadFile(filepath.Join(root, "etc/os-release"))
	if errors.Is(err, os.ErrNotExist) {
		data, err = os.ReadFile(filepath.Join(root, "usr/lib/os-release"))
	}
	if err != nil {
		return OSRelease{}, fmt.Errorf("read os-release: %w", err)
	}
	return ParseOSRelease(data), nil
}

// ParseOSRelease parses the content of an os-release file.
func ParseOSRelease(data []byte) OSRelease {
	var r OSRelease
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			r.ID = strings.ToLower(v)
		case "ID_LIKE":
			r.IDLike = strings.ToLower(v)
		case "VERSION_ID":
			r.VersionID = v
		case "PRETTY_NAME":
			r.PrettyName = v
		}
	}
	return r
}

// Runner runs a read-only command (argv, never through a shell) and
// returns its standard output.
type Runner func(ctx context.Context, argv ...string) ([]byte, error)

// ExecRunner runs commands on this host, each bounded by timeout.
func ExecRunner(timeout time.Duration) Runner {
	return func(ctx context.Context, argv ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return out, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
		}
		return out, nil
	}
}

// Host is what rpwizard found on this machine.
type Host struct {
	Layout    Layout
	OS        OSRelease
	Systemd   bool              // systemd is PID 1
	Installed []string          // proxy servers found: "nginx", "apache"
	Versions  map[string]string // server → version, e.g. "1.22.1", "2.4.71"
	SELinux   SELinux
	// Run runs read-only commands (nft, semanage, apt-cache) for checks
	// that cannot read files; nil on a fake root, where such checks are
	// skipped unless a test sets it.
	Run Runner
}

// Fake reports whether the host is a fake root (layout tests).
func (h *Host) Fake() bool { return h.Layout.Root != "/" }

// Has reports whether server is installed.
func (h *Host) Has(server string) bool { return contains(h.Installed, server) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Version patterns of `nginx -v` and `apache2 -v` / `httpd -v`.
var (
	nginxVersion  = regexp.MustCompile(`nginx/(\d+\.\d+\.\d+)`)
	apacheVersion = regexp.MustCompile(`Apache/(\d+\.\d+\.\d+)`)
)

// SystemdTestEnv, set to 1, makes Detect take systemd as running where it
// is not: for tests only. The integration tests set it, with a stand-in
// systemctl first in PATH, to run the systemd paths (the renewal timer,
// servers controlled through systemctl) on a test machine without
// systemd. Nothing else should.
const SystemdTestEnv = "RPWIZARD_TEST_SYSTEMD"

// Detect inspects the machine under root ("/" on a real host).
func Detect(ctx context.Context, root string) (*Host, error) {
	osr, err := ReadOSRelease(root)
	if err != nil {
		return nil, err
	}
	l, err := LayoutFor(osr, root)
	if err != nil {
		return nil, err
	}
	h := &Host{Layout: l, OS: osr, Versions: map[string]string{}}
	if fi, err := os.Stat(filepath.Join(root, "run/systemd/system")); err == nil && fi.IsDir() {
		h.Systemd = true
	}
	if os.Getenv(SystemdTestEnv) == "1" {
		h.Systemd = true
	}
	h.SELinux = ReadSELinux(root)
	fake := root != "/"
	if !fake {
		h.Run = ExecRunner(10 * time.Second)
	}
	for _, s := range []struct {
		name, bin string
		re        *regexp.Regexp
	}{{"nginx", l.NginxBinary, nginxVersion}, {"apache", l.ApacheBinary, apacheVersion}} {
		var v string
		var ok bool
		if fake {
			v, ok = fakeVersion(filepath.Join(root, s.bin), s.re)
		} else {
			v, ok = version(ctx, s.bin, "-v", s.re)
		}
		if ok {
			h.Installed = append(h.Installed, s.name)
			if v != "" {
				h.Versions[s.name] = v
			}
		}
	}
	// The TLS library decides which key-exchange groups the servers offer.
	if !fake {
		if v, ok := version(ctx, "/usr/bin/openssl", "version", opensslVersion); ok {
			h.Versions["openssl"] = v
		}
	}
	return h, nil
}

var opensslVersion = regexp.MustCompile(`OpenSSL (\d+\.\d+\.\d+)`)

// fakeVersion: on a fake root, the "binary" is a file holding what its
// -v would print. It counts as installed when it exists.
func fakeVersion(path string, re *regexp.Regexp) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	head, _ := io.ReadAll(io.LimitReader(f, 4096))
	if m := re.FindSubmatch(head); m != nil {
		return string(m[1]), true
	}
	return "", true
}

func version(ctx context.Context, bin, flag string, re *regexp.Regexp) (string, bool) {
	if _, err := os.Stat(bin); err != nil {
		return "", false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, flag)
	if strings.HasSuffix(bin, "apache2") {
		// Debian's apache2 binary needs the variables of envvars to start.
		cmd.Env = append(os.Environ(), "APACHE_RUN_DIR=/run/apache2", "APACHE_LOG_DIR=/var/log/apache2",
			"APACHE_PID_FILE=/run/apache2/apache2.pid", "APACHE_RUN_USER=www-data", "APACHE_RUN_GROUP=www-data", "APACHE_LOCK_DIR=/var/lock/apache2")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", false
	}
	m := re.FindSubmatch(out)
	if m == nil {
		return "", false
	}
	return string(m[1]), true
}

// CandidateVersion asks the package manager which upstream version of pkg
// an install would bring ("" when it cannot tell). It reads the local
// package cache only.
func (h *Host) CandidateVersion(ctx context.Context, pkg string) string {
	if h.Run == nil {
		return ""
	}
	switch h.Layout.Platform {
	case "debian":
		out, err := h.Run(ctx, "apt-cache", "policy", pkg)
		if err != nil {
			return ""
		}
		return ParseAptCandidate(out)
	case "rhel":
		out, err := h.Run(ctx, "dnf", "-q", "--cacheonly", "repoquery", "--latest-limit", "1", "--qf", "%{version}\n", pkg)
		if err != nil {
			return ""
		}
		return UpstreamVersion(strings.TrimSpace(firstLine(string(out))))
	}
	return ""
}

// ParseAptCandidate reads the Candidate of `apt-cache policy PKG` as an
// upstream version ("1.22.1-9+deb12u1" → "1.22.1").
func ParseAptCandidate(out []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if ok && k == "Candidate" {
			v = strings.TrimSpace(v)
			if v == "(none)" {
				return ""
			}
			return UpstreamVersion(v)
		}
	}
	return ""
}

var reUpstream = regexp.MustCompile(`^(\d+(\.\d+)*)`)

// UpstreamVersion strips a package version's epoch and revision:
// "1:2.4.52-1ubuntu4.6" → "2.4.52".
func UpstreamVersion(v string) string {
	if _, after, ok := strings.Cut(v, ":"); ok {
		v = after
	}
	return reUpstream.FindString(v)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// AtLeast reports whether version v (e.g. "1.25.1") is >= min.
func AtLeast(v, min string) bool {
	a, b := strings.Split(v, "."), strings.Split(min, ".")
	for i := 0; i < len(b); i++ {
		var x, y int
		if i < len(a) {
			x, _ = strconv.Atoi(a[i])
		}
		y, _ = strconv.Atoi(b[i])
		if x != y {
			return x > y
		}
	}
	return true
}
