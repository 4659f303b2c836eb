package host

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Layout is where one platform keeps things. All paths include Root;
// binaries (NginxBinary, ApacheBinary, ApacheCtl) are the paths that are
// executed on a real host.
type Layout struct {
	Platform string // "debian" or "rhel"
	Root     string // "/" on a real host; a temp dir in layout tests

	PackageManager []string // e.g. ["apt-get", "install", "-y"]
	// PackageRemove removes packages (the undo of an install).
	PackageRemove []string
	// PackageRefresh fetches the package lists (nil where the package
	// manager does it by itself).
	PackageRefresh []string
	// PackageEnv is set in front of package commands (through env(1)).
	PackageEnv []string
	// PackageLists holds the downloaded package lists ("" if none needed).
	PackageLists string

	NginxPackage   string
	NginxBinary    string
	NginxMain      string // main config file
	NginxConfD     string // included inside http {}
	NginxAvailable string // site files; equal to NginxEnabled where sites are not linked
	NginxEnabled   string
	NginxPIDFile   string
	NginxService   string
	NginxLogDir    string

	ApachePackage    string
	ApacheBinary     string // apache2 / httpd
	ApacheCtl        string // apache2ctl / apachectl
	ApacheMain       string
	ApacheAvailable  string
	ApacheEnabled    string
	ApacheConfD      string // other included *.conf files (Debian conf-enabled, RHEL conf.d)
	ApacheModsAvail  string // Debian: mods-available; "" where modules are loaded by conf.modules.d
	ApacheModsEnable string
	ApacheModulesDir string // *.so files
	ApacheModulesD   string // RHEL: conf.modules.d, the LoadModule files
	ApacheModuleConf string // RHEL: file rpwizard writes its LoadModule lines to
	ApachePIDFile    string
	ApacheService    string
	ApacheLogDir     string
	ApacheSSLPackage string // RHEL: mod_ssl
	// ApacheModulePackages names the package of a module that is not in
	// ApachePackage (RHEL: ssl → mod_ssl, http2 → mod_http2).
	ApacheModulePackages map[string]string

	ConfigDir string // /etc/rpwizard: certificates, ACME accounts, saved answers
	StateDir  string // /var/lib/rpwizard: backups, journal, lock
	Webroot   string // ACME HTTP-01 webroot served on port 80
	RunDir    string // /run/rpwizard: the self-test probe socket

	SystemdUnitDir string
	CronDir        string
}

// Platform is one supported family of distributions: which os-release IDs
// it covers and its layout. Adding a platform is one entry here plus its
// layout function.
type Platform struct {
	Name   string
	Title  string
	IDs    []string // os-release ID / ID_LIKE values
	Layout func(root string) Layout
}

// Platforms are the supported platforms, in the order LayoutFor tries them.
var Platforms = []Platform{
	{Name: "debian", Title: "Debian/Ubuntu", IDs: []string{"debian", "ubuntu"}, Layout: Debian},
	{Name: "rhel", Title: "RHEL family (RHEL, Rocky, Alma, CentOS Stream, Fedora)",
		IDs: []string{"rhel", "centos", "fedora", "rocky", "almalinux", "ol"}, Layout: RHEL},
}

