package host

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fakeRoot builds a fake filesystem root from path → content; a content
// starting with "->" makes a symlink.
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(c, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func osRelease(id, like, ver string) string {
	return "NAME=\"x\"\nID=" + id + "\nID_LIKE=\"" + like + "\"\nVERSION_ID=\"" + ver + "\"\nPRETTY_NAME=\"" + id + " " + ver + "\"\n"
}

func TestLayoutFor(t *testing.T) {
	tests := []struct {
		id, like string
		want     string // platform, or "" for unsupported
	}{
		{"debian", "", "debian"},
		{"ubuntu", "debian", "debian"},
		{"linuxmint", "ubuntu debian", "debian"},
		{"raspbian", "debian", "debian"},
		{"rhel", "fedora", "rhel"},
		{"rocky", "rhel centos fedora", "rhel"},
		{"almalinux", "rhel centos fedora", "rhel"},
		{"centos", "rhel fedora", "rhel"},
		{"fedora", "", "rhel"},
		{"ol", "fedora", "rhel"},
		{"amzn", "centos rhel fedora", "rhel"},
		{"arch", "", ""},
		{"alpine", "", ""},
		{"opensuse-leap", "suse opensuse", ""},
	}
	for _, tt := range tests {
		l, err := LayoutFor(OSRelease{ID: tt.id, IDLike: tt.like, PrettyName: tt.id}, "/x")
		if tt.want == "" {
			if err == nil || !strings.Contains(err.Error(), "unsupported platform \""+tt.id+"\"") ||
				!strings.Contains(err.Error(), "Debian/Ubuntu") || !strings.Contains(err.Error(), "RHEL family") {
				t.Errorf("%s: err = %v, want unsupported naming the supported platforms", tt.id, err)
			}
			continue
		}
		if err != nil || l.Platform != tt.want || l.Root != "/x" {
			t.Errorf("%s (like %q): platform %q root %q err %v, want %s", tt.id, tt.like, l.Platform, l.Root, err, tt.want)
		}
	}
}

// TestLayouts pins every path, service, package and command of both
// platform layouts under a fake root.
func TestLayouts(t *testing.T) {
	root := "/fake"
	d, r := Debian(root), RHEL(root)
	check := func(name, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// Debian / Ubuntu
	check("debian nginx main", d.NginxMain, "/fake/etc/nginx/nginx.conf")
	check("debian nginx available", d.NginxAvailable, "/fake/etc/nginx/sites-available")
	check("debian nginx enabled", d.NginxEnabled, "/fake/etc/nginx/sites-enabled")
	check("debian nginx conf.d", d.NginxConfD, "/fake/etc/nginx/conf.d")
	check("debian apachectl", d.ApacheCtl, "/usr/sbin/apache2ctl")
	check("debian apache main", d.ApacheMain, "/fake/etc/apache2/apache2.conf")
	check("debian apache available", d.ApacheAvailable, "/fake/etc/apache2/sites-available")
	check("debian apache enabled", d.ApacheEnabled, "/fake/etc/apache2/sites-enabled")
	check("debian mods-available", d.ApacheModsAvail, "/fake/etc/apache2/mods-available")
	check("debian mods-enabled", d.ApacheModsEnable, "/fake/etc/apache2/mods-enabled")
	check("debian module conf", d.ApacheModuleConf, "")
	check("debian wstunnel .so", d.ApacheModuleFile("proxy_wstunnel"), "/fake/usr/lib/apache2/modules/mod_proxy_wstunnel.so")
	check("debian ssl package", d.ApacheModulePackage("ssl"), "apache2")
	check("debian apache pid", d.ApachePIDFile, "/fake/run/apache2/apache2.pid")
	eq := func(name string, got, want []string) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	eq("debian install", d.InstallCommand("nginx"), []string{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y",
		"--no-install-recommends", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold", "nginx"})
	eq("debian remove", d.RemoveCommand("nginx"), []string{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "remove", "-y", "nginx"})
	eq("debian refresh", d.RefreshCommand(), []string{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "update"})

	// RHEL family
	check("rhel nginx main", r.NginxMain, "/fake/etc/nginx/nginx.conf")
	check("rhel nginx available", r.NginxAvailable, "/fake/etc/nginx/conf.d")
	check("rhel nginx enabled", r.NginxEnabled, "/fake/etc/nginx/conf.d")
	check("rhel apachectl", r.ApacheCtl, "/usr/sbin/apachectl")
	check("rhel apache main", r.ApacheMain, "/fake/etc/httpd/conf/httpd.conf")
	check("rhel apache available", r.ApacheAvailable, "/fake/etc/httpd/conf.d")
	check("rhel apache enabled", r.ApacheEnabled, "/fake/etc/httpd/conf.d")
	check("rhel mods-available", r.ApacheModsAvail, "")
	check("rhel conf.modules.d", r.ApacheModulesD, "/fake/etc/httpd/conf.modules.d")
	check("rhel module conf", r.ApacheModuleConf, "/fake/etc/httpd/conf.modules.d/90-rpwizard.conf")
	check("rhel wstunnel .so", r.ApacheModuleFile("proxy_wstunnel"), "/fake/usr/lib64/httpd/modules/mod_proxy_wstunnel.so")
	check("rhel LoadModule", r.ApacheLoadModule("proxy_wstunnel"), "LoadModule proxy_wstunnel_module modules/mod_proxy_wstunnel.so")
	check("rhel ssl package", r.ApacheModulePackage("ssl"), "mod_ssl")
	check("rhel http2 package", r.ApacheModulePackage("http2"), "mod_http2")
	check("rhel proxy package", r.ApacheModulePackage("proxy"), "httpd")
	check("rhel apache pid", r.ApachePIDFile, "/fake/run/httpd/httpd.pid")
	eq("rhel install", r.InstallCommand("httpd", "mod_ssl"), []string{"dnf", "install", "-y", "httpd", "mod_ssl"})
	eq("rhel remove", r.RemoveCommand("nginx"), []string{"dnf", "remove", "-y", "nginx"})
	if r.RefreshCommand() != nil {
		t.Errorf("rhel refresh = %q, want none (dnf fetches metadata itself)", r.RefreshCommand())
	}
	// Shared rpwizard paths.
	for _, l := range []Layout{d, r} {
		check(l.Platform+" state", l.StateDir, "/fake/var/lib/rpwizard")
		check(l.Platform+" config", l.ConfigDir, "/fake/etc/rpwizard")
		check(l.Platform+" webroot", l.Webroot, "/fake/var/lib/rpwizard/acme-webroot")
	}
}

func TestDetectFakeRoot(t *testing.T) {
	ctx := context.Background()
	t.Run("debian with nginx and apache", func(t *testing.T) {
		root := fakeRoot(t, map[string]string{
			"etc/os-release":           osRelease("debian", "", "12"),
			"usr/sbin/nginx":           "nginx version: nginx/1.22.1\n",
			"usr/sbin/apache2":         "Server version: Apache/2.4.62 (Debian)\nServer built: 2024\n",
			"run/systemd/system/.keep": "",
		})
		h, err := Detect(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		if h.Layout.Platform != "debian" || !h.Systemd || !h.Fake() || h.Run != nil {
			t.Errorf("platform %q systemd %v fake %v run %v", h.Layout.Platform, h.Systemd, h.Fake(), h.Run != nil)
		}
		if !reflect.DeepEqual(h.Installed, []string{"nginx", "apache"}) {
			t.Errorf("installed %q", h.Installed)
		}
		if h.Versions["nginx"] != "1.22.1" || h.Versions["apache"] != "2.4.62" {
			t.Errorf("versions %v", h.Versions)
		}
		if h.SELinux.Enabled {
			t.Error("SELinux enabled without selinuxfs")
		}
	})
	t.Run("rocky with httpd only, SELinux enforcing", func(t *testing.T) {
		root := fakeRoot(t, map[string]string{
			"etc/os-release":         osRelease("rocky", "rhel centos fedora", "9.4"),
			"usr/sbin/httpd":         "Server version: Apache/2.4.57 (Rocky Linux)\n",
			"sys/fs/selinux/enforce": "1",
			"sys/fs/selinux/booleans/httpd_can_network_connect": "0 0",
			"sys/fs/selinux/booleans/httpd_can_network_relay":   "1 1",
			"var/lib/selinux/targeted/active/ports.local":       "portcon tcp 8000 system_u:object_r:http_port_t:s0\nportcon tcp 9100-9110 system_u:object_r:http_port_t:s0\n",
			"etc/httpd/conf.modules.d/00-base.conf":             "LoadModule alias_module modules/mod_alias.so\n#LoadModule rewrite_module modules/mod_rewrite.so\n",
			"etc/httpd/conf.modules.d/00-proxy.conf":            "LoadModule proxy_module modules/mod_proxy.so\nLoadModule proxy_wstunnel_module modules/mod_proxy_wstunnel.so\n",
			"usr/lib64/httpd/modules/mod_proxy_wstunnel.so":     "",
		})
		h, err := Detect(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		if h.Layout.Platform != "rhel" || h.Systemd {
			t.Errorf("platform %q systemd %v", h.Layout.Platform, h.Systemd)
		}
		if !reflect.DeepEqual(h.Installed, []string{"apache"}) || h.Versions["apache"] != "2.4.57" || !h.Has("apache") || h.Has("nginx") {
			t.Errorf("installed %q versions %v", h.Installed, h.Versions)
		}
		s := h.SELinux
		if !s.Enabled || !s.Enforcing || s.Booleans["httpd_can_network_connect"] || !s.Booleans["httpd_can_network_relay"] {
			t.Errorf("selinux %+v", s)
		}
		if got := h.PortTypes(ctx, 8000); !reflect.DeepEqual(got, []string{"http_port_t", "soundd_port_t"}) {
			t.Errorf("port 8000 types %q", got)
		}
		if got := h.PortTypes(ctx, 9105); !reflect.DeepEqual(got, []string{"http_port_t"}) {
			t.Errorf("port 9105 types %q", got)
		}
		if got := h.PortTypes(ctx, 8080); !reflect.DeepEqual(got, []string{"http_cache_port_t"}) {
			t.Errorf("port 8080 types %q", got)
		}
		if got := h.PortTypes(ctx, 5555); got != nil {
			t.Errorf("port 5555 types %q", got)
		}
		loaded := h.Layout.ApacheLoaded()
		if !loaded["alias"] || !loaded["proxy"] || !loaded["proxy_wstunnel"] || loaded["rewrite"] {
			t.Errorf("loaded %v", loaded)
		}
		if without := h.Layout.ApacheLoadedWithout(filepath.Join(root, "etc/httpd/conf.modules.d/00-proxy.conf")); without["proxy"] || !without["alias"] {
			t.Errorf("loaded without 00-proxy.conf: %v", without)
		}
		if !h.Layout.ApacheAvailableModule("proxy_wstunnel") || h.Layout.ApacheAvailableModule("ssl") {
			t.Error("module availability from the .so files")
		}
	})
	t.Run("no server, version unreadable", func(t *testing.T) {
		root := fakeRoot(t, map[string]string{
			"etc/os-release": osRelease("ubuntu", "debian", "24.04"),
			"usr/sbin/nginx": "\x7fELF",
		})
		h, err := Detect(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(h.Installed, []string{"nginx"}) || h.Versions["nginx"] != "" {
			t.Errorf("installed %q versions %v", h.Installed, h.Versions)
		}
	})
	t.Run("unsupported", func(t *testing.T) {
		root := fakeRoot(t, map[string]string{"etc/os-release": osRelease("alpine", "", "3.20")})
		if _, err := Detect(ctx, root); err == nil || !strings.Contains(err.Error(), "unsupported platform") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no os-release", func(t *testing.T) {
		if _, err := Detect(ctx, t.TempDir()); err == nil || !strings.Contains(err.Error(), "os-release") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestDebianModulesLoaded(t *testing.T) {
	root := fakeRoot(t, map[string]string{
		"etc/apache2/mods-available/proxy.load": "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so\n",
		"etc/apache2/mods-available/ssl.load":   "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n",
		"etc/apache2/mods-enabled/proxy.load":   "->../mods-available/proxy.load",
		"etc/apache2/mods-enabled/headers.load": "->../mods-available/headers.load", // dangling
	})
	l := Debian(root)
	loaded := l.ApacheLoaded()
	if !loaded["proxy"] || loaded["headers"] || loaded["ssl"] {
		t.Errorf("loaded %v", loaded)
	}
	if !l.ApacheAvailableModule("ssl") || l.ApacheAvailableModule("headers") {
		t.Error("availability from mods-available")
	}
}

func TestParsers(t *testing.T) {
	if got := ParseAptCandidate([]byte("nginx:\n  Installed: (none)\n  Candidate: 1.22.1-9+deb12u1\n  Version table:\n")); got != "1.22.1" {
		t.Errorf("apt candidate %q", got)
	}
	if got := ParseAptCandidate([]byte("apache2:\n  Installed: (none)\n  Candidate: (none)\n")); got != "" {
		t.Errorf("apt no candidate %q", got)
	}
	for in, want := range map[string]string{"1:2.4.52-1ubuntu4.6": "2.4.52", "1.26.2": "1.26.2", "2.4.57-11.el9_4": "2.4.57", "x": ""} {
		if got := UpstreamVersion(in); got != want {
			t.Errorf("UpstreamVersion(%q) = %q, want %q", in, got, want)
		}
	}
	ports := ParseSemanagePorts([]byte("SELinux Port Type              Proto    Port Number\n\nhttp_port_t                    tcp      8000, 80, 81, 443\nhttp_port_t                    udp      80\nhttp_cache_port_t              tcp      8080, 10001-10010\n"))
	if !reflect.DeepEqual(ports["http_port_t"], []PortRange{{8000, 8000}, {80, 80}, {81, 81}, {443, 443}}) ||
		!reflect.DeepEqual(ports["http_cache_port_t"], []PortRange{{8080, 8080}, {10001, 10010}}) {
		t.Errorf("semanage ports %v", ports)
	}
	h := &Host{Layout: RHEL("/"), SELinux: SELinux{Enabled: true}, Run: func(ctx context.Context, argv ...string) ([]byte, error) {
		return []byte("http_port_t tcp 80, 443, 8000\nsoundd_port_t tcp 8000, 9433\n"), nil
	}}
	if got := h.PortTypes(context.Background(), 8000); !reflect.DeepEqual(got, []string{"http_port_t", "soundd_port_t"}) {
		t.Errorf("port types from semanage %q", got)
	}
	osr := ParseOSRelease([]byte("# comment\nID=Rocky\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n"))
	if osr.ID != "rocky" || osr.IDLike != "rhel centos fedora" || osr.VersionID != "9.4" {
		t.Errorf("os-release %+v", osr)
	}
	for _, tt := range []struct {
		v, min string
		want   bool
	}{{"2.4.47", "2.4.47", true}, {"2.4.46", "2.4.47", false}, {"2.5", "2.4.47", true}, {"1.25.1", "1.25.1", true}, {"1.24.0", "1.25.1", false}, {"", "1.25.1", false}} {
		if got := AtLeast(tt.v, tt.min); got != tt.want {
			t.Errorf("AtLeast(%q, %q) = %v", tt.v, tt.min, got)
		}
	}
}
