package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/rpwizard/rpwizard/host"
)

// The renewal figure (issue #12, "live sessions stay up"): WebSockets held
// through the reloads that certificate renewals make, and WebSockets that
// join after them.

// runWSHold is the `wshold` mode: open -n WebSockets like wsclient, echo
// once on each and print the opening's wsReport as one JSON line; then, for
// each line "check" on stdin, echo once on each open WebSocket and print a
// wsReport with Held (those that answered) and Echo; at the end of stdin
// close them all and exit.
func runWSHold(args []string) int {
	fs := flag.NewFlagSet("wshold", flag.ContinueOnError)
	n := fs.Int("n", 1000, "WebSockets to open")
	src := fs.String("src", "127.0.0.1", "source address")
	root := fs.String("root", "", "PEM root to trust")
	conc := fs.Int("c", 256, "handshakes in flight")
	timeout := fs.Duration("timeout", 10*time.Second, "handshake timeout")
	churn := fs.Bool("churn", false, "open twice -n, then close every other one (sessions that came and went)")
	if fs.Parse(args) != nil {
		return 2
	}
	raiseNofile()
	open := *n
	if *churn {
		open = 2 * *n
	}
	conns, rep := openAll(open, *src, *root, *conc, *timeout)
	var ok atomic.Int64
	rep.Echo = echoAll(conns, *conc, &ok)
	rep.Held = int(ok.Load())
	if *churn {
		for i := 1; i < len(conns); i += 2 {
			if conns[i] != nil {
				conns[i].Close(websocket.StatusNormalClosure, "")
				conns[i] = nil
				rep.Opened--
			}
		}
		rep.Held = rep.Opened
	}
	out := json.NewEncoder(os.Stdout)
	out.Encode(rep)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() != "check" {
			continue
		}
		var held atomic.Int64
		r := wsReport{Tried: *n, Opened: rep.Opened, Errors: map[string]int{}}
		r.Echo = echoAll(conns, *conc, &held)
		r.Held = int(held.Load())
		out.Encode(r)
	}
	for _, c := range conns {
		if c != nil {
			c.CloseNow()
		}
	}
	return 0
}

// wsHolder is a running wshold process.
type wsHolder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	// Opened is the report of its opening.
	Opened wsReport
}

// startHolder starts a wshold process of n WebSockets from loopback
// address src, trusting root, and waits for its opening report.
func (b *bench) startHolder(ctx context.Context, n int, src, root string, churn bool) (*wsHolder, error) {
	cmd := exec.CommandContext(ctx, b.self, "wshold", "-n", strconv.Itoa(n), "-src", src, "-root", root, "-churn="+strconv.FormatBool(churn))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("wshold: %w", err)
	}
	h := &wsHolder{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	if h.Opened, err = h.read(); err != nil {
		h.stop()
		return nil, fmt.Errorf("wshold opening: %w", err)
	}
	return h, nil
}

func (h *wsHolder) read() (wsReport, error) {
	var r wsReport
	line, err := h.out.ReadBytes('\n')
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(line, &r)
}

// check echoes once on each of the holder's WebSockets.
func (h *wsHolder) check() (wsReport, error) {
	if _, err := io.WriteString(h.stdin, "check\n"); err != nil {
		return wsReport{}, fmt.Errorf("wshold: %w", err)
	}
	return h.read()
}

// stop closes the holder's WebSockets and waits for it (killing it after
// 10 s).
func (h *wsHolder) stop() {
	h.stdin.Close()
	done := make(chan struct{})
	go func() { h.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		h.cmd.Process.Kill()
		<-done
	}
}

// renewalResult is one server through -renewals renewals.
type renewalResult struct {
	Server string
	// Variant says how this run differs from the plain one ("" for it).
	Variant string `json:",omitempty"`
	// Churn: twice Held were opened and every other one closed before the
	// first renewal, so the held ones are spread over more processes.
	Churn bool `json:",omitempty"`
	// NoRoom: Apache's ServerLimit was cut to MaxRequestWorkers /
	// ThreadsPerChild after the apply (how rpwizard sized it before).
	NoRoom bool `json:",omitempty"`
	// Reload is how the renewals were made (the command).
	Reload string
	// Limits are the settings that matter, as rpwizard wrote them
	// (worker_shutdown_timeout; Apache's MPM limits).
	Limits string
	// Held and Late are the WebSockets tried before the first renewal and
	// after it.
	Held, Late         int
	HeldOpened         int
	LateOpened         int
	LateErrors         map[string]int
	LateHS50, LateHS99 float64
	Rounds             []renewalRound
	Err                string `json:",omitempty"`
}

