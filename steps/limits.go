package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/preflight"
)

// limitsStep is the step name of the server-limits warnings.
const limitsStep = "server limits"

// planLimits raises the server's connection limits for expected_websockets,
// with the same backup, config test, reload and rollback as every other
// change. It only ever raises a limit, and edits the directives of the
// existing main config in place (comments, includes and every other line
// stay as they are), so a second run with the same answers plans nothing.
//
//   - nginx: worker_connections in events{} and worker_rlimit_nofile in the
//     main context of nginx.conf. Each proxied WebSocket holds two
//     connections (client and upstream) in one worker; the workers get the
//     descriptor limit from worker_rlimit_nofile (set by the master, as
//     root), so neither ulimit -n nor systemd's LimitNOFILE needs changing.
//   - Apache (event MPM): ServerLimit, ThreadsPerChild and MaxRequestWorkers
//     in mods-available/mpm_event.conf (Debian) or a file of its own in
//     conf.modules.d (RHEL family). mod_proxy's WebSocket tunnel keeps one
//     worker thread per open WebSocket, so MaxRequestWorkers is the number
//     of WebSockets Apache can hold. A larger ServerLimit is ignored by a
//     graceful reload, so Apache is restarted once (after the config test)
//     when it grows. Descriptors are no concern: each child holds at most
//     two per thread (ThreadsPerChild ≤ ThreadLimit, 64 by default), far
//     below the `ulimit -n 8192` apache2ctl sets.
func planLimits(ctx context.Context, e *Env) ([]installer.Change, error) {
	kept := e.Warnings[:0]
	for _, w := range e.Warnings {
		if w.Step != limitsStep {
			kept = append(kept, w)
		}
	}
	e.Warnings = kept
	want := e.Answers.ExpectedWebSockets
	if want <= 0 {
		return nil, nil
	}
	switch e.Answers.Server {
	case "nginx":
		return planNginxLimits(e, want)
	case "apache":
		return planApacheLimits(e, want)
	}
	return nil, nil
}

// planNginxLimits edits nginx.conf; when nginx is installed by this very run
// (install_missing), the file does not exist yet and the edit is made when
// the change is applied.
func planNginxLimits(e *Env, want int) ([]installer.Change, error) {
	path := e.Host.Layout.NginxMain
	ncpu := runtime.NumCPU()
	conf, mode, err := readConf(path)
	if errors.Is(err, fs.ErrNotExist) {
		why := fmt.Sprintf("raise nginx's worker_connections for %d WebSockets (expected_websockets) once nginx is installed", want)
		return []installer.Change{{Kind: installer.Action, Why: why, Do: func(ctx context.Context, tx *installer.Tx) error {
			conf, mode, err := readConf(path)
			if err != nil {
				return err
			}
			out, l, err := NginxLimitsFor(conf, want, ncpu)
			if err != nil || out == nil {
				return err
			}
			return tx.Apply(ctx, installer.Change{Kind: installer.WriteFile, Path: path, Data: out, Mode: mode, Why: l.why(want)})
		}}}, nil
	}
	if err != nil {
		return nil, err
	}
	out, l, err := NginxLimitsFor(conf, want, ncpu)
	if err != nil {
		e.Warn(limitsStep, fmt.Sprintf("%s: %v", path, err), fmt.Sprintf("set worker_connections %d; in the events block of %s", l.Connections, path))
		return nil, nil
	}
	if out == nil {
		return nil, nil
	}
	if cap := DescriptorCeiling(); !e.Host.Fake() && cap > 0 && cap < l.RlimitNofile {
		e.Warn(limitsStep, fmt.Sprintf("this host caps open files at %d per process (hard limit, and no CAP_SYS_RESOURCE to raise it, as in a container): nginx's workers cannot take worker_rlimit_nofile %d, so about %d WebSockets fit",
			cap, l.RlimitNofile, cap*l.Workers/2), "raise the container's or the service's hard limit (LimitNOFILE, docker --ulimit nofile=…)")
	}
	return []installer.Change{{Kind: installer.WriteFile, Path: path, Data: out, Mode: mode, Why: l.why(want)}}, nil
}

// DescriptorCeiling is the open-files hard limit that a root process of
// this host cannot go beyond (0: none, CAP_SYS_RESOURCE lets it).
func DescriptorCeiling() int {
	if hasCapability(24) { // CAP_SYS_RESOURCE
		return 0
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Max > 1<<30 {
		return 0
	}
	return int(rl.Max)
}

// hasCapability reports whether this process has capability bit in its
// effective set.
func hasCapability(bit uint) bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(data), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			v, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err != nil || v&(1<<bit) != 0
		}
	}
	return true
}

