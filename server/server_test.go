package server

import (
	"reflect"
	"testing"

	"github.com/rpwizard/rpwizard/host"
)

// TestLayouts: what each server is on each platform, through the seam.
func TestLayouts(t *testing.T) {
	debian := &host.Host{Layout: host.Debian("/fake")}
	rhel := &host.Host{Layout: host.RHEL("/fake")}
	systemd := &host.Host{Layout: host.Debian("/fake"), Systemd: true}
	tests := []struct {
		name     string
		h        *host.Host
		server   string
		binary   string
		service  string
		packages []string
		programs []string
		linked   bool
		site     Site
		cmds     Commands
	}{
		{"debian nginx", debian, "nginx", "/usr/sbin/nginx", "nginx", []string{"nginx"}, []string{"nginx"}, true,
			Site{File: "/fake/etc/nginx/sites-available/rpwizard-a.test.conf", Link: "/fake/etc/nginx/sites-enabled/rpwizard-a.test.conf",
				LinkTarget: "/fake/etc/nginx/sites-available/rpwizard-a.test.conf"},
			Commands{Test: []string{"/usr/sbin/nginx", "-t", "-q"}, Reload: []string{"/usr/sbin/nginx", "-s", "reload"},
				Start: []string{"/usr/sbin/nginx"}, Stop: []string{"/usr/sbin/nginx", "-s", "quit"}}},
		{"debian apache", debian, "apache", "/usr/sbin/apache2", "apache2", []string{"apache2"}, []string{"apache2"}, true,
			Site{File: "/fake/etc/apache2/sites-available/rpwizard-a.test.conf", Link: "/fake/etc/apache2/sites-enabled/rpwizard-a.test.conf",
				LinkTarget: "../sites-available/rpwizard-a.test.conf"},
			Commands{Test: []string{"/usr/sbin/apache2ctl", "configtest"}, Reload: []string{"/usr/sbin/apache2ctl", "graceful"},
				Start: []string{"/usr/sbin/apache2ctl", "start"}, Stop: []string{"/usr/sbin/apache2ctl", "stop"}}},
		{"debian apache, systemd", systemd, "apache", "/usr/sbin/apache2", "apache2", []string{"apache2"}, []string{"apache2"}, true,
			Site{File: "/fake/etc/apache2/sites-available/rpwizard-a.test.conf", Link: "/fake/etc/apache2/sites-enabled/rpwizard-a.test.conf",
				LinkTarget: "../sites-available/rpwizard-a.test.conf"},
			Commands{Test: []string{"/usr/sbin/apache2ctl", "configtest"}, Reload: []string{"systemctl", "reload", "apache2"},
				Start: []string{"systemctl", "start", "apache2"}, Stop: []string{"systemctl", "stop", "apache2"}}},
		{"rhel nginx", rhel, "nginx", "/usr/sbin/nginx", "nginx", []string{"nginx"}, []string{"nginx"}, false,
			Site{File: "/fake/etc/nginx/conf.d/rpwizard-a.test.conf"},
			Commands{Test: []string{"/usr/sbin/nginx", "-t", "-q"}, Reload: []string{"/usr/sbin/nginx", "-s", "reload"},
				Start: []string{"/usr/sbin/nginx"}, Stop: []string{"/usr/sbin/nginx", "-s", "quit"}}},
		{"rhel apache", rhel, "apache", "/usr/sbin/httpd", "httpd", []string{"httpd", "mod_ssl", "mod_http2"}, []string{"httpd"}, false,
			Site{File: "/fake/etc/httpd/conf.d/rpwizard-a.test.conf"},
			Commands{Test: []string{"/usr/sbin/apachectl", "configtest"}, Reload: []string{"/usr/sbin/apachectl", "graceful"},
				Start: []string{"/usr/sbin/apachectl", "start"}, Stop: []string{"/usr/sbin/apachectl", "stop"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Must(tt.h, tt.server)
			p := s.Paths()
			if p.Binary != tt.binary || p.Service != tt.service || p.SitesLinked() != tt.linked {
				t.Errorf("binary %q service %q linked %v, want %q %q %v", p.Binary, p.Service, p.SitesLinked(), tt.binary, tt.service, tt.linked)
			}
			if !reflect.DeepEqual(p.Packages, tt.packages) || !reflect.DeepEqual(p.Programs, tt.programs) {
				t.Errorf("packages %q programs %q, want %q %q", p.Packages, p.Programs, tt.packages, tt.programs)
			}
			if got := s.Site("a.test"); got != tt.site {
				t.Errorf("site %+v, want %+v", got, tt.site)
			}
			if got := s.Commands(); !reflect.DeepEqual(got, tt.cmds) {
				t.Errorf("commands %q, want %q", got, tt.cmds)
			}
			ctl := Controller(s)
			if ctl.Name != tt.server || !reflect.DeepEqual(ctl.TestCommand(), tt.cmds.Test) || ctl.PIDFile != p.PIDFile {
				t.Errorf("controller %+v", ctl)
			}
		})
	}
}

func TestNamesTitlesWorkers(t *testing.T) {
	for _, tt := range []struct{ name, title string }{{"nginx", "nginx"}, {"apache", "Apache"}, {"caddy", "the web server"}} {
		if got := Title(tt.name); got != tt.title {
			t.Errorf("Title(%q) = %q, want %q", tt.name, got, tt.title)
		}
	}
	if _, err := For(nil, "caddy"); err == nil {
		t.Error("For(caddy) did not fail")
	}
	if w := Workers("apache"); !reflect.DeepEqual(w, []string{"www-data", "apache"}) {
		t.Errorf("Workers(apache) = %q", w)
	}
	if _, ok := Must(&host.Host{Layout: host.Debian("/")}, "apache").(Modular); !ok {
		t.Error("Apache is not Modular")
	}
	if _, ok := Must(&host.Host{Layout: host.Debian("/")}, "nginx").(Modular); ok {
		t.Error("nginx is Modular")
	}
}

func TestJudgeVersion(t *testing.T) {
	h := &host.Host{Layout: host.Debian("/")}
	for _, tt := range []struct {
		server, v string
		ok        bool
	}{{"nginx", "1.14.2", false}, {"nginx", "1.22.1", true}, {"nginx", "1.26.3", true}, {"apache", "2.2.34", false}, {"apache", "2.4.41", false}, {"apache", "2.4.62", true}} {
		if got := Must(h, tt.server).JudgeVersion(tt.v, "debian"); got.OK != tt.ok {
			t.Errorf("%s %s: %+v, want OK %v", tt.server, tt.v, got, tt.ok)
		}
	}
}
