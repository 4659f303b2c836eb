package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
)

// apacheMPMDirective is an MPM limit of an Apache config: a directive of
// one number.
type apacheMPMDirective struct {
	apacheDirective
	Key   string // lower-case; MaxClients is maxrequestworkers
	Value int
}

// apacheMPMNames are the MPM directives rpwizard reads, lower-case.
var apacheMPMNames = map[string]string{"serverlimit": "serverlimit", "threadlimit": "threadlimit", "threadsperchild": "threadsperchild",
	"maxrequestworkers": "maxrequestworkers", "maxclients": "maxrequestworkers", "startservers": "startservers"}

// apacheMPMDirectives are conf's MPM limits, in order: the one parser of
// them, for reading and for raising.
func apacheMPMDirectives(conf []byte) []apacheMPMDirective {
	var out []apacheMPMDirective
	for _, d := range apacheDirectives(conf) {
		key, ok := apacheMPMNames[strings.ToLower(d.Name)]
		if !ok || len(d.Args) != 1 {
			continue
		}
		n, err := strconv.Atoi(d.Args[0].Text)
		if err != nil || n < 0 {
			continue
		}
		out = append(out, apacheMPMDirective{apacheDirective: d, Key: key, Value: n})
	}
	return out
}

// ApacheLimits are the MPM settings that bound simultaneous connections.
type ApacheLimits struct {
	MPM               string // event, worker or prefork ("" when unknown)
	MaxRequestWorkers int    // 0: the MPM's default
	ThreadsPerChild   int    // 0: default 25
	ServerLimit       int    // 0: default 16
	File              string // where MaxRequestWorkers is set ("" if not)
}

// readMPMLimits finds the MPM and its limits in every file Apache
// reads (ReadConfig); the last setting read wins, as in Apache.
func (a apache) readMPMLimits(ctx context.Context) ApacheLimits {
	var lim ApacheLimits
	loaded := a.h.Layout.ApacheLoaded()
	for _, m := range []string{"event", "worker", "prefork"} {
		if loaded["mpm_"+m] {
			lim.MPM = m
		}
	}
	cfg, err := a.ReadConfig(ctx)
	if err != nil {
		return lim
	}
	for _, f := range cfg.Files {
		for _, d := range apacheMPMDirectives(f.Data) {
			switch d.Key {
			case "maxrequestworkers":
				lim.MaxRequestWorkers, lim.File = d.Value, f.Path
			case "threadsperchild":
				lim.ThreadsPerChild = d.Value
			case "serverlimit":
				lim.ServerLimit = d.Value
			}
		}
	}
	return lim
}

// Workers is MaxRequestWorkers, or the MPM's default (event and worker:
// ServerLimit 16 × ThreadsPerChild 25 = 400; prefork: 256).
func (a ApacheLimits) Workers() int {
	switch {
	case a.MaxRequestWorkers > 0:
		return a.MaxRequestWorkers
	case a.MPM == "prefork":
		return 256
	}
	return 400
}

// ApacheThreadsFor is the number of worker threads (MaxRequestWorkers)
// that carry want WebSockets: one each, a fifth more for ordinary
// requests, and 25 spare.
func ApacheThreadsFor(want int) int { return want*6/5 + 25 }