func readConf(path string) ([]byte, fs.FileMode, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	data, err := os.ReadFile(path)
	return data, fi.Mode().Perm(), err
}

// NginxLimits are the limits NginxLimitsFor sets.
type NginxLimits struct {
	Workers, Connections, RlimitNofile int
}

func (l NginxLimits) why(want int) string {
	return fmt.Sprintf("worker_connections %d and worker_rlimit_nofile %d (%d workers) for %d WebSockets (expected_websockets)",
		l.Connections, l.RlimitNofile, l.Workers, want)
}

var (
	reNginxWC     = regexp.MustCompile(`(?:^|[\s;{])worker_connections\s+(\d+)\s*;`)
	reNginxRlimit = regexp.MustCompile(`(?:^|[\s;{])worker_rlimit_nofile\s+(\d+)\s*;`)
	reNginxEvents = regexp.MustCompile(`(?m)^[ \t]*events\s*\{`)
)

// NginxLimitsFor returns conf with worker_connections and
// worker_rlimit_nofile raised so that want WebSockets fit on ncpu CPUs, or
// nil when conf already allows them. The sizing is preflight's (two
// connections per WebSocket, a fifth more for ordinary requests and uneven
// spreading over the workers, rounded up to 64), and the descriptor limit
// is twice the connections. Only the numbers change; a directive that is missing is
// added (worker_connections as the first line of events{},
// worker_rlimit_nofile on the line before it).
func NginxLimitsFor(conf []byte, want, ncpu int) ([]byte, NginxLimits, error) {
	cur := preflight.ParseNginxLimits(conf)
	l := NginxLimits{Workers: cur.Workers(ncpu)}
	need := preflight.NeededConnections(want, l.Workers)
	l.Connections = max(cur.Connections(), need)
	l.RlimitNofile = cur.RlimitNofile
	raiseWC := cur.Connections() < need
	// The workers inherit the master's descriptor limit (1024 under
	// systemd) unless worker_rlimit_nofile says otherwise.
	inherited := max(cur.RlimitNofile, 1024)
	raiseRlimit := (raiseWC && cur.RlimitNofile < 2*l.Connections) || inherited < need
	if raiseRlimit {
		l.RlimitNofile = 2 * l.Connections
	}
	if !raiseWC && !raiseRlimit {
		return nil, l, nil
	}
	events := reNginxEvents.FindIndex(conf)
	if events == nil {
		return nil, l, errors.New("no events { } block to set worker_connections in")
	}
	out := conf
	if raiseWC {
		if loc := liveNum(reNginxWC, out); loc != nil {
			out = splice(out, loc[0], loc[1], strconv.Itoa(l.Connections))
		} else {
			out = splice(out, events[1], events[1], fmt.Sprintf("\n\tworker_connections %d;", l.Connections))
		}
	}
	if raiseRlimit {
		if loc := liveNum(reNginxRlimit, out); loc != nil {
			out = splice(out, loc[0], loc[1], strconv.Itoa(l.RlimitNofile))
		} else {
			at := reNginxEvents.FindIndex(out)[0]
			out = splice(out, at, at, fmt.Sprintf("worker_rlimit_nofile %d;\n", l.RlimitNofile))
		}
	}
	return out, l, nil
}

// liveNum is the position of the number of the first match of re that is
// not in a comment.
func liveNum(re *regexp.Regexp, b []byte) []int {
	for _, m := range re.FindAllSubmatchIndex(b, -1) {
		start := bytes.LastIndexByte(b[:m[2]], '\n') + 1
		if bytes.IndexByte(b[start:m[2]], '#') < 0 {
			return m[2:4]
		}
	}
	return nil
}

func splice(b []byte, from, to int, s string) []byte {
	out := make([]byte, 0, len(b)+len(s))
	out = append(out, b[:from]...)
	out = append(out, s...)
	return append(out, b[to:]...)
}

// ApacheLimits are the event MPM limits ApacheEventLimitsFor sets.
type ApacheLimits struct {
	ServerLimit, ThreadLimit, ThreadsPerChild, MaxRequestWorkers int
	// Restart: ServerLimit grew, which a graceful reload ignores.
	Restart bool
}

// Compiled-in defaults of the event MPM, and its hard maximum.
const (
	apacheDefServerLimit = 16
	apacheDefThreadLimit = 64
	apacheDefThreads     = 25
	apacheMaxServerLimit = 20000
)

