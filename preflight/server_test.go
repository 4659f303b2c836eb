package preflight

import (
	"context"
	"reflect"
	"testing"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/server"
)

var ctx = context.Background()

func TestCheckRoot(t *testing.T) {
	fake := fakeHost(t, debianNginx)
	real := &host.Host{Layout: host.Debian("/")}
	tests := []struct {
		name     string
		h        *host.Host
		euid     int
		sev      Severity
		msg, fix string
	}{
		{"fake root", fake, 1000, Skip, "not checked on a fake root", ""},
		{"root", real, 0, OK, "running as root", ""},
		{"not root", real, 1000, Warn, "not running as root: the plan can be shown, but applying it needs root, and the programs holding ports cannot always be named",
			"run it with sudo: sudo rpwizard --answers FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, only(t, checkRoot(ctx, &Input{Host: tt.h, Euid: tt.euid})), tt.sev, tt.msg, tt.fix)
		})
	}
}

func TestCheckPlatform(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		server   string
		edit     func(h *host.Host)
		sev      Severity
		msg, fix string
	}{
		{"debian nginx", debianNginx, "nginx", nil, OK,
			"Debian GNU/Linux 12 (bookworm): debian layout (apt-get; sites-available → sites-enabled; service nginx); no systemd: the server is controlled by its own commands", ""},
		{"debian apache with systemd", with(debianNginx, map[string]string{"run/systemd/system/x": ""}), "apache", nil, OK,
			"Debian GNU/Linux 12 (bookworm): debian layout (apt-get; sites-available → sites-enabled, a2enmod; service apache2)", ""},
		{"rocky httpd", with(rockyHttpd, map[string]string{"run/systemd/system/x": ""}), "apache", nil, OK,
			"Rocky Linux 9.4 (Blue Onyx): rhel layout (dnf; /etc/httpd/conf.d, modules in /etc/httpd/conf.modules.d; service httpd); supported, but rpwizard's integration tests run on Debian 12 and 13 only: read the --dry-run plan before applying", ""},
		{"rocky nginx", with(rockyHttpd, map[string]string{"run/systemd/system/x": "", "usr/sbin/nginx": "nginx version: nginx/1.20.1"}), "nginx", nil, OK,
			"Rocky Linux 9.4 (Blue Onyx): rhel layout (dnf; /etc/nginx/conf.d; service nginx); supported, but rpwizard's integration tests run on Debian 12 and 13 only: read the --dry-run plan before applying", ""},
		{"old debian", with(debianNginx, map[string]string{"etc/os-release": "PRETTY_NAME=\"Debian GNU/Linux 10 (buster)\"\nID=debian\nVERSION_ID=\"10\"\n"}), "nginx", nil, Warn,
			"Debian GNU/Linux 10 (buster) is older than the releases rpwizard supports (Debian 11+, Ubuntu 20.04+, RHEL/Rocky/Alma 8+, Fedora 38+)",
			"upgrade the system, or read the --dry-run plan carefully before applying it"},
		{"unsupported", debianNginx, "nginx", func(h *host.Host) {
			h.OS = host.OSRelease{ID: "alpine", PrettyName: "Alpine Linux v3.20"}
			h.Layout.Platform = ""
		}, Block, `unsupported platform "alpine" (Alpine Linux v3.20)`,
			"rpwizard knows Debian/Ubuntu and RHEL family (RHEL, Rocky, Alma, CentOS Stream, Fedora); on another system, write the proxy config by hand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fakeHost(t, tt.files)
			in := newInput(t, h, tt.server, nil)
			if tt.edit != nil {
				tt.edit(h)
			}
			expect(t, only(t, checkPlatform(ctx, in)), tt.sev, tt.msg, tt.fix)
		})
	}
}