// renewalRound is what one renewal left behind.
type renewalRound struct {
	N         int
	RenewSecs float64
	// Err says why the renewal failed ("" when it went through).
	Err string `json:",omitempty"`
	// HeldAlive and LateAlive answered an echo after this renewal (-1:
	// not open yet).
	HeldAlive, LateAlive int
	EchoP50, EchoP99     float64
	// Old are the server's processes from before this renewal's reload
	// that are still alive (nginx: "worker process is shutting down"),
	// OldMiB their memory (proportional set size: shared pages divided
	// among the processes that share them); Procs all its processes but
	// the master.
	Old, Procs int
	OldMiB     float64
}

// renewals holds -renewal-held WebSockets through rpwizard's site on nginx
// and on Apache while `rpwizard renew --force` renews its certificate
// -renewals times against Pebble, opens -renewal-late more after the first
// renewal, and checks after each renewal that all of them still echo, and
// how many server processes of older generations are left, with their
// memory.
func (b *bench) renewals() error {
	b.res.Renewal = nil
	reload := "rpwizard renew --force (Pebble, HTTP-01)"
	cases := []renewalResult{{Server: "nginx"}, {Server: "apache"}}
	if b.renewCompare {
		cases = append(cases,
			renewalResult{Server: "apache", Churn: true, Variant: "sessions that came and went: twice the held ones opened, every other one closed before the first renewal"},
			renewalResult{Server: "apache", Churn: true, NoRoom: true, Variant: "the same, with ServerLimit cut to MaxRequestWorkers / ThreadsPerChild (no room for old processes: how rpwizard sized it before)"})
	}
	for _, r := range cases {
		r.Reload, r.Held, r.Late = reload, b.renewHeld, b.renewLate
		name := "renewals with held WebSockets, " + r.Server
		if r.Variant != "" {
			name += ", " + r.Variant
		}
		err := b.section(name, func(ctx context.Context) error {
			return b.renewalRun(ctx, &r)
		})
		if err != nil {
			r.Err = err.Error()
		}
		b.res.Renewal = append(b.res.Renewal, r)
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) renewalRun(ctx context.Context, r *renewalResult) error {
	be, err := b.startBackends("127.0.0.1:9000", 2)
	if err != nil {
		return err
	}
	defer be.stop()
	ca, err := startPebble(filepath.Join(b.dir, "pebble-renewal-"+r.Server), "Debian Pebble", "/usr/bin/pebble", false)
	if err != nil {
		return err
	}
	defer ca.stop()
	if err := b.fresh(); err != nil {
		return err
	}
	if err := startServer(r.Server); err != nil {
		return err
	}
	f := filepath.Join(b.dir, "renewal-"+r.Server+".yaml")
	if err := os.WriteFile(f, []byte(rpwizardAnswers(r.Server, nil, r.Held+r.Late, ca.DirURL, ca.Bundle)), 0o600); err != nil {
		return err
	}
	apply := exec.CommandContext(ctx, b.rpwizard, "--answers", f)
	apply.Env = b.rpwizardEnv()
	if out, err := apply.CombinedOutput(); err != nil {
		return fmt.Errorf("rpwizard --answers: %v\n%s", err, out)
	}
	if r.NoRoom {
		if err := cutServerLimit(); err != nil {
			return err
		}
	}
	r.Limits = serverLimits(r.Server)
	b.logf("   %s: %s", r.Server, r.Limits)

	held, err := b.startHolder(ctx, r.Held, "127.0.0.20", ca.IssuingRoot, r.Churn)
	if err != nil {
		return err
	}
	defer held.stop()
	r.HeldOpened = held.Opened.Opened
	b.logf("   held: opened %d of %d (errors %v)", held.Opened.Opened, r.Held, held.Opened.Errors)
	var late *wsHolder
	defer func() {
		if late != nil {
			late.stop()
		}
	}()
	for n := 1; n <= b.renewalsN; n++ {
		before := serverChildren(r.Server)
		start := time.Now()
		cmd := exec.CommandContext(ctx, b.rpwizard, "renew", "--force")
		cmd.Env = b.rpwizardEnv()
		out, err := cmd.CombinedOutput()
		round := renewalRound{N: n, RenewSecs: time.Since(start).Seconds(), LateAlive: -1}
		if err != nil {
			// A measured outcome, not a failure of the bench: the renewal
			// itself did not get through (the server had no room for the
			// CA's challenge request, say). The held WebSockets are still
			// counted; no further renewal is tried.
			round.Err = renewFailure(out, err)
			b.logf("   renewal %d FAILED (%.1f s): %s", n, round.RenewSecs, round.Err)
			r.Err = fmt.Sprintf("renewal %d failed: %s", n, round.Err)
		}
		h, err := held.check()
		if err != nil {
			return err
		}
		round.HeldAlive = h.Held
		var echo []float64
		for _, v := range h.Echo {
			echo = append(echo, float64(v))
		}
		if n == 1 && round.Err == "" {
			if late, err = b.startHolder(ctx, r.Late, "127.0.0.21", ca.IssuingRoot, false); err != nil {
				return err
			}
			o := late.Opened
			r.LateOpened, r.LateErrors = o.Opened, o.Errors
			var hs []float64
			for _, v := range o.Handshake {
				hs = append(hs, float64(v))
			}
			r.LateHS50, r.LateHS99 = percentile(hs, 50), percentile(hs, 99)
			round.LateAlive = o.Held
			for _, v := range o.Echo {
				echo = append(echo, float64(v))
			}
		} else if late != nil {
			l, err := late.check()
			if err != nil {
				return err
			}
			round.LateAlive = l.Held
			for _, v := range l.Echo {
				echo = append(echo, float64(v))
			}
		}
		round.EchoP50, round.EchoP99 = percentile(echo, 50), percentile(echo, 99)
		after := serverChildren(r.Server)
		round.Procs = len(after)
		for pid, p := range after {
			if _, ok := before[pid]; ok && (r.Server != "nginx" || p.shuttingDown) {
				round.Old++
				round.OldMiB += p.rssMiB
			}
		}
		b.logf("   renewal %d (%.1f s): held %d/%d alive, late %d/%d; %d processes, %d from before this reload (%.1f MiB); echo p50 %s p99 %s ms",
			n, round.RenewSecs, round.HeldAlive, r.HeldOpened, round.LateAlive, r.LateOpened, round.Procs, round.Old, round.OldMiB, ms(round.EchoP50), ms(round.EchoP99))
		r.Rounds = append(r.Rounds, round)
		if round.Err != "" {
			break
		}
	}
	return nil
}

// renewFailure is the first line of what `rpwizard renew` said when it
// failed.
func renewFailure(out []byte, err error) string {
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(strings.TrimPrefix(l, "rpwizard renew:")); l != "" {
			return strings.Join(strings.Fields(l), " ")
		}
	}
	return err.Error()
}

