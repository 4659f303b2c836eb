package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/server"
)

// limitsAnswers is a JATOS site on server that must carry n WebSockets.
func limitsAnswers(server string, n int) string {
	return fmt.Sprintf("app: jatos\nserver: %s\ndomain: limits.test\nupstream: 127.0.0.1:9000\ntls:\n  mode: self-signed\nexpected_websockets: %d\n", server, n)
}

// writeFiles writes files (path → content; "->TARGET" makes a link).
func writeFiles(t *testing.T, files map[string]string) {
	t.Helper()
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Remove(p)
		var err error
		if target, ok := strings.CutPrefix(c, "->"); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(c), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// readFiles reads files, by path.
func readFiles(t *testing.T, paths ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = string(data)
	}
	return out
}

// mustExec runs argv and fails t unless it succeeds; it returns the
// combined output.
func mustExec(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// nginxSettings are the values of directive name in `nginx -T` (the
// config nginx runs), one per time it is set.
func nginxSettings(t *testing.T, name string) []int {
	t.Helper()
	out, err := exec.Command("nginx", "-T").Output()
	if err != nil {
		t.Fatalf("nginx -T: %v", err)
	}
	var vals []int
	for _, m := range regexp.MustCompile(`(?m)^\s*`+name+`\s+(\S+?);`).FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.Atoi(m[1])
		vals = append(vals, n)
	}
	return vals
}

// nginxWithIncludes moves nginx.conf's limits into included files, the way
// admins split them: worker_connections in a file included inside
// events { }, worker_rlimit_nofile in one included in the main context.
func nginxWithIncludes(t *testing.T, eventsFile string) {
	t.Helper()
	const main = "/etc/nginx/nginx.conf"
	conf := readFiles(t, main)[main]
	out := regexp.MustCompile(`(?m)^\s*worker_connections\s+\d+;`).ReplaceAllString(conf, "\tinclude /etc/nginx/events.d/*.conf;")
	out = strings.Replace(out, "include /etc/nginx/modules-enabled/*.conf;", "include /etc/nginx/modules-enabled/*.conf;\ninclude /etc/nginx/main.d/*.conf;", 1)
	if out == conf || !strings.Contains(out, "main.d") {
		t.Fatalf("nginx.conf has no worker_connections or modules-enabled include to move:\n%s", conf)
	}
	writeFiles(t, map[string]string{main: out, eventsFile: "worker_connections 1024;\n",
		"/etc/nginx/main.d/limits.conf": "worker_rlimit_nofile 4096;\n"})
	if eventsFile != "/etc/nginx/events.d/limits.conf" {
		writeFiles(t, map[string]string{"/etc/nginx/events.d/limits.conf": "->" + eventsFile})
	}
	mustExec(t, "nginx", "-t", "-q")
}