var reApacheDirective = regexp.MustCompile(`(?mi)^[ \t]*(ServerLimit|ThreadLimit|ThreadsPerChild|MaxRequestWorkers|MaxClients|StartServers)([ \t]+)(\d+)[ \t]*\r?$`)

// ApacheEventLimitsFor returns the event MPM config conf with the limits
// raised for want WebSockets, or nil when conf already allows them.
// ThreadsPerChild goes up to ThreadLimit (which itself needs a restart to
// change, so it stays), ServerLimit to the processes needed, and
// MaxRequestWorkers to ServerLimit × ThreadsPerChild. Numbers are changed
// in place; a missing directive is added before the first MPM directive
// (or at the end, inside <IfModule mpm_event_module> when the file has
// one).
func ApacheEventLimitsFor(conf []byte, want int) ([]byte, ApacheLimits) {
	vals := map[string]int{}
	pos := map[string][]int{}
	first := -1
	for _, m := range reApacheDirective.FindAllSubmatchIndex(conf, -1) {
		name := strings.ToLower(string(conf[m[2]:m[3]]))
		if name == "maxclients" {
			name = "maxrequestworkers"
		}
		n, _ := strconv.Atoi(string(conf[m[6]:m[7]]))
		vals[name], pos[name] = n, m
		if first < 0 {
			first = m[0]
		}
	}
	get := func(name string, def int) int {
		if v, ok := vals[name]; ok && v > 0 {
			return v
		}
		return def
	}
	cur := ApacheLimits{ServerLimit: get("serverlimit", apacheDefServerLimit), ThreadLimit: get("threadlimit", apacheDefThreadLimit),
		ThreadsPerChild: get("threadsperchild", apacheDefThreads)}
	cur.ThreadsPerChild = min(cur.ThreadsPerChild, cur.ThreadLimit)
	cur.MaxRequestWorkers = min(get("maxrequestworkers", cur.ServerLimit*cur.ThreadsPerChild), cur.ServerLimit*cur.ThreadsPerChild)
	need := preflight.ApacheThreadsFor(want)
	if cur.MaxRequestWorkers >= need {
		return nil, cur
	}
	l := cur
	l.ThreadsPerChild = max(cur.ThreadsPerChild, min(cur.ThreadLimit, 64))
	procs := (need + l.ThreadsPerChild - 1) / l.ThreadsPerChild
	l.ServerLimit = min(max(cur.ServerLimit, procs), apacheMaxServerLimit)
	l.MaxRequestWorkers = l.ServerLimit * l.ThreadsPerChild
	l.Restart = l.ServerLimit > cur.ServerLimit

	set := map[string]int{"threadsperchild": l.ThreadsPerChild, "serverlimit": l.ServerLimit, "maxrequestworkers": l.MaxRequestWorkers}
	names := map[string]string{"threadsperchild": "ThreadsPerChild", "serverlimit": "ServerLimit", "maxrequestworkers": "MaxRequestWorkers"}
	type edit struct {
		at, to int
		s      string
	}
	var edits []edit
	var missing []string
	for _, name := range []string{"serverlimit", "threadsperchild", "maxrequestworkers"} {
		if m, ok := pos[name]; ok {
			if vals[name] != set[name] {
				edits = append(edits, edit{m[6], m[7], strconv.Itoa(set[name])})
			}
			continue
		}
		if name == "serverlimit" && !l.Restart || name == "threadsperchild" && l.ThreadsPerChild == cur.ThreadsPerChild {
			continue // the default is the value
		}
		missing = append(missing, fmt.Sprintf("%-24s%d\n", names[name], set[name]))
	}
	if len(missing) > 0 {
		at := first
		if at < 0 {
			at = len(conf)
			if i := bytes.LastIndex(bytes.ToLower(conf), []byte("</ifmodule>")); i >= 0 {
				at = bytes.LastIndexByte(conf[:i], '\n') + 1
			} else if at > 0 && conf[at-1] != '\n' {
				missing[0] = "\n" + missing[0]
			}
		}
		indent := ""
		if first >= 0 {
			indent = string(conf[first : first+len(conf[first:])-len(bytes.TrimLeft(conf[first:], " \t"))])
		}
		var s strings.Builder
		for _, line := range missing {
			s.WriteString(indent + line)
		}
		edits = append(edits, edit{at, at, s.String()})
	}
	// Apply from the end of the file so that earlier positions stay valid.
	sort.Slice(edits, func(i, j int) bool { return edits[i].at > edits[j].at })
	out := conf
	for _, ed := range edits {
		out = splice(out, ed.at, ed.to, ed.s)
	}
	return out, l
}