// proc is a server process.
type proc struct {
	shuttingDown bool
	rssMiB       float64
}

// serverChildren are the processes of the running nginx or Apache but its
// master, by PID.
func serverChildren(server string) map[int]proc {
	pidFile := "/run/nginx.pid"
	if server == "apache" {
		pidFile = "/run/apache2/apache2.pid"
	}
	data, _ := os.ReadFile(pidFile)
	master, err := strconv.Atoi(strings.TrimSpace(string(data)))
	out := map[int]proc{}
	if err != nil {
		return out
	}
	for pid := range host.Children(master) {
		dir := filepath.Join("/proc", strconv.Itoa(pid))
		cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
		out[pid] = proc{shuttingDown: bytes.Contains(cmdline, []byte("shutting down")), rssMiB: pssMiB(dir)}
	}
	return out
}

var rePss = regexp.MustCompile(`(?m)^Pss:\s+(\d+) kB`)

// pssMiB is the proportional set size of the process of /proc/PID dir
// (its private pages and its share of the shared ones), in MiB.
func pssMiB(dir string) float64 {
	data, err := os.ReadFile(filepath.Join(dir, "smaps_rollup"))
	if err != nil {
		return 0
	}
	m := rePss.FindSubmatch(data)
	if m == nil {
		return 0
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return float64(kb) / 1024
}

// serverLimits are the settings rpwizard wrote that decide what a reload
// does to held WebSockets: nginx's worker_shutdown_timeout (with its
// reason) and worker_connections; Apache's event MPM limits.
func serverLimits(server string) string {
	file, keep := "/etc/nginx/nginx.conf", []string{"worker_processes", "worker_connections", "worker_shutdown_timeout"}
	if server == "apache" {
		file, keep = "/etc/apache2/mods-available/mpm_event.conf", []string{"ServerLimit", "ThreadsPerChild", "MaxRequestWorkers"}
	}
	data, _ := os.ReadFile(file)
	var parts []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(strings.TrimSuffix(strings.SplitN(l, "#", 2)[0], ";"))
		if len(f) >= 2 && slices.Contains(keep, f[0]) {
			parts = append(parts, strings.TrimSuffix(f[0]+" "+f[1], ";"))
		}
	}
	return strings.Join(parts, ", ")
}