// TestLimitsIncludeNginx: worker_connections in a file included inside
// events { } and worker_rlimit_nofile in one included in the main
// context, on the real nginx: an apply with expected_websockets raises
// each where it is (nginx.conf gets neither a second worker_connections
// nor a second worker_rlimit_nofile, which nginx -t would refuse:
// "directive is duplicate"), nginx -T shows the values rpwizard chose, the
// site works, and a second run changes nothing.
func TestLimitsIncludeNginx(t *testing.T) {
	ownHost(t)
	backend(t, "127.0.0.1:9000")
	nginxWithIncludes(t, "/etc/nginx/events.d/limits.conf")
	const want = 5000
	// The plan shows the change of each included file, as a diff.
	plan := apply(t, limitsAnswers("nginx", want), "--dry-run")
	for _, f := range []string{"/etc/nginx/events.d/limits.conf", "/etc/nginx/main.d/limits.conf"} {
		if plan.code != 0 || !strings.Contains(plan.stdout, "update "+f) {
			t.Errorf("the plan (exit %d) does not update %s:\n%s%s", plan.code, f, plan.stdout, plan.stderr)
		}
	}
	mustApply(t, limitsAnswers("nginx", want))
	mustExec(t, "nginx", "-t", "-q")

	workers := server.NginxLimits{WorkerProcesses: "auto"}.Workers(runtime.NumCPU())
	need := server.NeededConnections(want, workers)
	wc, rl := nginxSettings(t, "worker_connections"), nginxSettings(t, "worker_rlimit_nofile")
	if len(wc) != 1 || wc[0] != need {
		t.Errorf("nginx -T: worker_connections %v, want once, %d", wc, need)
	}
	if len(rl) != 1 || rl[0] != 2*need {
		t.Errorf("nginx -T: worker_rlimit_nofile %v, want once, %d", rl, 2*need)
	}
	if n := len(nginxSettings(t, "worker_shutdown_timeout")); n != 1 {
		t.Errorf("worker_shutdown_timeout %d times, want once", n)
	}
	// The running workers have the descriptor limit of main.d/limits.conf
	// (or the host's ceiling, in a container that caps it).
	wantFiles := 2 * need
	if c := host.DescriptorCeiling(); c > 0 && c < wantFiles {
		wantFiles = c
	}
	data, err := os.ReadFile("/run/nginx.pid")
	if err != nil {
		t.Fatal(err)
	}
	master, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	workerPIDs := host.Children(master)
	if len(workerPIDs) == 0 {
		t.Fatal("nginx has no workers")
	}
	for w := range workerPIDs {
		if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", w)); strings.Contains(string(cmd), "shutting down") {
			continue // an old worker, on its way out
		}
		limits, _ := os.ReadFile(fmt.Sprintf("/proc/%d/limits", w))
		m := regexp.MustCompile(`(?m)^Max open files\s+(\d+)`).FindSubmatch(limits)
		if m == nil || string(m[1]) != strconv.Itoa(wantFiles) {
			t.Errorf("worker %d: %q, want Max open files %d", w, m, wantFiles)
		}
	}
	files := readFiles(t, "/etc/nginx/nginx.conf", "/etc/nginx/events.d/limits.conf", "/etc/nginx/main.d/limits.conf")
	if got := files["/etc/nginx/events.d/limits.conf"]; got != fmt.Sprintf("worker_connections %d;\n", need) {
		t.Errorf("events.d/limits.conf: %q", got)
	}
	if got := files["/etc/nginx/main.d/limits.conf"]; got != fmt.Sprintf("worker_rlimit_nofile %d;\n", 2*need) {
		t.Errorf("main.d/limits.conf: %q", got)
	}
	if strings.Contains(files["/etc/nginx/nginx.conf"], "worker_connections") || strings.Contains(files["/etc/nginx/nginx.conf"], "worker_rlimit_nofile") {
		t.Errorf("nginx.conf got a limit of its own:\n%s", files["/etc/nginx/nginx.conf"])
	}
	wsEcho(t, client(t, "limits.test"), "wss://limits.test"+liveWSPath)

	again := mustApply(t, limitsAnswers("nginx", want))
	if !strings.Contains(again.stdout, "no changes") {
		t.Errorf("second run did not say \"no changes\":\n%s", again.stdout)
	}
	for p, data := range readFiles(t, "/etc/nginx/nginx.conf", "/etc/nginx/events.d/limits.conf", "/etc/nginx/main.d/limits.conf") {
		if data != files[p] {
			t.Errorf("second run changed %s:\n%s", p, data)
		}
	}
}

// TestLimitsIncludeNginxRefused: worker_connections in a file outside
// /etc/nginx (reached through a link in events.d): rpwizard does not edit
// it, changes no limit, says which file and line and what to set there,
// and the site is set up all the same (nginx -t passing).
func TestLimitsIncludeNginxRefused(t *testing.T) {
	// The file outside /etc/nginx goes after the host is restored (the
	// cleanups run last first): nginx -s quit reads the config, includes
	// and all.
	dir, err := os.MkdirTemp("/usr/local/share", "rpwizard-limits-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ownHost(t)
	backend(t, "127.0.0.1:9000")
	outside := filepath.Join(dir, "limits.conf")
	nginxWithIncludes(t, outside)
	before := readFiles(t, "/etc/nginx/nginx.conf", outside, "/etc/nginx/main.d/limits.conf")
	r := mustApply(t, limitsAnswers("nginx", 5000))
	mustExec(t, "nginx", "-t", "-q")
	out := r.stdout + r.stderr
	for _, s := range []string{"/etc/nginx/events.d/limits.conf (a link to " + outside + ") is outside /etc/nginx, so rpwizard does not edit it",
		"(/etc/nginx/events.d/limits.conf line 1)"} {
		if !strings.Contains(out, s) {
			t.Errorf("the run does not say %q:\n%s", s, out)
		}
	}
	if wc := nginxSettings(t, "worker_connections"); len(wc) != 1 || wc[0] != 1024 {
		t.Errorf("worker_connections %v, want 1024 once", wc)
	}
	after := readFiles(t, "/etc/nginx/nginx.conf", outside, "/etc/nginx/main.d/limits.conf")
	for _, p := range []string{outside, "/etc/nginx/main.d/limits.conf"} {
		if after[p] != before[p] {
			t.Errorf("%s changed:\n%s", p, after[p])
		}
	}
	if strings.Contains(after["/etc/nginx/nginx.conf"], "worker_connections") || strings.Contains(after["/etc/nginx/nginx.conf"], "worker_rlimit_nofile") {
		t.Errorf("nginx.conf got a limit:\n%s", after["/etc/nginx/nginx.conf"])
	}
	if fi, err := os.Lstat("/etc/nginx/events.d/limits.conf"); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("events.d/limits.conf is no longer a link: %v", err)
	}
	wsEcho(t, client(t, "limits.test"), "wss://limits.test"+liveWSPath)
}

