package steps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/internal/testenv"
)

// Layout tests: a fake root per platform, the whole plan as --dry-run
// prints it. Nothing is run: the fake root is unchanged afterwards.

func writeFiles(t *testing.T, root string, files map[string]string) {
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

// fakeEnv detects a fake root and validates answers against it.
func fakeEnv(t *testing.T, files map[string]string, a *answers.Answers) *Env {
	t.Helper()
	root := t.TempDir()
	writeFiles(t, root, files)
	h, err := host.Detect(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Validate(h.Installed); err != nil {
		t.Fatal(err)
	}
	return NewEnv(a, h)
}

// dryRun plans and renders like `rpwizard --answers FILE --dry-run`, with
// the fake root shown as ROOT.
func dryRun(t *testing.T, e *Env) string {
	t.Helper()
	before := testenv.TreeHash(t, e.Host.Layout.Root)
	p, err := Plan(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if testenv.TreeHash(t, e.Host.Layout.Root) != before {
		t.Fatal("planning changed the fake root")
	}
	return strings.ReplaceAll(p.Render(false), e.Host.Layout.Root, "ROOT")
}

func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			t.Errorf("dry run lacks\n  %s\nin:\n%s", l, out)
		}
	}
}

func noLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if strings.Contains(out, l) {
			t.Errorf("dry run has %q:\n%s", l, out)
		}
	}
}

const (
	debianRelease = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"
	rockyRelease  = "PRETTY_NAME=\"Rocky Linux 9.4 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n"
	aptLists      = "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4"
)

func jatosAnswers(server string) *answers.Answers {
	off := false
	return &answers.Answers{App: "jatos", Server: server, Domain: "jatos.example.org", TLS: answers.TLS{Mode: "self-signed"}, SelfTest: &off}
}

func TestDryRunDebianInstallsNginx(t *testing.T) {
	a := jatosAnswers("nginx")
	a.InstallMissing = true
	e := fakeEnv(t, map[string]string{"etc/os-release": debianRelease, aptLists: ""}, a)
	out := dryRun(t, e)
	wantLines(t, out,
		"== preflight",
		"checked platform: Debian GNU/Linux 12 (bookworm): debian layout (apt-get; sites-available → sites-enabled; service nginx)",
		"checked server: nginx is not installed: rpwizard installs nginx (install_missing)",
		"checked ports: ports 80 and 443 not checked on a fake root",
		"  - run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold nginx  # install nginx (install_missing)",
		"write ROOT/etc/nginx/conf.d/rpwizard.conf (0644)",
		"write ROOT/etc/nginx/sites-available/rpwizard-jatos.example.org.conf (0644)",
		"link ROOT/etc/nginx/sites-enabled/rpwizard-jatos.example.org.conf -> ROOT/etc/nginx/sites-available/rpwizard-jatos.example.org.conf  # enable the site",
		"config test, then reload  # /usr/sbin/nginx -t -q && /usr/sbin/nginx -s reload",
	)
	noLines(t, out, "apt-get update", "== modules")
	if !reflect.DeepEqual(e.Installing, []string{"nginx"}) || !e.WillInstall("nginx") {
		t.Errorf("installing %q", e.Installing)
	}
	// The install comes first in the plan, after the check results.
	p, _ := Plan(context.Background(), e)
	var kinds []installer.Kind
	for _, c := range p.Steps[0].Changes {
		kinds = append(kinds, c.Kind)
	}
	if kinds[len(kinds)-1] != installer.Run || p.Steps[0].Changes[len(kinds)-1].Undo == nil {
		t.Errorf("preflight changes %v: the last one must be the install, with its undo", kinds)
	}
}

func TestDryRunDebianApache(t *testing.T) {
	files := map[string]string{"etc/os-release": debianRelease, aptLists: "", "run/systemd/system/.x": "",
		"usr/sbin/apache2": "Server version: Apache/2.4.62 (Debian)\n", "etc/apache2/apache2.conf": "IncludeOptional sites-enabled/*.conf\n"}
	for _, m := range []string{"socache_shmcb", "ssl", "proxy", "proxy_http", "proxy_wstunnel", "rewrite", "headers", "http2", "alias"} {
		files["etc/apache2/mods-available/"+m+".load"] = "LoadModule " + m + "_module /usr/lib/apache2/modules/mod_" + m + ".so\n"
	}
	files["etc/apache2/mods-enabled/alias.load"] = "->../mods-available/alias.load"
	out := dryRun(t, fakeEnv(t, files, jatosAnswers("apache")))
	wantLines(t, out,
		"checked platform: Debian GNU/Linux 12 (bookworm): debian layout (apt-get; sites-available → sites-enabled, a2enmod; service apache2)",
		"checked server: Apache 2.4.62 is installed (/usr/sbin/apache2)",
		"checked server version: Apache 2.4.62: WebSockets through mod_proxy_http (upgrade=websocket)",
		"checked apache modules: modules to enable (a2enmod): socache_shmcb, ssl, proxy, proxy_http, proxy_wstunnel, rewrite, headers, http2",
		"link ROOT/etc/apache2/mods-enabled/proxy_wstunnel.load -> ../mods-available/proxy_wstunnel.load  # a2enmod proxy_wstunnel",
		"write ROOT/etc/apache2/sites-available/rpwizard-jatos.example.org.conf (0644)",
		"link ROOT/etc/apache2/sites-enabled/rpwizard-jatos.example.org.conf -> ../sites-available/rpwizard-jatos.example.org.conf  # enable the site",
		"config test, then reload  # /usr/sbin/apache2ctl configtest && systemctl reload apache2",
	)
	noLines(t, out, "  - run ", "a2enmod alias")
}