// cutServerLimit sets Apache's ServerLimit to MaxRequestWorkers /
// ThreadsPerChild in mpm_event.conf, the sizing without room for a
// graceful restart's old processes, and restarts Apache.
func cutServerLimit() error {
	const file = "/etc/apache2/mods-available/mpm_event.conf"
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	vals := map[string]int{}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			if n, err := strconv.Atoi(f[1]); err == nil {
				vals[f[0]] = n
			}
		}
	}
	if vals["ThreadsPerChild"] == 0 || vals["MaxRequestWorkers"] == 0 {
		return fmt.Errorf("%s: no ThreadsPerChild and MaxRequestWorkers", file)
	}
	limit := vals["MaxRequestWorkers"] / vals["ThreadsPerChild"]
	out := regexp.MustCompile(`(?m)^(\s*ServerLimit\s+)\d+`).ReplaceAllString(string(data), "${1}"+strconv.Itoa(limit))
	if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
		return err
	}
	stopServers()
	return startServer("apache")
}

// renewalNotes explain the renewal figure's settings; they are the same
// in every run.
const renewalNotes = `
*nginx*: a reload starts new workers and tells the old ones to finish
their connections; a WebSocket held through it keeps its old worker (and
the worker its memory) until it closes, which with the 7-day WebSocket
timeout of rpwizard's JATOS locations may take a week, and every renewal
adds a generation. rpwizard therefore sets ` + "`worker_shutdown_timeout`" + ` in
nginx.conf (the server limits step, backed up and rolled back like every
change; the reason in a comment on its line): the longest reload grace of
the apps of the host's nginx sites — 6 h for JupyterHub and CryoSPARC,
whose sessions run for hours and whose clients reconnect, 1 h for JATOS
and generic apps — cut to an hour below the renewal interval (at least
half of it) when certificates are renewed more often than that: 3 h with
6-day (` + "`shortlived`" + `) certificates renewed every 4 hours, so that one
renewal's old workers are gone before the next renewal. After the timeout
nginx closes what is left and the clients reconnect to a new worker. A
` + "`worker_shutdown_timeout`" + ` the admin wrote (no ` + "`# rpwizard:`" + ` comment) is kept as
it is, and the plan says so. The timeout comes from the old workers' own
config: workers started before rpwizard first wrote it are not bounded.
Here the JATOS site gets 1 h, so every old worker that holds WebSockets
is still there at the end of the run, seconds after the renewals; those of
a reload that got no WebSocket exit at once.

*Apache* (event MPM): a graceful restart (` + "`apache2ctl graceful`" + `) lets the old
children finish their connections with no time limit
(` + "`GracefulShutdownTimeout`" + ` applies to ` + "`graceful-stop`" + ` only), and each old child that
still tunnels a WebSocket keeps its scoreboard slot ("G"). They do not
count against ` + "`MaxRequestWorkers`" + `, but the new children need free slots
up to ` + "`ServerLimit`" + `. rpwizard therefore sets ` + "`ServerLimit`" + ` to twice the processes
that ` + "`MaxRequestWorkers`" + ` needs (room for one old generation beside a full new
one; the scoreboard costs a few hundred bytes per slot and thread).
`

// rpwizardEnv is the environment of an rpwizard run with ACME: the
// renewal entry it writes names the bench's own build of rpwizard (in a
// temporary directory, which a real apply refuses; the section restores
// /etc/cron.d afterwards).
func (b *bench) rpwizardEnv() []string {
	return append(os.Environ(), "RPWIZARD_TEST_RENEWAL_BINARY="+b.rpwizard)
}