// TestLimitsIncludeApache: an admin's override of the event MPM in
// conf-enabled (read after mods-enabled/mpm_event.conf, so it wins) and a
// prefork block that does not apply, on the real Apache: the apply raises
// the limits in the override (mpm_event.conf stays as it is, since a
// change there would be overridden), apachectl configtest passes, the
// running children have the ThreadsPerChild rpwizard chose, and a second
// run changes nothing.
func TestLimitsIncludeApache(t *testing.T) {
	ownHost(t)
	backend(t, "127.0.0.1:9000")
	const tuning = "/etc/apache2/conf-available/zz-mpm-tuning.conf"
	writeFiles(t, map[string]string{
		tuning: "# the admin's MPM tuning\n<IfModule mpm_event_module>\n\tThreadsPerChild 32\n\tMaxRequestWorkers 320\n</IfModule>\n<IfModule mpm_prefork_module>\n\tMaxRequestWorkers 9999\n</IfModule>\n",
		"/etc/apache2/conf-enabled/zz-mpm-tuning.conf": "->../conf-available/zz-mpm-tuning.conf"})
	mustExec(t, "apache2ctl", "configtest")
	before := readFiles(t, "/etc/apache2/mods-available/mpm_event.conf")
	const want = 2000
	mustApply(t, limitsAnswers("apache", want))
	mustExec(t, "apache2ctl", "configtest")

	if got := readFiles(t, "/etc/apache2/mods-available/mpm_event.conf"); got["/etc/apache2/mods-available/mpm_event.conf"] != before["/etc/apache2/mods-available/mpm_event.conf"] {
		t.Errorf("mpm_event.conf changed (the override wins over it):\n%s", got["/etc/apache2/mods-available/mpm_event.conf"])
	}
	conf := readFiles(t, tuning)[tuning]
	wantConf := "# the admin's MPM tuning\n<IfModule mpm_event_module>\n\tServerLimit             76\n\tThreadsPerChild 64\n\tMaxRequestWorkers 2432\n</IfModule>\n<IfModule mpm_prefork_module>\n\tMaxRequestWorkers 9999\n</IfModule>\n"
	if conf != wantConf {
		t.Errorf("%s:\n%s\nwant:\n%s", tuning, conf, wantConf)
	}
	if fi, err := os.Lstat("/etc/apache2/conf-enabled/zz-mpm-tuning.conf"); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("conf-enabled/zz-mpm-tuning.conf is no longer a link: %v", err)
	}
	// The running Apache's own account (mod_status): every child has
	// ThreadsPerChild workers, and the scoreboard shows MaxRequestWorkers
	// slots.
	st := apacheStatus(t)
	if st["Processes"] < 1 || (st["BusyWorkers"]+st["IdleWorkers"])/st["Processes"] != 64 {
		t.Errorf("server-status: %v, want ThreadsPerChild 64", st)
	}
	if st["Scoreboard"] != 2432 {
		t.Errorf("server-status: scoreboard of %d slots, want MaxRequestWorkers 2432", st["Scoreboard"])
	}
	wsEcho(t, client(t, "limits.test"), "wss://limits.test"+liveWSPath)

	again := mustApply(t, limitsAnswers("apache", want))
	if !strings.Contains(again.stdout, "no changes") {
		t.Errorf("second run did not say \"no changes\":\n%s", again.stdout)
	}
	if got := readFiles(t, tuning)[tuning]; got != conf {
		t.Errorf("second run changed %s:\n%s", tuning, got)
	}
}

// apacheStatus reads the numbers of Apache's server-status?auto (Debian
// enables mod_status for local requests), and the scoreboard's length.
func apacheStatus(t *testing.T) map[string]int {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1/server-status?auto")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("server-status: %d %s", resp.StatusCode, body)
	}
	out := map[string]int{}
	for _, line := range strings.Split(string(body), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		if k == "Scoreboard" {
			out[k] = len(strings.TrimSpace(v))
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			out[k] = n
		}
	}
	return out
}