func TestDryRunRHELInstallsHttpd(t *testing.T) {
	a := jatosAnswers("apache")
	a.InstallMissing = true
	e := fakeEnv(t, map[string]string{"etc/os-release": rockyRelease, "run/systemd/system/.x": "",
		"sys/fs/selinux/enforce": "1", "sys/fs/selinux/booleans/httpd_can_network_connect": "0 0", "usr/sbin/semanage": ""}, a)
	out := dryRun(t, e)
	wantLines(t, out,
		"checked platform: Rocky Linux 9.4 (Blue Onyx): rhel layout (dnf; /etc/httpd/conf.d, modules in /etc/httpd/conf.modules.d; service httpd)",
		"checked server: Apache is not installed: rpwizard installs httpd mod_ssl mod_http2 (install_missing)",
		"checked apache modules: modules come with httpd mod_ssl mod_http2",
		"checked selinux: SELinux is enforcing and httpd_can_network_connect is off: rpwizard fixes it (install_missing)",
		"  - run dnf install -y httpd mod_ssl mod_http2  # install httpd mod_ssl mod_http2 (install_missing)",
		"  - run setsebool -P httpd_can_network_connect 1  # let the proxy connect to 127.0.0.1:9000 (SELinux boolean httpd_can_network_connect) (install_missing)",
		"write ROOT/etc/httpd/conf.d/rpwizard-jatos.example.org.conf (0644)",
		"config test, then reload  # /usr/sbin/apachectl configtest && systemctl reload httpd",
	)
	noLines(t, out, "sites-enabled", "mods-enabled", "apt-get", "semanage port") // 9000 is http_port_t
	// Installs run before the SELinux fix.
	if i, j := strings.Index(out, "run dnf install"), strings.Index(out, "run setsebool"); i < 0 || j < i {
		t.Error("the package install must come before setsebool")
	}
}

func TestDryRunRHELNginx(t *testing.T) {
	a := jatosAnswers("nginx")
	a.Upstream = "127.0.0.1:8000"
	a.InstallMissing = true
	out := dryRun(t, fakeEnv(t, map[string]string{"etc/os-release": rockyRelease, "run/systemd/system/.x": "",
		"usr/sbin/nginx": "nginx version: nginx/1.26.3\n", "etc/nginx/nginx.conf": "worker_processes auto;\nevents {\n    worker_connections 1024;\n}\nhttp { include /etc/nginx/conf.d/*.conf; }\n",
		"sys/fs/selinux/enforce": "1", "sys/fs/selinux/booleans/httpd_can_network_connect": "1 1", "usr/sbin/semanage": ""}, a))
	wantLines(t, out,
		"checked platform: Rocky Linux 9.4 (Blue Onyx): rhel layout (dnf; /etc/nginx/conf.d; service nginx)",
		"checked server version: nginx 1.26.3: WebSockets supported; HTTP/2 written as `http2 on;` (nginx 1.25.1 or later)",
		"  - run semanage port -m -t http_port_t -p tcp 8000  # label the upstream port 8000 http_port_t (install_missing)",
		"write ROOT/etc/nginx/conf.d/rpwizard-jatos.example.org.conf (0644)",
		"config test, then reload  # /usr/sbin/nginx -t -q && systemctl reload nginx",
	)
	noLines(t, out, "link ROOT", "setsebool")
}

func TestPreflightRefusesWithEveryReason(t *testing.T) {
	a := jatosAnswers("nginx")
	e := fakeEnv(t, map[string]string{"etc/os-release": debianRelease, "usr/sbin/nginx": "nginx version: nginx/1.14.2\n",
		"etc/nginx/nginx.conf":          "events {\n}\nhttp { include /etc/nginx/sites-enabled/*; }\n",
		"etc/nginx/sites-enabled/jatos": "server { listen 80; server_name jatos.example.org; }\n"}, a)
	_, err := Plan(context.Background(), e)
	var r *RefusedError
	if !errors.As(err, &r) {
		t.Fatalf("err = %v, want a refusal", err)
	}
	if r.Check != "server version" || !strings.Contains(r.Msg, "nginx 1.14.2 is too old") {
		t.Errorf("refusal %q: %q", r.Check, r.Msg)
	}
	if !strings.Contains(r.Fix, "also refused: existing config: jatos.example.org is already served by /etc/nginx/sites-enabled/jatos") ||
		!strings.Contains(r.Fix, "fix: let rpwizard take it over") {
		t.Errorf("fix %q", r.Fix)
	}
}

func TestPreflightWarnsOncePerPlan(t *testing.T) {
	e := fakeEnv(t, map[string]string{"etc/os-release": "PRETTY_NAME=\"Debian GNU/Linux 10 (buster)\"\nID=debian\nVERSION_ID=\"10\"\n",
		"usr/sbin/nginx": "nginx version: nginx/1.18.0\n"}, jatosAnswers("nginx"))
	e.Warn("site config", "kept", "")
	for i := 0; i < 2; i++ {
		if _, err := planPreflight(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, w := range e.Warnings {
		got = append(got, w.Step+": "+w.Msg)
	}
	want := []string{"site config: kept", "preflight: platform: Debian GNU/Linux 10 (buster) is older than the releases rpwizard supports (Debian 11+, Ubuntu 20.04+, RHEL/Rocky/Alma 8+, Fedora 38+)"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings\n got: %q\nwant: %q", got, want)
	}
}