func TestCheckServer(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		server   string
		consent  bool
		sev      Severity
		msg, fix string
		runs     []string
		installs []string
	}{
		{"installed", debianNginx, "nginx", false, OK, "nginx 1.22.1 is installed (/usr/sbin/nginx)", "", nil, nil},
		{"missing, no consent", debianNginx, "apache", false, Block, "Apache is not installed (/usr/sbin/apache2 not found)",
			"install it: apt-get install apache2 — or let rpwizard install it: install_missing: true in the answers (or --install-missing)", nil, nil},
		{"missing, consent", debianNginx, "apache", true, OK, "Apache is not installed: rpwizard installs apache2 (install_missing)", "",
			[]string{"env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold apache2 | undo: env DEBIAN_FRONTEND=noninteractive apt-get remove -y apache2"},
			[]string{"apache"}},
		{"missing, consent, no package lists", without(debianNginx, "usr/sbin/nginx", "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4"), "nginx", true, OK,
			"nginx is not installed: rpwizard installs nginx (install_missing)", "",
			[]string{"env DEBIAN_FRONTEND=noninteractive apt-get update",
				"env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold nginx | undo: env DEBIAN_FRONTEND=noninteractive apt-get remove -y nginx"},
			[]string{"nginx"}},
		{"rhel nginx missing, no consent", rockyHttpd, "nginx", false, Block, "nginx is not installed (/usr/sbin/nginx not found)",
			"install it: dnf install nginx — or let rpwizard install it: install_missing: true in the answers (or --install-missing)", nil, nil},
		{"rhel apache missing, consent", without(rockyHttpd, "usr/sbin/httpd"), "apache", true, OK,
			"Apache is not installed: rpwizard installs httpd mod_ssl mod_http2 (install_missing)", "",
			[]string{"dnf install -y httpd mod_ssl mod_http2 | undo: dnf remove -y httpd mod_ssl mod_http2"}, []string{"apache"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fakeHost(t, tt.files)
			in := newInput(t, h, tt.server, func(a *answers.Answers) { a.InstallMissing = tt.consent })
			f := only(t, checkServer(ctx, in))
			expect(t, f, tt.sev, tt.msg, tt.fix)
			if got := argvs(f, in.Host.Layout); !reflect.DeepEqual(got, tt.runs) {
				t.Errorf("runs\n got: %q\nwant: %q", got, tt.runs)
			}
			var installs []string
			for _, x := range f.Fixes {
				if x.Server != "" {
					installs = append(installs, x.Server)
				}
			}
			if !reflect.DeepEqual(installs, tt.installs) {
				t.Errorf("installs %q, want %q", installs, tt.installs)
			}
		})
	}
}

