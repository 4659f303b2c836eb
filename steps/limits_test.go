package steps

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/installer"
)

// Debian 12's nginx.conf, abridged (the directives that matter and a few
// that must stay untouched).
var debianNginxConf = serverFixture("debian12-nginx.conf")

// Debian 12's mods-available/mpm_event.conf.
var debianMPMEvent = serverFixture("debian12-mpm_event.conf")

// planLimits on fake Debian roots: the change as --dry-run shows it, a
// second plan after applying it plans nothing.
func TestPlanLimitsDryRun(t *testing.T) {
	for _, tt := range []struct {
		server, file, conf string
		lines              []string
	}{
		{"nginx", "etc/nginx/nginx.conf", debianNginxConf, []string{"== server limits", "update ROOT/etc/nginx/nginx.conf (0644)  # worker_connections"}},
		{"apache", "etc/apache2/mods-available/mpm_event.conf", debianMPMEvent, []string{"== server limits",
			"update ROOT/etc/apache2/mods-available/mpm_event.conf (0644)  # event MPM: ServerLimit 95 × ThreadsPerChild 64 = MaxRequestWorkers 6080",
			"restart Apache once the config test passes"}},
	} {
		t.Run(tt.server, func(t *testing.T) {
			a := jatosAnswers(tt.server)
			a.ExpectedWebSockets = 5000
			files := map[string]string{"etc/os-release": debianRelease, tt.file: tt.conf,
				"usr/sbin/nginx": "nginx version: nginx/1.22.1\n", "usr/sbin/apache2": "Server version: Apache/2.4.62 (Debian)\n",
				"etc/apache2/mods-enabled/mpm_event.load": "->../mods-available/mpm_event.load", "etc/apache2/mods-available/mpm_event.load": "LoadModule mpm_event_module x\n",
				"etc/nginx/sites-enabled/.keep": ""}
			for _, m := range []string{"socache_shmcb", "ssl", "proxy", "proxy_http", "proxy_wstunnel", "rewrite", "headers", "http2", "alias"} {
				files["etc/apache2/mods-available/"+m+".load"] = "LoadModule " + m + "_module x\n"
			}
			e := fakeEnv(t, files, a)
			wantLines(t, dryRun(t, e), tt.lines...)
			changes, err := planLimits(context.Background(), e)
			if err != nil || len(changes) == 0 {
				t.Fatalf("planLimits: %v, %v", changes, err)
			}
			// Apply the file change by hand, then plan again.
			c := changes[0]
			if c.Kind != installer.WriteFile {
				t.Fatalf("first change %v", c.Describe())
			}
			if err := os.WriteFile(c.Path, c.Data, 0o644); err != nil {
				t.Fatal(err)
			}
			again, err := planLimits(context.Background(), e)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range again {
				if !(c.Touches() && c.Noop()) {
					t.Errorf("second plan: %s", c.Describe())
				}
			}
			// No expected_websockets: nothing.
			a.ExpectedWebSockets = 0
			if none, _ := planLimits(context.Background(), e); len(none) != 0 {
				t.Errorf("without expected_websockets: %d changes", len(none))
			}
		})
	}
}

func TestPlanLimitsApacheOtherMPMWarns(t *testing.T) {
	a := jatosAnswers("apache")
	a.ExpectedWebSockets = 3000
	e := fakeEnv(t, map[string]string{"etc/os-release": debianRelease, "usr/sbin/apache2": "Server version: Apache/2.4.62 (Debian)\n",
		"etc/apache2/mods-available/mpm_prefork.load":  "LoadModule mpm_prefork_module x\n",
		"etc/apache2/mods-enabled/mpm_prefork.load":    "->../mods-available/mpm_prefork.load",
		"etc/apache2/mods-available/mpm_event.conf":    debianMPMEvent,
		"etc/apache2/mods-available/mpm_prefork.conf":  "MaxRequestWorkers 150\n",
		"etc/apache2/mods-enabled/mpm_prefork.conf":    "->../mods-available/mpm_prefork.conf",
		"etc/apache2/sites-available/000-default.conf": ""}, a)
	changes, err := planLimits(context.Background(), e)
	if err != nil || len(changes) != 0 {
		t.Fatalf("changes %d, err %v", len(changes), err)
	}
	if len(e.Warnings) != 1 || !strings.Contains(e.Warnings[0].Msg, "prefork MPM") || !strings.Contains(e.Warnings[0].Fix, "MaxRequestWorkers ≥ 3625") {
		t.Errorf("warnings %+v", e.Warnings)
	}
	// Planning again does not repeat the warning.
	planLimits(context.Background(), e)
	if len(e.Warnings) != 1 {
		t.Errorf("warnings after a second plan: %+v", e.Warnings)
	}
}

func TestPlanLimitsNginxInstalledLater(t *testing.T) {
	a := jatosAnswers("nginx")
	a.ExpectedWebSockets = 5000
	a.InstallMissing = true
	e := fakeEnv(t, map[string]string{"etc/os-release": debianRelease, aptLists: ""}, a)
	changes, err := planLimits(context.Background(), e)
	if err != nil || len(changes) != 1 || changes[0].Kind != installer.Action ||
		!strings.Contains(changes[0].Why, "once nginx is installed") {
		t.Fatalf("changes %+v, err %v", changes, err)
	}
	if _, err := os.Stat(filepath.Join(e.Host.Layout.Root, "etc/nginx")); err == nil {
		t.Error("planning created /etc/nginx")
	}
}

// serverFixture is a config of package server's testdata.
func serverFixture(name string) string {
	data, err := os.ReadFile(filepath.Join("..", "server", "testdata", name))
	if err != nil {
		panic(err)
	}
	return string(data)
}
