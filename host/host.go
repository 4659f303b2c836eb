// Package host describes the machine rpwizard works on: the platform's
// file layout (paths, service names, package manager), which proxy servers
// are installed and their versions, and whether systemd runs. It only
// reads; everything that writes lives in package installer.
package host

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Layout is where one platform keeps things. All paths include Root.
type Layout struct {
	Platform string // "debian" or "rhel"
	Root     string // "/" on a real host; a temp dir in layout tests

	PackageManager []string // e.g. ["apt-get", "install", "-y"]

	NginxPackage   string
	NginxBinary    string
	NginxMain      string // main config file
	NginxConfD     string // included inside http {}
	NginxAvailable string // site files; equal to NginxEnabled where sites are not linked
	NginxEnabled   string
	NginxPIDFile   string
	NginxService   string

	ApachePackage    string
	ApacheBinary     string // apache2 / httpd
	ApacheCtl        string // apache2ctl / apachectl
	ApacheMain       string
	ApacheAvailable  string
	ApacheEnabled    string
	ApacheModsAvail  string // Debian: mods-available; "" where modules are loaded by conf.modules.d
	ApacheModsEnable string
	ApacheModulesDir string // *.so files
	ApacheModuleConf string // RHEL: file rpwizard writes its LoadModule lines to
	ApachePIDFile    string
	ApacheService    string
	ApacheLogDir     string
	ApacheSSLPackage string // RHEL: mod_ssl

	ConfigDir string // /etc/rpwizard: certificates, ACME accounts, saved answers
	StateDir  string // /var/lib/rpwizard: backups, journal, lock
	Webroot   string // ACME HTTP-01 webroot served on port 80
	RunDir    string // /run/rpwizard: the self-test probe socket

	SystemdUnitDir string
	CronDir        string
}

// Debian returns the Debian/Ubuntu layout under root.
func Debian(root string) Layout {
	j := func(p string) string { return filepath.Join(root, p) }
	return Layout{
		Platform:       "debian",
		Root:           root,
		PackageManager: []string{"apt-get", "install", "-y", "--no-install-recommends"},
		NginxPackage:   "nginx", NginxBinary: "/usr/sbin/nginx",
		NginxMain: j("/etc/nginx/nginx.conf"), NginxConfD: j("/etc/nginx/conf.d"),
		NginxAvailable: j("/etc/nginx/sites-available"), NginxEnabled: j("/etc/nginx/sites-enabled"),
		NginxPIDFile: j("/run/nginx.pid"), NginxService: "nginx",
		ApachePackage: "apache2", ApacheBinary: "/usr/sbin/apache2", ApacheCtl: "/usr/sbin/apache2ctl",
		ApacheMain: j("/etc/apache2/apache2.conf"), ApacheAvailable: j("/etc/apache2/sites-available"),
		ApacheEnabled: j("/etc/apache2/sites-enabled"), ApacheModsAvail: j("/etc/apache2/mods-available"),
		ApacheModsEnable: j("/etc/apache2/mods-enabled"), ApacheModulesDir: j("/usr/lib/apache2/modules"),
		ApachePIDFile: j("/run/apache2/apache2.pid"), ApacheService: "apache2", ApacheLogDir: j("/var/log/apache2"),
		ConfigDir: j("/etc/rpwizard"), StateDir: j("/var/lib/rpwizard"), Webroot: j("/var/lib/rpwizard/acme-webroot"),
		RunDir: j("/run/rpwizard"), SystemdUnitDir: j("/etc/systemd/system"), CronDir: j("/etc/cron.d"),
	}
}