// Debian returns the Debian/Ubuntu layout under root.
func Debian(root string) Layout {
	j := func(p string) string { return filepath.Join(root, p) }
	return Layout{
		Platform:       "debian",
		Root:           root,
		PackageManager: []string{"apt-get", "install", "-y", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"},
		PackageRemove:  []string{"apt-get", "remove", "-y"},
		PackageRefresh: []string{"apt-get", "update"},
		PackageEnv:     []string{"DEBIAN_FRONTEND=noninteractive"},
		PackageLists:   j("/var/lib/apt/lists"),
		NginxPackage:   "nginx", NginxBinary: "/usr/sbin/nginx",
		NginxMain: j("/etc/nginx/nginx.conf"), NginxConfD: j("/etc/nginx/conf.d"),
		NginxAvailable: j("/etc/nginx/sites-available"), NginxEnabled: j("/etc/nginx/sites-enabled"),
		NginxPIDFile: j("/run/nginx.pid"), NginxService: "nginx", NginxLogDir: j("/var/log/nginx"),
		ApachePackage: "apache2", ApacheBinary: "/usr/sbin/apache2", ApacheCtl: "/usr/sbin/apache2ctl",
		ApacheMain: j("/etc/apache2/apache2.conf"), ApacheAvailable: j("/etc/apache2/sites-available"),
		ApacheEnabled: j("/etc/apache2/sites-enabled"), ApacheConfD: j("/etc/apache2/conf-enabled"),
		ApacheModsAvail:  j("/etc/apache2/mods-available"),
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
		PackageRemove:  []string{"dnf", "remove", "-y"},
		NginxPackage:   "nginx", NginxBinary: "/usr/sbin/nginx",
		NginxMain: j("/etc/nginx/nginx.conf"), NginxConfD: j("/etc/nginx/conf.d"),
		NginxAvailable: j("/etc/nginx/conf.d"), NginxEnabled: j("/etc/nginx/conf.d"),
		NginxPIDFile: j("/run/nginx.pid"), NginxService: "nginx", NginxLogDir: j("/var/log/nginx"),
		ApachePackage: "httpd", ApacheBinary: "/usr/sbin/httpd", ApacheCtl: "/usr/sbin/apachectl",
		ApacheMain: j("/etc/httpd/conf/httpd.conf"), ApacheAvailable: j("/etc/httpd/conf.d"),
		ApacheEnabled: j("/etc/httpd/conf.d"), ApacheConfD: j("/etc/httpd/conf.d"),
		ApacheModulesDir: j("/usr/lib64/httpd/modules"), ApacheModulesD: j("/etc/httpd/conf.modules.d"),
		ApacheModuleConf: j("/etc/httpd/conf.modules.d/90-rpwizard.conf"),
		ApachePIDFile:    j("/run/httpd/httpd.pid"), ApacheService: "httpd", ApacheLogDir: j("/var/log/httpd"),
		ApacheSSLPackage:     "mod_ssl",
		ApacheModulePackages: map[string]string{"ssl": "mod_ssl", "http2": "mod_http2"},
		ConfigDir:            j("/etc/rpwizard"), StateDir: j("/var/lib/rpwizard"), Webroot: j("/var/lib/rpwizard/acme-webroot"),
		RunDir: j("/run/rpwizard"), SystemdUnitDir: j("/etc/systemd/system"), CronDir: j("/etc/cron.d"),
	}
}

// withEnv puts the package environment in front of argv (through env(1):
// Run changes never go through a shell).
func (l Layout) withEnv(argv []string) []string {
	if len(l.PackageEnv) == 0 {
		return argv
	}
	return append(append([]string{"env"}, l.PackageEnv...), argv...)
}

// InstallCommand is the command line that installs pkgs.
func (l Layout) InstallCommand(pkgs ...string) []string {
	return l.withEnv(append(append([]string{}, l.PackageManager...), pkgs...))
}

// RemoveCommand is the command line that removes pkgs (the undo of
// InstallCommand).
func (l Layout) RemoveCommand(pkgs ...string) []string {
	return l.withEnv(append(append([]string{}, l.PackageRemove...), pkgs...))
}

// RefreshCommand is the command line that fetches the package lists, or
// nil where the package manager needs none.
func (l Layout) RefreshCommand() []string {
	if len(l.PackageRefresh) == 0 {
		return nil
	}
	return l.withEnv(append([]string{}, l.PackageRefresh...))
}

// ApacheModuleFile is the shared object of an Apache module
// ("proxy_wstunnel" → …/modules/mod_proxy_wstunnel.so).
func (l Layout) ApacheModuleFile(mod string) string {
	return filepath.Join(l.ApacheModulesDir, "mod_"+mod+".so")
}

// ApacheLoadModule is the LoadModule line of a module, as the RHEL family
// writes it in conf.modules.d (relative to ServerRoot /etc/httpd).
func (l Layout) ApacheLoadModule(mod string) string {
	return fmt.Sprintf("LoadModule %s_module modules/mod_%s.so", mod, mod)
}

// ApacheModulePackage is the package that ships a module.
func (l Layout) ApacheModulePackage(mod string) string {
	if p := l.ApacheModulePackages[mod]; p != "" {
		return p
	}
	return l.ApachePackage
}

// LayoutFor picks the layout of a distribution, or an error naming the
// supported ones. ID decides first, then each ID_LIKE in order.
func LayoutFor(r OSRelease, root string) (Layout, error) {
	if p, ok := PlatformFor(r); ok {
		return p.Layout(root), nil
	}
	var names []string
	for _, p := range Platforms {
		names = append(names, p.Title)
	}
	return Layout{}, fmt.Errorf("unsupported platform %q (%s): rpwizard knows %s", r.ID, r.PrettyName, strings.Join(names, " and "))
}

// PlatformFor finds the platform of a distribution.
func PlatformFor(r OSRelease) (Platform, bool) {
	ids := append([]string{r.ID}, strings.Fields(r.IDLike)...)
	for _, id := range ids {
		for _, p := range Platforms {
			for _, pid := range p.IDs {
				if id == pid {
					return p, true
				}
			}
		}
	}
	return Platform{}, false
}