// Limits: Apache's proxy holds a worker (a thread, or a process with
// prefork) for each WebSocket it tunnels, so MaxRequestWorkers bounds the
// simultaneous WebSockets.
func (a apache) Limits(ctx context.Context, want, ncpu int) Limits {
	if !a.Installed() {
		return Limits{Unchecked: "Apache is not installed yet: MaxRequestWorkers not checked"}
	}
	lim := a.readMPMLimits(ctx)
	mpm := lim.MPM
	if mpm == "" {
		mpm = "unknown"
	}
	set := "default"
	if lim.File != "" {
		set = "set in " + short(a.h.Layout.Root, lim.File)
	}
	raise := "the server limits step raises the MPM's limits"
	if lim.MPM != "event" {
		raise = "rpwizard raises the limits of the event MPM only"
	}
	out := Limits{
		How: fmt.Sprintf("Apache allows about %d simultaneous WebSockets (MaxRequestWorkers %d, %s; %s MPM: each proxied WebSocket holds a worker)",
			lim.Workers(), lim.Workers(), set, mpm),
		Directive: "MaxRequestWorkers", Have: lim.Workers(), Need: ApacheThreadsFor(want), Spare: "a fifth and 25 threads", Raise: raise,
	}
	// Enough threads, but no room beside them for a graceful restart's
	// old processes: the limits step raises ServerLimit (ApacheEventLimitsFor).
	if lim.MPM == "event" && want > 0 && out.Have >= out.Need {
		tpc, sl := lim.ThreadsPerChild, lim.ServerLimit
		if tpc <= 0 {
			tpc = apacheDefThreads
		}
		if sl <= 0 {
			sl = apacheDefServerLimit
		}
		if need := min(2*ApacheActiveProcesses(lim.Workers(), tpc), apacheMaxServerLimit); sl < need {
			out.How += fmt.Sprintf(", but ServerLimit %d leaves no room for the processes a graceful restart (a renewal) leaves holding WebSockets", sl)
			out.Directive, out.Have, out.Need = "ServerLimit", sl, need
			out.Spare, out.Raise = "room for a reload's old processes", "the server limits step raises it (and restarts Apache once)"
		}
	}
	return out
}