func TestVersionFindings(t *testing.T) {
	tests := []struct {
		server, v, platform string
		sev                 Severity
		msg, fix            string
	}{
		{"nginx", "1.14.1", "rhel", Block, "nginx 1.14.1 is too old for rpwizard's config (it needs 1.15.3 or later: keepalive_requests in upstream blocks)",
			"install a newer nginx module stream: dnf module reset nginx && dnf module enable nginx:1.24 && dnf install nginx"},
		{"nginx", "1.14.2", "debian", Block, "nginx 1.14.2 is too old for rpwizard's config (it needs 1.15.3 or later: keepalive_requests in upstream blocks)",
			"install nginx 1.18 or later"},
		{"nginx", "1.22.1", "debian", OK, "nginx 1.22.1: WebSockets supported; HTTP/2 written as `listen 443 ssl http2` (nginx before 1.25.1)", ""},
		{"nginx", "1.26.2", "rhel", OK, "nginx 1.26.2: WebSockets supported; HTTP/2 written as `http2 on;` (nginx 1.25.1 or later)", ""},
		{"apache", "2.2.34", "rhel", Block, "Apache 2.2.34 cannot proxy WebSockets (Apache 2.4 or later is needed)", "upgrade Apache to 2.4.47 or later, or choose server: nginx"},
		{"apache", "2.4.41", "debian", Block, "Apache 2.4.41 is older than 2.4.47: rpwizard's config proxies WebSockets with `ProxyPass … upgrade=websocket`, which Apache learned in 2.4.47",
			"upgrade Apache to 2.4.47 or later (Ubuntu 20.04 ships 2.4.41: use Ubuntu 22.04 or later), or choose server: nginx"},
		{"apache", "2.4.47", "debian", OK, "Apache 2.4.47: WebSockets through mod_proxy_http (upgrade=websocket)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.server+" "+tt.v, func(t *testing.T) {
			expect(t, only(t, versionFindings(server.Must(&host.Host{Layout: host.Debian("/")}, tt.server), tt.v, "", tt.platform)), tt.sev, tt.msg, tt.fix)
		})
	}
	t.Run("installed version", func(t *testing.T) {
		in := newInput(t, fakeHost(t, debianNginx), "nginx", nil)
		expect(t, only(t, checkVersion(ctx, in)), OK, "nginx 1.22.1: WebSockets supported; HTTP/2 written as `listen 443 ssl http2` (nginx before 1.25.1)", "")
	})
	t.Run("candidate of a missing server", func(t *testing.T) {
		h := fakeHost(t, debianNginx)
		var asked []string
		h.Run = func(ctx context.Context, argv ...string) ([]byte, error) {
			asked = argv
			return []byte("apache2:\n  Installed: (none)\n  Candidate: 2.4.41-4ubuntu3.17\n"), nil
		}
		in := newInput(t, h, "apache", func(a *answers.Answers) { a.InstallMissing = true })
		expect(t, only(t, checkVersion(ctx, in)), Block,
			"Apache 2.4.41 (the version the package manager would install) is older than 2.4.47: rpwizard's config proxies WebSockets with `ProxyPass … upgrade=websocket`, which Apache learned in 2.4.47",
			"upgrade Apache to 2.4.47 or later (Ubuntu 20.04 ships 2.4.41: use Ubuntu 22.04 or later), or choose server: nginx")
		if !reflect.DeepEqual(asked, []string{"apt-cache", "policy", "apache2"}) {
			t.Errorf("asked %q", asked)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		in := newInput(t, fakeHost(t, debianNginx), "apache", func(a *answers.Answers) { a.InstallMissing = true })
		expect(t, only(t, checkVersion(ctx, in)), Skip, "Apache version unknown: not checked", "")
	})
}