// apacheLimitsFile is the file that holds the event MPM limits: Debian's
// mods-available/mpm_event.conf, or rpwizard's own file in conf.modules.d.
func (e *Env) apacheLimitsFile() (path string, own bool) {
	l := e.Host.Layout
	if l.ApacheModsAvail != "" {
		return filepath.Join(l.ApacheModsAvail, "mpm_event.conf"), false
	}
	return filepath.Join(l.ApacheModulesD, "01-rpwizard-mpm.conf"), true
}

func planApacheLimits(e *Env, want int) ([]installer.Change, error) {
	l := e.Host.Layout
	loaded := l.ApacheLoaded()
	if !loaded["mpm_event"] && (loaded["mpm_prefork"] || loaded["mpm_worker"]) {
		e.Warn(limitsStep, fmt.Sprintf("Apache runs the %s MPM: rpwizard sizes only the event MPM, and expected_websockets %d was not checked",
			map[bool]string{true: "prefork", false: "worker"}[loaded["mpm_prefork"]], want),
			fmt.Sprintf("switch to the event MPM (a2dismod mpm_prefork mpm_worker && a2enmod mpm_event) and run rpwizard again, or set MaxRequestWorkers ≥ %d yourself", preflight.ApacheThreadsFor(want)))
		return nil, nil
	}
	path, own := e.apacheLimitsFile()
	conf, mode, err := readConf(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && own:
		conf, mode = []byte("# Managed by rpwizard: event MPM limits for expected_websockets.\n<IfModule mpm_event_module>\n</IfModule>\n"), 0o644
	case errors.Is(err, fs.ErrNotExist):
		e.Warn(limitsStep, fmt.Sprintf("%s does not exist: Apache's event MPM limits were not raised for %d WebSockets", path, want),
			fmt.Sprintf("set MaxRequestWorkers %d (ServerLimit × ThreadsPerChild at least as much) in the event MPM config", preflight.ApacheThreadsFor(want)))
		return nil, nil
	case err != nil:
		return nil, err
	}
	out, lim := ApacheEventLimitsFor(conf, want)
	if out == nil {
		return nil, nil
	}
	e.warnThreads(lim.MaxRequestWorkers)
	changes := []installer.Change{{Kind: installer.WriteFile, Path: path, Data: out, Mode: mode,
		Why: fmt.Sprintf("event MPM: ServerLimit %d × ThreadsPerChild %d = MaxRequestWorkers %d, one thread per WebSocket, for %d WebSockets (expected_websockets)",
			lim.ServerLimit, lim.ThreadsPerChild, lim.MaxRequestWorkers, want)}}
	if lim.Restart {
		changes = append(changes, installer.Change{Kind: installer.Action,
			Why: fmt.Sprintf("restart Apache once the config test passes: a graceful reload keeps the old ServerLimit (%d processes)", lim.ServerLimit),
			Do: func(ctx context.Context, tx *installer.Tx) error {
				if !e.Server.Running() {
					return nil // the reload step starts it with the new limits
				}
				// Config test and graceful reload first: the transaction
				// then knows the server saw new files, so a rollback
				// reloads the old ones.
				if err := tx.Reload(ctx); err != nil {
					return err
				}
				if err := e.Server.Stop(ctx); err != nil {
					return err
				}
				return e.Server.ReloadOrStart(ctx)
			}})
	}
	return changes, nil
}

// warnThreads warns when the kernel may not give Apache that many threads
// (every thread takes a process id).
func (e *Env) warnThreads(threads int) {
	if e.Host.Fake() {
		return
	}
	data, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		return
	}
	pidMax, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if pidMax > 0 && threads > pidMax/2 {
		e.Warn(limitsStep, fmt.Sprintf("Apache may start %d threads, more than half of kernel.pid_max %d (each thread takes a process id)", threads, pidMax),
			"sysctl -w kernel.pid_max=4194304 (and put it in /etc/sysctl.d/ to keep it)")
	}
	if e.Host.Systemd && threads > 4000 {
		e.Warn(limitsStep, fmt.Sprintf("systemd may cap %s at fewer tasks than its %d threads (TasksMax)", e.Host.Layout.ApacheService, threads),
			fmt.Sprintf("systemctl set-property %s TasksMax=infinity", e.Host.Layout.ApacheService))
	}
}
