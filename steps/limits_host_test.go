package steps

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/internal/testbackend"
	"github.com/rpwizard/rpwizard/internal/testenv"
	"github.com/rpwizard/rpwizard/server"
)

// TestLimitsHostNginx applies expected_websockets: 12000 with nginx on this
// host: nginx.conf gets the raised limits in place, the reloaded workers
// run with them, the site passes its self-test, and a second plan is
// empty.
func TestLimitsHostNginx(t *testing.T) {
	testenv.OwnHost(t)
	ctx := context.Background()
	b, err := testbackend.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	a := jatosAnswers("nginx")
	a.Domain, a.Upstream, a.ExpectedWebSockets = "limits.test", b.Addr, 12000
	on := true
	a.SelfTest = &on
	e := hostEnv(t, a)
	before, err := os.ReadFile(e.Host.Layout.NginxMain)
	if err != nil {
		t.Fatal(err)
	}
	wantConf, lim, err := server.NginxLimitsFor(before, 12000, workersOnThisHost())
	if err != nil {
		t.Fatal(err)
	}
	// The same change of nginx.conf sets worker_shutdown_timeout.
	if wantConf == nil {
		wantConf = before
	}
	if bounded, _, err := server.NginxShutdownFor(wantConf, ShutdownTimeout([]string{"jatos"}, 0)); err != nil {
		t.Fatal(err)
	} else if bounded != nil {
		wantConf = bounded
	}
	plan, err := Plan(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.Render(false), "== server limits") {
		t.Fatalf("plan without the server limits step:\n%s", plan.Render(false))
	}
	if _, err := Apply(ctx, e, plan); err != nil {
		t.Fatalf("apply: %v\n%s", err, plan.Render(false))
	}
	got, _ := os.ReadFile(e.Host.Layout.NginxMain)
	if string(got) != string(wantConf) {
		t.Errorf("nginx.conf:\n%s\nwant:\n%s", got, wantConf)
	}
	pl := server.ParseNginxLimits(got)
	if pl.WebSockets(workersOnThisHost()) < 12000 {
		t.Errorf("nginx.conf allows %d WebSockets, want ≥ 12000", pl.WebSockets(workersOnThisHost()))
	}
	// The serving workers run with the raised descriptor limit, and nginx
	// -T (what the running master was given) shows worker_connections.
	workers := childPIDs(t, e.Server.PID())
	if len(workers) == 0 {
		t.Fatal("nginx has no workers")
	}
	wantFiles := lim.RlimitNofile
	if c := host.DescriptorCeiling(); c > 0 && c < wantFiles {
		// A container without CAP_SYS_RESOURCE: nginx's setrlimit fails
		// and the workers keep the inherited limit; the plan warned.
		wantFiles = c
		found := false
		for _, w := range e.Warnings {
			found = found || strings.Contains(w.Msg, "caps open files at")
		}
		if !found {
			t.Errorf("no warning about the descriptor ceiling %d: %+v", c, e.Warnings)
		}
		t.Logf("this host caps open files at %d: expecting that instead of %d", c, lim.RlimitNofile)
	}
	for _, w := range workers {
		if n := maxOpenFiles(t, w); n < wantFiles {
			t.Errorf("worker %d: Max open files %d, want %d", w, n, wantFiles)
		}
	}
	out, err := exec.Command("nginx", "-T").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "worker_connections "+strconv.Itoa(lim.Connections)+";") {
		t.Errorf("nginx -T: %v, want worker_connections %d", err, lim.Connections)
	}
	if e.SelfTest == nil || !e.SelfTest.OK() {
		t.Errorf("self-test: %+v", e.SelfTest)
	}

	// Second run: nothing to do.
	e2 := hostEnv(t, a)
	plan2, err := Plan(ctx, e2)
	if err != nil {
		t.Fatal(err)
	}
	if !plan2.Empty() {
		t.Errorf("second plan is not empty:\n%s", plan2.Render(false))
	}
}

func workersOnThisHost() int {
	return server.NginxLimits{WorkerProcesses: "auto"}.Workers(runtime.NumCPU())
}

// childPIDs lists the processes whose parent is pid.
func childPIDs(t *testing.T, pid int) []int {
	t.Helper()
	var out []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		fields := strings.Fields(s[i+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			c, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			out = append(out, c)
		}
	}
	return out
}

// maxOpenFiles is the soft "Max open files" limit of process pid.
func maxOpenFiles(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "limits"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Max open files"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	return 0
}