func TestCheckModules(t *testing.T) {
	mods := []string{"socache_shmcb", "ssl", "proxy", "proxy_http", "proxy_wstunnel", "rewrite", "headers", "http2", "alias"}
	debianApache := with(debianNginx, map[string]string{"usr/sbin/apache2": "Server version: Apache/2.4.62 (Debian)"})
	for _, m := range mods {
		debianApache["etc/apache2/mods-available/"+m+".load"] = "LoadModule " + m + "_module /usr/lib/apache2/modules/mod_" + m + ".so\n"
	}
	debianApache["etc/apache2/mods-enabled/alias.load"] = "->../mods-available/alias.load"
	rockyAll := with(rockyHttpd, nil)
	for _, m := range mods {
		rockyAll["usr/lib64/httpd/modules/mod_"+m+".so"] = ""
	}
	rockyAll["etc/httpd/conf.modules.d/00-ssl.conf"] = "LoadModule ssl_module modules/mod_ssl.so\n"
	rockyAll["etc/httpd/conf.modules.d/10-h2.conf"] = "LoadModule http2_module modules/mod_http2.so\n"
	tests := []struct {
		name    string
		files   map[string]string
		consent bool
		want    []Finding // Check and Changes ignored
		runs    []string
	}{
		{"debian, to enable", debianApache, false, []Finding{{Severity: OK,
			Msg: "modules to enable (a2enmod): socache_shmcb, ssl, proxy, proxy_http, proxy_wstunnel, rewrite, headers, http2"}}, nil},
		{"debian, broken apache2-bin", without(debianApache, "etc/apache2/mods-available/proxy_wstunnel.load"), true, []Finding{
			{Severity: Block, Msg: "Apache modules proxy_wstunnel are missing from /etc/apache2/mods-available", Fix: "reinstall Apache: apt-get install --reinstall apache2-bin"},
			{Severity: OK, Msg: "modules to enable (a2enmod): socache_shmcb, ssl, proxy, proxy_http, rewrite, headers, http2"}}, nil},
		{"rocky, all loaded", rockyAll, false, []Finding{{Severity: OK,
			Msg: "needed modules are loaded: socache_shmcb, ssl, proxy, proxy_http, proxy_wstunnel, rewrite, headers, http2, alias"}}, nil},
		{"rocky, no mod_ssl, no consent", without(rockyAll, "usr/lib64/httpd/modules/mod_ssl.so", "usr/lib64/httpd/modules/mod_http2.so"), false, []Finding{
			{Severity: Block, Msg: "Apache modules ssl, http2 are not installed",
				Fix: "install them: dnf install mod_ssl mod_http2 — or let rpwizard install them: install_missing: true in the answers (or --install-missing)"},
			{Severity: OK, Msg: "needed modules are loaded: socache_shmcb, proxy, proxy_http, proxy_wstunnel, rewrite, headers, alias"}}, nil},
		{"rocky, no mod_ssl, consent", without(rockyAll, "usr/lib64/httpd/modules/mod_ssl.so", "etc/httpd/conf.modules.d/00-ssl.conf"), true, []Finding{
			{Severity: OK, Msg: "Apache modules ssl are not installed: rpwizard installs mod_ssl (install_missing)"},
			{Severity: OK, Msg: "needed modules are loaded: socache_shmcb, proxy, proxy_http, proxy_wstunnel, rewrite, headers, http2, alias"}},
			[]string{"dnf install -y mod_ssl | undo: dnf remove -y mod_ssl"}},
		{"rocky, no mod_http2", without(rockyAll, "usr/lib64/httpd/modules/mod_http2.so"), false, []Finding{
			{Severity: Warn, Msg: "Apache module http2 is not installed: the site is served over HTTP/1.1 only",
				Fix: "install it: dnf install mod_http2 — or install_missing: true in the answers (or --install-missing)"},
			{Severity: OK, Msg: "needed modules are loaded: socache_shmcb, ssl, proxy, proxy_http, proxy_wstunnel, rewrite, headers, alias"}}, nil},
		{"rocky, rewrite not loaded", with(rockyAll, map[string]string{"etc/httpd/conf.modules.d/00-base.conf": "LoadModule alias_module modules/mod_alias.so\nLoadModule headers_module modules/mod_headers.so\n#LoadModule rewrite_module modules/mod_rewrite.so\nLoadModule socache_shmcb_module modules/mod_socache_shmcb.so\n"}), false, []Finding{
			{Severity: Warn, Msg: "Apache does not load rewrite (/etc/httpd/conf.modules.d)",
				Fix: "add to /etc/httpd/conf.modules.d/90-rpwizard.conf: LoadModule rewrite_module modules/mod_rewrite.so"}}, nil},
		{"apache to be installed", without(rockyAll, "usr/sbin/httpd"), true, []Finding{{Severity: OK, Msg: "modules come with httpd mod_ssl mod_http2"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInput(t, fakeHost(t, tt.files), "apache", func(a *answers.Answers) { a.InstallMissing = tt.consent })
			got := checkModules(ctx, in)
			var runs []string
			for i := range got {
				runs = append(runs, argvs(got[i], in.Host.Layout)...)
				got[i].Fixes = nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("findings\n got: %+v\nwant: %+v", got, tt.want)
			}
			if !reflect.DeepEqual(runs, tt.runs) {
				t.Errorf("runs %q, want %q", runs, tt.runs)
			}
		})
	}
	t.Run("nginx: no module check", func(t *testing.T) {
		if got := checkModules(ctx, newInput(t, fakeHost(t, debianNginx), "nginx", nil)); got != nil {
			t.Errorf("got %v", got)
		}
	})
}