// ApacheRaise are the event MPM limits ApacheEventLimitsFor sets.
type ApacheRaise struct {
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

// ApacheActiveProcesses is how many child processes serve
// maxRequestWorkers threads at threadsPerChild each: the event MPM's
// limit of active (not gracefully finishing) processes.
func ApacheActiveProcesses(maxRequestWorkers, threadsPerChild int) int {
	if threadsPerChild < 1 {
		return maxRequestWorkers
	}
	return (maxRequestWorkers + threadsPerChild - 1) / threadsPerChild
}

// ApacheEventLimitsFor returns the event MPM config conf with the limits
// raised for want WebSockets, or nil when conf already allows them.
// ThreadsPerChild goes up to ThreadLimit (which itself needs a restart to
// change, so it stays), MaxRequestWorkers to the threads needed (a
// multiple of ThreadsPerChild), and ServerLimit to twice the processes
// that serves: a graceful restart (a renewal's reload) leaves the old
// processes in their scoreboard slots while they hold WebSockets, and the
// new processes need slots of their own, or late connections wait in the
// listen queue ("scoreboard is full, not at MaxRequestWorkers"). Numbers are changed
// in place; a missing directive is added before the first MPM directive
// (or at the end, inside <IfModule mpm_event_module> when the file has
// one).
func ApacheEventLimitsFor(conf []byte, want int) ([]byte, ApacheRaise) {
	vals := map[string]int{}
	pos := map[string]apacheMPMDirective{}
	var first *apacheMPMDirective
	all := apacheMPMDirectives(conf)
	for i, d := range all {
		vals[d.Key], pos[d.Key] = d.Value, d
		if first == nil {
			first = &all[i]
		}
	}
	get := func(name string, def int) int {
		if v, ok := vals[name]; ok && v > 0 {
			return v
		}
		return def
	}
	cur := ApacheRaise{ServerLimit: get("serverlimit", apacheDefServerLimit), ThreadLimit: get("threadlimit", apacheDefThreadLimit),
		ThreadsPerChild: get("threadsperchild", apacheDefThreads)}
	cur.ThreadsPerChild = min(cur.ThreadsPerChild, cur.ThreadLimit)
	cur.MaxRequestWorkers = min(get("maxrequestworkers", cur.ServerLimit*cur.ThreadsPerChild), cur.ServerLimit*cur.ThreadsPerChild)
	need := ApacheThreadsFor(want)
	l := cur
	if cur.MaxRequestWorkers < need {
		l.ThreadsPerChild = max(cur.ThreadsPerChild, min(cur.ThreadLimit, 64))
		l.MaxRequestWorkers = (need + l.ThreadsPerChild - 1) / l.ThreadsPerChild * l.ThreadsPerChild
	}
	// A graceful restart's old processes keep their scoreboard slots
	// until their last connection (a held WebSocket) ends; the new
	// generation gets the free slots up to ServerLimit. So ServerLimit
	// leaves room for one old generation beside a full new one.
	l.ServerLimit = min(max(cur.ServerLimit, 2*ApacheActiveProcesses(l.MaxRequestWorkers, l.ThreadsPerChild)), apacheMaxServerLimit)
	l.MaxRequestWorkers = min(l.MaxRequestWorkers, l.ServerLimit*l.ThreadsPerChild)
	if l == cur {
		return nil, cur
	}
	l.Restart = l.ServerLimit > cur.ServerLimit

	set := map[string]int{"threadsperchild": l.ThreadsPerChild, "serverlimit": l.ServerLimit, "maxrequestworkers": l.MaxRequestWorkers}
	names := map[string]string{"threadsperchild": "ThreadsPerChild", "serverlimit": "ServerLimit", "maxrequestworkers": "MaxRequestWorkers"}
	var edits []edit
	var missing []string
	for _, name := range []string{"serverlimit", "threadsperchild", "maxrequestworkers"} {
		if d, ok := pos[name]; ok {
			if vals[name] != set[name] {
				edits = append(edits, edit{d.Args[0].Start, d.Args[0].End, strconv.Itoa(set[name])})
			}
			continue
		}
		if name == "serverlimit" && !l.Restart || name == "threadsperchild" && l.ThreadsPerChild == cur.ThreadsPerChild {
			continue // the default is the value
		}
		missing = append(missing, fmt.Sprintf("%-24s%d\n", names[name], set[name]))
	}
	if len(missing) > 0 {
		var at int
		indent := ""
		if first != nil {
			at, indent = first.Start, first.Indent
		} else {
			at = len(conf)
			closing := -1
			for _, d := range apacheDirectives(conf) {
				if strings.EqualFold(d.Name, "</IfModule>") {
					closing = d.Start
				}
			}
			if closing >= 0 {
				at = closing
			} else if at > 0 && conf[at-1] != '\n' {
				missing[0] = "\n" + missing[0]
			}
		}
		var s strings.Builder
		for _, line := range missing {
			s.WriteString(indent + line)
		}
		edits = append(edits, edit{at, at, s.String()})
	}
	return applyEdits(conf, edits), l
}

// apacheLimitsFile is the file that holds the event MPM limits: Debian's
// mods-available/mpm_event.conf, or rpwizard's own file in conf.modules.d.
func (a apache) apacheLimitsFile() (path string, own bool) {
	l := a.h.Layout
	if l.ApacheModsAvail != "" {
		return filepath.Join(l.ApacheModsAvail, "mpm_event.conf"), false
	}
	return filepath.Join(l.ApacheModulesD, "01-rpwizard-mpm.conf"), true
}

// PlanLimits raises ServerLimit, ThreadsPerChild and MaxRequestWorkers of
// the event MPM in mods-available/mpm_event.conf (Debian) or a file of
// its own in conf.modules.d (RHEL family). mod_proxy's WebSocket tunnel
// keeps one worker thread per open WebSocket, so MaxRequestWorkers is the
// number of WebSockets Apache can hold; ServerLimit is twice the
// processes of MaxRequestWorkers, for a graceful restart's old generation
// (see ApacheEventLimitsFor). r.Shutdown is ignored: a graceful restart
// has no time bound (GracefulShutdownTimeout applies to graceful-stop
// only), and the old processes hold slots, not MaxRequestWorkers. A larger ServerLimit is ignored
// by a graceful reload, so Apache is restarted once (after the config
// test) when it grows. Descriptors are no concern: each child holds at
// most two per thread (ThreadsPerChild ≤ ThreadLimit, 64 by default), far
// below the `ulimit -n 8192` apache2ctl sets.
func (a apache) PlanLimits(ctx context.Context, r LimitsRequest, ctl *installer.Server) (LimitsPlan, error) {
	var p LimitsPlan
	want := r.Want
	if want <= 0 {
		return p, nil
	}
	loaded := a.h.Layout.ApacheLoaded()
	if !loaded["mpm_event"] && (loaded["mpm_prefork"] || loaded["mpm_worker"]) {
		p.warn(fmt.Sprintf("Apache runs the %s MPM: rpwizard sizes only the event MPM, and expected_websockets %d was not checked",
			map[bool]string{true: "prefork", false: "worker"}[loaded["mpm_prefork"]], want),
			fmt.Sprintf("switch to the event MPM (a2dismod mpm_prefork mpm_worker && a2enmod mpm_event) and run rpwizard again, or set MaxRequestWorkers ≥ %d yourself", ApacheThreadsFor(want)))
		return p, nil
	}
	path, own := a.apacheLimitsFile()
	conf, mode, err := readConf(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && own:
		conf, mode = []byte("# Managed by rpwizard: event MPM limits for expected_websockets.\n<IfModule mpm_event_module>\n</IfModule>\n"), 0o644
	case errors.Is(err, fs.ErrNotExist):
		p.warn(fmt.Sprintf("%s does not exist: Apache's event MPM limits were not raised for %d WebSockets", path, want),
			fmt.Sprintf("set MaxRequestWorkers %d (ServerLimit × ThreadsPerChild at least as much) in the event MPM config", ApacheThreadsFor(want)))
		return p, nil
	case err != nil:
		return p, err
	}
	out, lim := ApacheEventLimitsFor(conf, want)
	if out == nil {
		return p, nil
	}
	a.warnThreads(&p, lim.MaxRequestWorkers)
	p.Changes = []installer.Change{{Kind: installer.WriteFile, Path: path, Data: out, Mode: mode,
		Why: fmt.Sprintf("event MPM: MaxRequestWorkers %d (%d processes × ThreadsPerChild %d), one thread per WebSocket, for %d WebSockets (expected_websockets); ServerLimit %d, room for a reload's old processes beside the new ones",
			lim.MaxRequestWorkers, ApacheActiveProcesses(lim.MaxRequestWorkers, lim.ThreadsPerChild), lim.ThreadsPerChild, r.Want, lim.ServerLimit)}}
	if lim.Restart {
		p.Changes = append(p.Changes, installer.Change{Kind: installer.Action,
			Why: fmt.Sprintf("restart Apache once the config test passes: a graceful reload keeps the old ServerLimit (%d processes)", lim.ServerLimit),
			Do: func(ctx context.Context, tx *installer.Tx) error {
				if !ctl.Running() {
					return nil // the reload step starts it with the new limits
				}
				// Config test and graceful reload first: the transaction
				// then knows the server saw new files, so a rollback
				// reloads the old ones.
				if err := tx.Reload(ctx); err != nil {
					return err
				}
				if err := ctl.Stop(ctx); err != nil {
					return err
				}
				return ctl.ReloadOrStart(ctx)
			}})
	}
	return p, nil
}

// warnThreads warns when the kernel may not give Apache that many threads
// (every thread takes a process id).
func (a apache) warnThreads(p *LimitsPlan, threads int) {
	if a.h.Fake() {
		return
	}
	pidMax, ok := host.PidMax()
	if !ok {
		return
	}
	if pidMax > 0 && threads > pidMax/2 {
		p.warn(fmt.Sprintf("Apache may start %d threads, more than half of kernel.pid_max %d (each thread takes a process id)", threads, pidMax),
			"sysctl -w kernel.pid_max=4194304 (and put it in /etc/sysctl.d/ to keep it)")
	}
	if service := a.h.Layout.ApacheService; a.h.Systemd && threads > 4000 {
		p.warn(fmt.Sprintf("systemd may cap %s at fewer tasks than its %d threads (TasksMax)", service, threads),
			fmt.Sprintf("systemctl set-property %s TasksMax=infinity", service))
	}
}
