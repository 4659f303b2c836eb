package preflight

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
)

const (
	debian12 = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"
	rocky9   = "PRETTY_NAME=\"Rocky Linux 9.4 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n"
)

// writeTree creates files under root (content "->X" makes a symlink to X).
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
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
}

// fakeHost detects a fake root made of files.
func fakeHost(t *testing.T, files map[string]string) *host.Host {
	t.Helper()
	root := t.TempDir()
	writeTree(t, root, files)
	h, err := host.Detect(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Files of fake hosts.
var (
	debianNginx = map[string]string{
		"etc/os-release":                    debian12,
		"usr/sbin/nginx":                    "nginx version: nginx/1.22.1\n",
		"etc/nginx/nginx.conf":              "user www-data;\nworker_processes auto;\npid /run/nginx.pid;\n\nevents {\n\tworker_connections 768;\n\t# multi_accept on;\n}\n\nhttp {\n\tinclude /etc/nginx/conf.d/*.conf;\n\tinclude /etc/nginx/sites-enabled/*;\n}\n",
		"etc/nginx/sites-available/default": "server {\n\tlisten 80 default_server;\n\tserver_name _;\n}\n",
		"etc/nginx/sites-enabled/default":   "->/etc/nginx/sites-available/default",
		"var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4": "",
	}
	rockyHttpd = map[string]string{
		"etc/os-release":                         rocky9,
		"usr/sbin/httpd":                         "Server version: Apache/2.4.57 (Rocky Linux)\n",
		"etc/httpd/conf/httpd.conf":              "ServerRoot \"/etc/httpd\"\nListen 80\nInclude conf.modules.d/*.conf\nIncludeOptional conf.d/*.conf\n",
		"etc/httpd/conf.modules.d/00-base.conf":  "LoadModule alias_module modules/mod_alias.so\nLoadModule headers_module modules/mod_headers.so\nLoadModule rewrite_module modules/mod_rewrite.so\nLoadModule socache_shmcb_module modules/mod_socache_shmcb.so\n",
		"etc/httpd/conf.modules.d/00-proxy.conf": "LoadModule proxy_module modules/mod_proxy.so\nLoadModule proxy_http_module modules/mod_proxy_http.so\nLoadModule proxy_wstunnel_module modules/mod_proxy_wstunnel.so\n",
	}
)

// with returns files plus more (more wins).
func with(files map[string]string, more map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		out[k] = v
	}
	for k, v := range more {
		if v == "" && strings.HasPrefix(k, "-") {
			delete(out, strings.TrimPrefix(k, "-"))
			continue
		}
		out[k] = v
	}
	return out
}

// without drops paths from files.
func without(files map[string]string, paths ...string) map[string]string {
	out := with(files, nil)
	for _, p := range paths {
		delete(out, p)
	}
	return out
}

// newInput builds the input of the checks for a fake host and answers
// (server and domain given; edit adjusts them before validation).
func newInput(t *testing.T, h *host.Host, server string, edit func(a *answers.Answers)) *Input {
	t.Helper()
	a := &answers.Answers{App: "jatos", Server: server, Domain: "jatos.example.org", TLS: answers.TLS{Mode: "self-signed"}}
	if edit != nil {
		edit(a)
	}
	if err := a.Validate(h.Installed); err != nil {
		t.Fatal(err)
	}
	return &Input{Answers: a, Host: h, Euid: 0, NumCPU: 2,
		ApacheModules: []string{"socache_shmcb", "ssl", "proxy", "proxy_http", "proxy_wstunnel", "rewrite", "headers", "http2", "alias"}}
}

// only returns the findings of one check.
func only(t *testing.T, fs []Finding) Finding {
	t.Helper()
	if len(fs) != 1 {
		t.Fatalf("want 1 finding, got %d: %v", len(fs), fs)
	}
	return fs[0]
}

// expect compares a finding's severity, message and fix.
func expect(t *testing.T, f Finding, sev Severity, msg, fix string) {
	t.Helper()
	if f.Severity != sev {
		t.Errorf("severity %s, want %s (%s)", f.Severity, sev, f.Msg)
	}
	if f.Msg != msg {
		t.Errorf("msg\n got: %s\nwant: %s", f.Msg, msg)
	}
	if f.Fix != fix {
		t.Errorf("fix\n got: %s\nwant: %s", f.Fix, fix)
	}
}

// argvs lists the commands of the fixes (and their Undo) as strings, the
// way the preflight step plans them on layout l.
func argvs(f Finding, l host.Layout) []string {
	var out []string
	add := func(argv, undo []string) {
		s := strings.Join(argv, " ")
		if len(undo) > 0 {
			s += " | undo: " + strings.Join(undo, " ")
		}
		out = append(out, s)
	}
	for _, x := range f.Fixes {
		switch {
		case x.Install != nil:
			if x.Refresh {
				add(l.RefreshCommand(), nil)
			}
			undo := l.RemoveCommand(x.Install...)
			if x.Keep {
				undo = nil
			}
			add(l.InstallCommand(x.Install...), undo)
		case x.Argv != nil:
			add(x.Argv, x.Undo)
		}
	}
	return out
}
