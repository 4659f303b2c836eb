package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
)

// fakeServer is the server called name on a fake Debian root made of
// files (config read by following the includes: no runner).
func fakeServer(t *testing.T, name string, files map[string]string) (Server, string) {
	t.Helper()
	root := t.TempDir()
	writeTree(t, root, files)
	h := &host.Host{Layout: host.Debian(root), Installed: []string{"nginx", "apache"}}
	return Must(h, name), root
}

// applyWrites makes the WriteFile changes of changes on the fake root, as
// the installer would.
func applyWrites(t *testing.T, changes []installer.Change) {
	t.Helper()
	for _, c := range changes {
		if c.Kind != installer.WriteFile {
			continue
		}
		if err := os.WriteFile(c.Path, c.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// count is how many times the directive name is set (not commented) in
// the effective config of s.
func countNginx(t *testing.T, s Server, name string) int {
	t.Helper()
	cfg, err := s.ReadConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range s.(nginx).effective(cfg.Files) {
		if d.Name.Text == name {
			n++
		}
	}
	return n
}

const nginxMainWithIncludes = "user www-data;\nworker_processes auto;\npid /run/nginx.pid;\ninclude /etc/nginx/modules-enabled/*.conf;\ninclude /etc/nginx/main.d/*.conf;\n\nevents {\n\tinclude /etc/nginx/events.d/*.conf;\n}\n\nhttp {\n\tinclude /etc/nginx/sites-enabled/*;\n}\n"

// TestNginxLimitsIncludes: the limits are read from the config nginx runs,
// with every include in its context, and changed in the file where their
// directive is; a directive is never added when an included file has it
// (nginx -t: "directive is duplicate"); one in a file outside /etc/nginx
// is not changed, and the warning names it.
func TestNginxLimitsIncludes(t *testing.T) {
	jatos := ShutdownTimeout{D: time.Hour, Why: "jatos: studies"}
	tests := []struct {
		name     string
		files    map[string]string
		want     int
		shutdown ShutdownTimeout
		have     int               // worker_connections read
		how      string            // in Limits().How
		changed  map[string]string // file → a line it must have after
		same     []string          // files that must not change
		warn     string            // "" none
		blocked  bool
	}{
		{name: "worker_connections in a file included in events",
			files: map[string]string{"etc/nginx/nginx.conf": nginxMainWithIncludes, "etc/nginx/events.d/wc.conf": "worker_connections 1024;\n"},
			want:  5000, have: 1024, how: "worker_connections 1024, set in /etc/nginx/events.d/wc.conf line 1 × 2 worker processes",
			changed: map[string]string{"etc/nginx/events.d/wc.conf": "worker_connections 6016;", "etc/nginx/nginx.conf": "worker_rlimit_nofile 12032;"}},
		{name: "worker_rlimit_nofile and worker_processes in a main-context include",
			files: map[string]string{"etc/nginx/nginx.conf": strings.Replace(nginxMainWithIncludes, "worker_processes auto;\n", "", 1),
				"etc/nginx/main.d/tuning.conf": "worker_processes 4;\nworker_rlimit_nofile 4096;\n", "etc/nginx/events.d/wc.conf": "worker_connections 768;\n"},
			want: 5000, have: 768, how: "× 4 worker processes",
			changed: map[string]string{"etc/nginx/main.d/tuning.conf": "worker_rlimit_nofile 6016;", "etc/nginx/events.d/wc.conf": "worker_connections 3008;"},
			same:    []string{"etc/nginx/nginx.conf"}},
		{name: "the admin's worker_shutdown_timeout in an include: kept, no second one",
			files: map[string]string{"etc/nginx/nginx.conf": nginxMainWithIncludes, "etc/nginx/main.d/t.conf": "worker_shutdown_timeout 10m;\n",
				"etc/nginx/events.d/wc.conf": "worker_connections 768;\n"},
			shutdown: jatos, have: 768,
			same: []string{"etc/nginx/nginx.conf", "etc/nginx/main.d/t.conf"},
			warn: "/etc/nginx/main.d/t.conf (line 1) sets worker_shutdown_timeout 10m itself: kept"},
		{name: "rpwizard's worker_shutdown_timeout moved into an include: updated there",
			files: map[string]string{"etc/nginx/nginx.conf": nginxMainWithIncludes, "etc/nginx/main.d/t.conf": "worker_shutdown_timeout 6h; # rpwizard: old\n",
				"etc/nginx/events.d/wc.conf": "worker_connections 768;\n"},
			shutdown: jatos, have: 768,
			changed: map[string]string{"etc/nginx/main.d/t.conf": "worker_shutdown_timeout 1h; # rpwizard: jatos: studies"},
			same:    []string{"etc/nginx/nginx.conf"}},
		{name: "no limit anywhere: into nginx.conf's events block, the include kept",
			files: map[string]string{"etc/nginx/nginx.conf": nginxMainWithIncludes, "etc/nginx/events.d/other.conf": "multi_accept on;\n"},
			want:  1000, shutdown: jatos, have: 512,
			changed: map[string]string{"etc/nginx/nginx.conf": "events {\n\tworker_connections 1216;\n\tinclude /etc/nginx/events.d/*.conf;"},
			same:    []string{"etc/nginx/events.d/other.conf"}},
		{name: "a package's file reached through a link: not edited, named",
			files: map[string]string{"etc/nginx/nginx.conf": nginxMainWithIncludes,
				"etc/nginx/modules-enabled/50-tune.conf":         "->/usr/share/nginx/modules-available/tune.conf",
				"usr/share/nginx/modules-available/tune.conf":    "load_module modules/x.so;\nworker_rlimit_nofile 2048;\n",
				"etc/nginx/events.d/wc.conf":                     "worker_connections 768;\n",
				"usr/share/nginx/modules-available/.placeholder": ""},
			want: 5000, have: 768,
			same:    []string{"etc/nginx/nginx.conf", "etc/nginx/events.d/wc.conf", "usr/share/nginx/modules-available/tune.conf"},
			warn:    "/etc/nginx/modules-enabled/50-tune.conf (a link to /usr/share/nginx/modules-available/tune.conf) is outside /etc/nginx, so rpwizard does not edit it: the limits were not changed",
			blocked: true},
		{name: "Debian's nginx.conf as it comes", files: map[string]string{"etc/nginx/nginx.conf": debianNginxConf}, want: 12000, have: 768,
			changed: map[string]string{"etc/nginx/nginx.conf": "worker_rlimit_nofile 28800;\nevents {\n\tworker_connections 14400;"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, root := fakeServer(t, "nginx", tt.files)
			ctx := context.Background()
			lim := s.(Limited).Limits(ctx, tt.want, 2)
			if lim.Have != tt.have || !strings.Contains(lim.How, tt.how) || lim.Blocked != tt.blocked {
				t.Errorf("limits %+v, want worker_connections %d, How with %q, blocked %v", lim, tt.have, tt.how, tt.blocked)
			}
			if tt.blocked && !strings.Contains(lim.Raise, "50-tune.conf") {
				t.Errorf("raise %q does not name the file", lim.Raise)
			}
			before := map[string]string{}
			for f := range tt.files {
				data, _ := os.ReadFile(filepath.Join(root, f))
				before[f] = string(data)
			}
			r := LimitsRequest{Want: tt.want, NCPU: 2, Shutdown: tt.shutdown}
			p, err := s.(Limited).PlanLimits(ctx, r, nil)
			if err != nil {
				t.Fatal(err)
			}
			var warns []string
			for _, w := range p.Warnings {
				warns = append(warns, w.Msg+" | "+w.Fix)
			}
			if got := strings.Join(warns, "\n"); tt.warn == "" && got != "" || !strings.Contains(got, tt.warn) {
				t.Errorf("warnings %q, want %q", got, tt.warn)
			}
			if tt.blocked && !strings.Contains(strings.Join(warns, "\n"), "set worker_connections 6016; (/etc/nginx/events.d/wc.conf line 1), worker_rlimit_nofile 12032; (/etc/nginx/modules-enabled/50-tune.conf line 2) yourself") {
				t.Errorf("the refusal does not say what to set where: %q", warns)
			}
			applyWrites(t, p.Changes)
			if len(p.Changes) != len(tt.changed) {
				t.Errorf("%d changes, want %d", len(p.Changes), len(tt.changed))
			}
			for f, line := range tt.changed {
				got, _ := os.ReadFile(filepath.Join(root, f))
				if !strings.Contains(string(got), line) {
					t.Errorf("%s:\n%s\nlacks %q", f, got, line)
				}
			}
			for _, f := range tt.same {
				if got, _ := os.ReadFile(filepath.Join(root, f)); string(got) != before[f] {
					t.Errorf("%s changed:\n%s", f, got)
				}
			}
			for _, d := range []string{"worker_connections", "worker_rlimit_nofile", "worker_processes", "worker_shutdown_timeout"} {
				if n := countNginx(t, s, d); n > 1 {
					t.Errorf("%s is set %d times (nginx: directive is duplicate)", d, n)
				}
			}
			if !tt.blocked && tt.want > 0 {
				if after := s.(Limited).Limits(ctx, tt.want, 2); after.Have < after.Need {
					t.Errorf("after the plan: %+v", after)
				}
			}
			again, err := s.(Limited).PlanLimits(ctx, r, nil)
			if err != nil || len(again.Changes) != 0 {
				t.Errorf("second plan: %d changes, %v", len(again.Changes), err)
			}
		})
	}
}

// Debian's apache2.conf, the lines that read modules and confs.
const debianApacheMain = "Timeout 300\nIncludeOptional mods-enabled/*.load\nIncludeOptional mods-enabled/*.conf\nInclude ports.conf\nIncludeOptional conf-enabled/*.conf\nIncludeOptional sites-enabled/*.conf\n"

// debianApacheFiles is a fake Debian Apache running mpm (event, worker
// or prefork) with Debian's mpm_event.conf, plus more.
func debianApacheFiles(mpm string, more map[string]string) map[string]string {
	files := map[string]string{"etc/apache2/apache2.conf": debianApacheMain, "etc/apache2/ports.conf": "Listen 80\n",
		"etc/apache2/mods-available/mpm_event.conf":     debianMPMEvent,
		"etc/apache2/mods-available/mpm_prefork.conf":   "<IfModule mpm_prefork_module>\n\tMaxRequestWorkers 150\n</IfModule>\n",
		"etc/apache2/mods-enabled/mpm_" + mpm + ".load": "LoadModule mpm_" + mpm + "_module /usr/lib/apache2/modules/mod_mpm_" + mpm + ".so\n",
		"etc/apache2/mods-enabled/mpm_" + mpm + ".conf": "->../mods-available/mpm_" + mpm + ".conf"}
	if mpm != "event" {
		files["etc/apache2/mods-available/mpm_"+mpm+".conf"] = "MaxRequestWorkers 150\n"
	}
	for k, v := range more {
		files[k] = v
	}
	return files
}

// TestApacheLimitsIfModule: the MPM limits are read from the config
// Apache runs: the loaded MPM, the <IfModule> blocks that hold, the last
// setting of each (an override in conf-enabled wins over mpm_event.conf),
// and raised where Apache takes them from.
func TestApacheLimitsIfModule(t *testing.T) {
	ifEvent := func(body string) string { return "<IfModule mpm_event_module>\n" + body + "</IfModule>\n" }
	tests := []struct {
		name    string
		files   map[string]string
		want    int
		have    int    // MaxRequestWorkers read
		set     string // its file, in How
		changed map[string][]string
		same    []string
		warn    string
		blocked bool
	}{
		{name: "Debian's mpm_event.conf", files: debianApacheFiles("event", nil), want: 2000, have: 150, set: "set in /etc/apache2/mods-enabled/mpm_event.conf",
			changed: map[string][]string{"etc/apache2/mods-available/mpm_event.conf": {"ServerLimit             76\nStartServers", "MaxRequestWorkers       2432"}}},
		{name: "an override in conf-enabled wins, and is what changes",
			files: debianApacheFiles("event", map[string]string{"etc/apache2/conf-enabled/zz-mpm.conf": ifEvent("\tThreadsPerChild 32\n\tMaxRequestWorkers 320\n")}),
			want:  2000, have: 320, set: "set in /etc/apache2/conf-enabled/zz-mpm.conf",
			changed: map[string][]string{"etc/apache2/conf-enabled/zz-mpm.conf": {"\tServerLimit             76\n\tThreadsPerChild 64\n\tMaxRequestWorkers 2432\n</IfModule>"}},
			same:    []string{"etc/apache2/mods-available/mpm_event.conf"}},
		{name: "an override for another MPM does not apply",
			files: debianApacheFiles("event", map[string]string{"etc/apache2/conf-enabled/zz-mpm.conf": "<IfModule mpm_prefork_module>\n\tMaxRequestWorkers 5000\n</IfModule>\n<IfModule !mpm_event_module>\n\tMaxRequestWorkers 6000\n</IfModule>\n"}),
			want:  2000, have: 150, set: "set in /etc/apache2/mods-enabled/mpm_event.conf",
			changed: map[string][]string{"etc/apache2/mods-available/mpm_event.conf": {"MaxRequestWorkers       2432"}},
			same:    []string{"etc/apache2/conf-enabled/zz-mpm.conf"}},
		{name: "an override as event.c",
			files: debianApacheFiles("event", map[string]string{"etc/apache2/conf-enabled/zz-mpm.conf": "<IfModule event.c>\nMaxRequestWorkers 400\nServerLimit 40\n</IfModule>\n"}),
			want:  100, have: 400, set: "set in /etc/apache2/conf-enabled/zz-mpm.conf"},
		{name: "a file outside ServerRoot: named, not edited",
			files: debianApacheFiles("event", map[string]string{"etc/apache2/conf-enabled/zz-mpm.conf": "IncludeOptional /srv/apache/*.conf\n",
				"srv/apache/mpm.conf": ifEvent("MaxRequestWorkers 200\n")}),
			want: 2000, have: 200, set: "set in /srv/apache/mpm.conf",
			same:    []string{"etc/apache2/mods-available/mpm_event.conf", "srv/apache/mpm.conf"},
			warn:    "/srv/apache/mpm.conf is outside /etc/apache2, so rpwizard does not edit it: the limits were not changed | set MaxRequestWorkers 2432 (/srv/apache/mpm.conf line 2)",
			blocked: true},
		{name: "prefork loaded: the event MPM's file is not read", files: debianApacheFiles("prefork", nil), want: 2000, have: 150, set: "set in /etc/apache2/mods-enabled/mpm_prefork.conf",
			same: []string{"etc/apache2/mods-available/mpm_event.conf"}, warn: "Apache runs the prefork MPM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, root := fakeServer(t, "apache", tt.files)
			ctx := context.Background()
			lim := s.(Limited).Limits(ctx, tt.want, 2)
			if lim.Have != tt.have || !strings.Contains(lim.How, tt.set) || lim.Blocked != tt.blocked {
				t.Errorf("limits %+v, want MaxRequestWorkers %d %s, blocked %v", lim, tt.have, tt.set, tt.blocked)
			}
			before := map[string]string{}
			for f := range tt.files {
				data, _ := os.ReadFile(filepath.Join(root, f))
				before[f] = string(data)
			}
			p, err := s.(Limited).PlanLimits(ctx, LimitsRequest{Want: tt.want, NCPU: 2}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var warns []string
			for _, w := range p.Warnings {
				warns = append(warns, w.Msg+" | "+w.Fix)
			}
			if got := strings.Join(warns, "\n"); tt.warn == "" && got != "" || !strings.Contains(got, tt.warn) {
				t.Errorf("warnings %q, want %q", got, tt.warn)
			}
			applyWrites(t, p.Changes)
			for f, lines := range tt.changed {
				got, _ := os.ReadFile(filepath.Join(root, f))
				for _, line := range lines {
					if !strings.Contains(string(got), line) {
						t.Errorf("%s:\n%s\nlacks %q", f, got, line)
					}
				}
			}
			for _, f := range tt.same {
				if got, _ := os.ReadFile(filepath.Join(root, f)); string(got) != before[f] {
					t.Errorf("%s changed:\n%s", f, got)
				}
			}
			if len(tt.changed) > 0 {
				if after := s.(Limited).Limits(ctx, tt.want, 2); after.Have < after.Need {
					t.Errorf("after the plan: %+v", after)
				}
			}
			again, err := s.(Limited).PlanLimits(ctx, LimitsRequest{Want: tt.want, NCPU: 2}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range again.Changes {
				if c.Kind == installer.WriteFile {
					t.Errorf("second plan writes %s", c.Path)
				}
			}
		})
	}
}

// TestApacheEffective: which MPM directives apply, in Apache's order.
func TestApacheEffective(t *testing.T) {
	tests := []struct {
		name, conf string
		loaded     map[string]bool
		want       string // key=value, in order
	}{
		{"plain", "ServerLimit 10\nMaxRequestWorkers 100\n", nil, "serverlimit=10 maxrequestworkers=100"},
		{"IfModule of a module not loaded", "<IfModule mpm_event_module>\nMaxRequestWorkers 100\n</IfModule>\n", nil, ""},
		{"IfModule after its LoadModule", "LoadModule mpm_event_module x.so\n<IfModule mpm_event_module>\nMaxRequestWorkers 100\n</IfModule>\n", nil, "maxrequestworkers=100"},
		{"IfModule before its LoadModule", "<IfModule mpm_event_module>\nMaxRequestWorkers 100\n</IfModule>\nLoadModule mpm_event_module x.so\n", nil, ""},
		{"negated, nested, file name form", "<IfModule !mpm_prefork_module>\n  <IfModule event.c>\n    MaxClients 7\n  </IfModule>\n</IfModule>\n", map[string]bool{"mpm_event": true}, "maxrequestworkers=7"},
		{"IfDefine", "<IfDefine FOO>\nServerLimit 1\n</IfDefine>\n<IfDefine !FOO>\nServerLimit 2\n</IfDefine>\n", nil, "serverlimit=2"},
		{"IfDefine after a Define", "Define FOO\n<IfDefine FOO>\nServerLimit 1\n</IfDefine>\nUndefine FOO\n<IfDefine FOO>\nServerLimit 3\n</IfDefine>\n", nil, "serverlimit=1"},
		{"not in a VirtualHost", "<VirtualHost *:80>\nMaxRequestWorkers 9\n</VirtualHost>\nThreadsPerChild 5\n", nil, "threadsperchild=5"},
		{"compiled in", "<IfModule mod_version.c>\nThreadLimit 3\n</IfModule>\n", nil, "threadlimit=3"},
		{"later wins (both listed, in order)", "MaxRequestWorkers 1\nMaxRequestWorkers 2\n", nil, "maxrequestworkers=1 maxrequestworkers=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eff, _ := apacheEffective([]ConfigFile{{Path: "/a.conf", Data: []byte(tt.conf)}}, "/", "/", tt.loaded)
			var got []string
			for _, d := range eff {
				got = append(got, d.Key+"="+d.Args[0].Text)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("%q, want %q", strings.Join(got, " "), tt.want)
			}
		})
	}
}

// TestNginxEffective: includes are read in their context.
func TestNginxEffective(t *testing.T) {
	files := []ConfigFile{
		{Path: "/etc/nginx/nginx.conf", Data: []byte("include main.d/*.conf;\nevents { include /etc/nginx/ev.conf; }\nhttp { include /etc/nginx/main.d/a.conf; }\n")},
		{Path: "/etc/nginx/main.d/a.conf", Data: []byte("worker_processes 2;\n")},
		{Path: "/etc/nginx/main.d/b.conf", Data: []byte("worker_rlimit_nofile 9;\n")},
		{Path: "/etc/nginx/ev.conf", Data: []byte("worker_connections 3;\n")},
	}
	var got []string
	for _, d := range nginxEffective(files, "/", "/etc/nginx") {
		got = append(got, strings.Join(d.Ctx, "/")+":"+d.Name.Text+"@"+filepath.Base(d.File))
	}
	want := ":worker_processes@a.conf :worker_rlimit_nofile@b.conf :events@nginx.conf events:worker_connections@ev.conf :http@nginx.conf http:worker_processes@a.conf"
	if strings.Join(got, " ") != want {
		t.Errorf("%q\nwant %q", strings.Join(got, " "), want)
	}
	lim, _ := parseNginxLimits(nginxEffective(files, "/", "/etc/nginx"))
	if lim != (NginxLimits{WorkerProcesses: "2", WorkerConnections: 3, RlimitNofile: 9}) {
		t.Errorf("limits %+v", lim)
	}
}

// TestApacheLimitsRHELOwnFile: on the RHEL family with no MPM directive
// anywhere, the limits go into rpwizard's own file in conf.modules.d,
// which Apache reads; a second plan writes nothing.
func TestApacheLimitsRHELOwnFile(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"etc/httpd/conf/httpd.conf":            "ServerRoot \"/etc/httpd\"\nInclude conf.modules.d/*.conf\nIncludeOptional conf.d/*.conf\n",
		"etc/httpd/conf.modules.d/00-mpm.conf": "LoadModule mpm_event_module modules/mod_mpm_event.so\n",
		"etc/httpd/conf.d/prefork.conf":        "<IfModule mpm_prefork_module>\nMaxRequestWorkers 900\n</IfModule>\n"})
	h := &host.Host{Layout: host.RHEL(root), Installed: []string{"apache"}}
	s := Must(h, "apache").(Limited)
	ctx := context.Background()
	if lim := s.Limits(ctx, 1000, 2); lim.Have != 400 || !strings.Contains(lim.How, "default; event MPM") {
		t.Errorf("limits %+v", lim)
	}
	p, err := s.PlanLimits(ctx, LimitsRequest{Want: 1000}, nil)
	if err != nil || len(p.Warnings) != 0 {
		t.Fatalf("plan: %v, %+v", err, p.Warnings)
	}
	own := filepath.Join(root, "etc/httpd/conf.modules.d/01-rpwizard-mpm.conf")
	if len(p.Changes) == 0 || p.Changes[0].Path != own || !strings.Contains(string(p.Changes[0].Data), "<IfModule mpm_event_module>\nServerLimit             40\nThreadsPerChild         64\nMaxRequestWorkers       1280\n</IfModule>\n") {
		t.Fatalf("changes %+v", p.Changes)
	}
	applyWrites(t, p.Changes)
	if lim := s.Limits(ctx, 1000, 2); lim.Have != 1280 || !strings.Contains(lim.How, "set in /etc/httpd/conf.modules.d/01-rpwizard-mpm.conf") {
		t.Errorf("after: %+v", lim)
	}
	again, err := s.PlanLimits(ctx, LimitsRequest{Want: 1000}, nil)
	if err != nil || len(again.Changes) != 0 {
		t.Errorf("second plan: %d changes, %v", len(again.Changes), err)
	}
}
