package steps

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
			"update ROOT/etc/apache2/mods-available/mpm_event.conf (0644)  # event MPM: MaxRequestWorkers 6080 (95 processes × ThreadsPerChild 64)",
			"ServerLimit 190, room for a reload's old processes",
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

func TestShutdownTimeout(t *testing.T) {
	tests := []struct {
		name       string
		apps       []string
		renewEvery int // hours; 0: no ACME site
		want       time.Duration
		why        []string
	}{
		{"jatos", []string{"jatos"}, 0, time.Hour, []string{"after 1h; jatos: participants'"}},
		{"generic", []string{"generic"}, 12, time.Hour, []string{"after 1h; generic:"}},
		{"jupyterhub", []string{"jupyterhub"}, 12, 6 * time.Hour, []string{"after 6h; jupyterhub: notebook kernels"}},
		{"cryosparc", []string{"cryosparc"}, 0, 6 * time.Hour, []string{"cryosparc: processing jobs"}},
		{"several sites: the longest", []string{"jatos", "jupyterhub", "jatos", "generic"}, 12, 6 * time.Hour,
			[]string{"after 6h; the longest of generic 1h, jatos 1h, jupyterhub 6h (jupyterhub:"}},
		{"short-lived certificates, renewed every 4 hours: cut to 3h", []string{"jupyterhub"}, 4, 3 * time.Hour,
			[]string{"after 3h;", "6h cut below the renewals every 4 hours"}},
		{"short-lived, but jatos's hour is below the cap", []string{"jatos"}, 4, time.Hour, nil},
		{"renewed every 6 hours: 5h", []string{"cryosparc", "jatos"}, 6, 5 * time.Hour, []string{"cut below the renewals every 6 hours"}},
		{"renewed every hour: half of it", []string{"jatos"}, 1, 30 * time.Minute, []string{"after 30m;"}},
		{"unknown apps only: not set", []string{"nope"}, 12, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ShutdownTimeout(tt.apps, tt.renewEvery)
			if got.D != tt.want {
				t.Errorf("%v, want %v (%s)", got.D, tt.want, got.Why)
			}
			for _, w := range tt.why {
				if !strings.Contains(got.Why, w) {
					t.Errorf("why %q lacks %q", got.Why, w)
				}
			}
			if strings.Contains(got.Why, "\n") {
				t.Errorf("why is not one line: %q", got.Why)
			}
			if again := ShutdownTimeout(tt.apps, tt.renewEvery); again != got {
				t.Errorf("not stable: %+v, then %+v", got, again)
			}
		})
	}
}

// planLimits on a fake Debian nginx: worker_shutdown_timeout from the
// host's sites (this one and those in /etc/rpwizard/sites), also without
// expected_websockets; the admin's own value is kept, with a warning.
func TestPlanLimitsNginxShutdownTimeout(t *testing.T) {
	hub := "app: jupyterhub\nserver: nginx\ndomain: hub.example.org\nupstream: 127.0.0.1:8000\ntls:\n  mode: self-signed\n"
	short := "app: generic\nserver: nginx\ndomain: short.example.org\nupstream: 127.0.0.1:8080\ntls:\n  mode: acme\n  email: a@example.org\n  profile: shortlived\n"
	apacheHub := strings.ReplaceAll(strings.ReplaceAll(hub, "nginx", "apache"), "hub.example.org", "other.example.org")
	tests := []struct {
		name   string
		conf   string
		others map[string]string
		line   string // "" = nginx.conf unchanged
		warn   string
	}{
		{name: "jatos alone", conf: debianNginxConf, line: "worker_shutdown_timeout 1h; # rpwizard: old workers close WebSockets held through a reload after 1h; jatos: "},
		{name: "beside a jupyterhub site", conf: debianNginxConf, others: map[string]string{"hub.example.org.yaml": hub},
			line: "worker_shutdown_timeout 6h; # rpwizard: old workers close WebSockets held through a reload after 6h; the longest of jatos 1h, jupyterhub 6h"},
		{name: "an Apache site does not count", conf: debianNginxConf, others: map[string]string{"other.example.org.yaml": apacheHub},
			line: "worker_shutdown_timeout 1h;"},
		{name: "jupyterhub and a short-lived certificate", conf: debianNginxConf,
			others: map[string]string{"hub.example.org.yaml": hub, "short.example.org.yaml": short},
			line:   "worker_shutdown_timeout 3h; # rpwizard: old workers close WebSockets held through a reload after 3h;"},
		{name: "the admin's own value", conf: strings.Replace(debianNginxConf, "events {", "worker_shutdown_timeout 10m;\nevents {", 1),
			warn: "sets worker_shutdown_timeout 10m itself: kept (rpwizard would choose 1h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"etc/os-release": debianRelease, "etc/nginx/nginx.conf": tt.conf,
				"usr/sbin/nginx": "nginx version: nginx/1.22.1\n", "etc/nginx/sites-enabled/.keep": ""}
			for f, data := range tt.others {
				files["etc/rpwizard/sites/"+f] = data
			}
			e := fakeEnv(t, files, jatosAnswers("nginx"))
			changes, err := planLimits(context.Background(), e)
			if err != nil {
				t.Fatal(err)
			}
			var warns []string
			for _, w := range e.Warnings {
				warns = append(warns, w.Msg)
			}
			if tt.warn != "" && !strings.Contains(strings.Join(warns, "\n"), tt.warn) {
				t.Errorf("warnings %q lack %q", warns, tt.warn)
			}
			if tt.line == "" {
				if len(changes) != 0 {
					t.Errorf("changes: %s", changes[0].Describe())
				}
				return
			}
			if len(changes) != 1 || changes[0].Kind != installer.WriteFile || !strings.Contains(string(changes[0].Data), "\n"+tt.line) {
				t.Fatalf("changes %d, want nginx.conf with %q:\n%s", len(changes), tt.line, changes[0].Data)
			}
			if err := os.WriteFile(changes[0].Path, changes[0].Data, 0o644); err != nil {
				t.Fatal(err)
			}
			if again, _ := planLimits(context.Background(), e); len(again) != 0 {
				t.Errorf("second plan: %s", again[0].Describe())
			}
		})
	}
}