// RHEL returns the RHEL/Rocky/Alma/Fedora layout under root.
func RHEL(root string) Layout {
	j := func(p string) string { return filepath.Join(root, p) }
	return Layout{
		Platform:       "rhel",
		Root:           root,
		PackageManager: []string{"dnf", "install", "-y"},
		NginxPackage:   "nginx", NginxBinary: "/usr/sbin/nginx",
		NginxMain: j("/etc/nginx/nginx.conf"), NginxConfD: j("/etc/nginx/conf.d"),
		NginxAvailable: j("/etc/nginx/conf.d"), NginxEnabled: j("/etc/nginx/conf.d"),
		NginxPIDFile: j("/run/nginx.pid"), NginxService: "nginx",
		ApachePackage: "httpd", ApacheBinary: "/usr/sbin/httpd", ApacheCtl: "/usr/sbin/apachectl",
		ApacheMain: j("/etc/httpd/conf/httpd.conf"), ApacheAvailable: j("/etc/httpd/conf.d"),
		ApacheEnabled: j("/etc/httpd/conf.d"), ApacheModulesDir: j("/usr/lib64/httpd/modules"),
		ApacheModuleConf: j("/etc/httpd/conf.modules.d/90-rpwizard.conf"),
		ApachePIDFile:    j("/run/httpd/httpd.pid"), ApacheService: "httpd", ApacheLogDir: j("/var/log/httpd"),
		ApacheSSLPackage: "mod_ssl",
		ConfigDir:        j("/etc/rpwizard"), StateDir: j("/var/lib/rpwizard"), Webroot: j("/var/lib/rpwizard/acme-webroot"),
		RunDir: j("/run/rpwizard"), SystemdUnitDir: j("/etc/systemd/system"), CronDir: j("/etc/cron.d"),
	}
}

// SitesLinked reports whether site files are enabled by a symlink.
func (l Layout) SitesLinked(server string) bool {
	if server == "apache" {
		return l.ApacheAvailable != l.ApacheEnabled
	}
	return l.NginxAvailable != l.NginxEnabled
}

// OSRelease holds the fields of /etc/os-release rpwizard uses.
type OSRelease struct{ ID, IDLike, VersionID, PrettyName string }

// ReadOSRelease parses root/etc/os-release.
func ReadOSRelease(root string) (OSRelease, error) {
	data, err := os.ReadFile(filepath.Join(root, "etc/os-release"))
	if err != nil {
		return OSRelease{}, fmt.Errorf("read os-release: %w", err)
	}
	var r OSRelease
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			r.ID = v
		case "ID_LIKE":
			r.IDLike = v
		case "VERSION_ID":
			r.VersionID = v
		case "PRETTY_NAME":
			r.PrettyName = v
		}
	}
	return r, nil
}

// LayoutFor picks the layout of a distribution, or an error naming the
// supported ones.
func LayoutFor(r OSRelease, root string) (Layout, error) {
	ids := append([]string{r.ID}, strings.Fields(r.IDLike)...)
	for _, id := range ids {
		switch id {
		case "debian", "ubuntu":
			return Debian(root), nil
		case "rhel", "centos", "fedora", "rocky", "almalinux":
			return RHEL(root), nil
		}
	}
	return Layout{}, fmt.Errorf("unsupported platform %q (%s): rpwizard knows Debian, Ubuntu and the RHEL family (RHEL, Rocky, Alma, Fedora)", r.ID, r.PrettyName)
}

// Host is what rpwizard found on this machine.
type Host struct {
	Layout    Layout
	OS        OSRelease
	Systemd   bool              // systemd is PID 1
	Installed []string          // proxy servers found: "nginx", "apache"
	Versions  map[string]string // server → version, e.g. "1.22.1", "2.4.71"
}

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
	if root != "/" {
		return h, nil // a fake root: no binaries to ask
	}
	if v, ok := version(ctx, l.NginxBinary, "-v", `nginx/(\d+\.\d+\.\d+)`); ok {
		h.Installed = append(h.Installed, "nginx")
		h.Versions["nginx"] = v
	}
	if v, ok := version(ctx, l.ApacheBinary, "-v", `Apache/(\d+\.\d+\.\d+)`); ok {
		h.Installed = append(h.Installed, "apache")
		h.Versions["apache"] = v
	}
	return h, nil
}

func version(ctx context.Context, bin, flag, pattern string) (string, bool) {
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
	m := regexp.MustCompile(pattern).FindSubmatch(out)
	if m == nil {
		return "", false
	}
	return string(m[1]), true
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
