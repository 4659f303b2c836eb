package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
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

// apacheMPMDirective returns d as an MPM limit, if it is one.
func apacheMPMOf(d apacheDirective) (apacheMPMDirective, bool) {
	key, ok := apacheMPMNames[strings.ToLower(d.Name)]
	if !ok || len(d.Args) != 1 {
		return apacheMPMDirective{}, false
	}
	n, err := strconv.Atoi(d.Args[0].Text)
	if err != nil || n < 0 {
		return apacheMPMDirective{}, false
	}
	return apacheMPMDirective{apacheDirective: d, Key: key, Value: n}, true
}

// apachePlaced is an MPM limit of Apache's effective config, and the file
// it is in (as Apache opens it).
type apachePlaced struct {
	File string
	apacheMPMDirective
}

// apacheStatic are the modules Debian's and the RHEL family's Apache have
// compiled in (`apache2 -l`): <IfModule> of them always holds.
var apacheStatic = map[string]bool{"core": true, "so": true, "watchdog": true, "http_core": true, "log_config": true,
	"logio": true, "version": true, "unixd": true}

// apacheModuleName is the module an <IfModule> or LoadModule names: its
// identifier (mpm_event_module) or its source file (event.c, mod_ssl.c).
func apacheModuleName(arg string) string {
	arg = strings.Trim(arg, `"'`)
	switch {
	case strings.HasSuffix(arg, "_module"):
		return strings.TrimSuffix(arg, "_module")
	case strings.HasSuffix(arg, ".c"):
		base := strings.TrimSuffix(arg, ".c")
		if base == "event" || base == "worker" || base == "prefork" {
			return "mpm_" + base
		}
		return strings.TrimPrefix(base, "mod_")
	}
	return arg
}

// apacheEffective evaluates the config Apache runs, for its MPM limits:
// files[0] is the main config, and each Include or IncludeOptional reads
// the files it names (in the order Apache listed them) where it is.
// Apache evaluates <IfModule> as it reads, so it holds when the module is
// compiled in, in loaded (modules loaded before the config: none, on a
// real host), or loaded by a LoadModule read before it; <IfDefine NAME>
// holds when a Define read before it set NAME (rpwizard passes no -D);
// <IfVersion>, <IfFile>, <IfDirective> and <IfSection> are taken to hold.
// What is inside <VirtualHost>, <Directory> and other sections is not
// server-wide and is left out (an MPM directive there is an error). The
// result is the MPM limits that apply, in the order Apache reads them (so
// the last of each is the one Apache uses), and every module loaded.
func apacheEffective(files []ConfigFile, root, relTo string, loaded map[string]bool) ([]apachePlaced, map[string]bool) {
	mods := map[string]bool{}
	for m := range loaded {
		mods[m] = true
	}
	var out []apachePlaced
	if len(files) == 0 {
		return out, mods
	}
	has := func(m string) bool { return mods[m] || apacheStatic[m] }
	defines := map[string]bool{}
	var visit func(i, depth int)
	visit = func(i, depth int) {
		type frame struct{ active, global bool }
		stack := []frame{{true, true}}
		for _, d := range apacheDirectives(files[i].Data) {
			top := stack[len(stack)-1]
			name := strings.ToLower(d.Name)
			if strings.HasPrefix(name, "</") {
				if len(stack) > 1 {
					stack = stack[:len(stack)-1]
				}
				continue
			}
			if strings.HasPrefix(name, "<") {
				var words []string
				for _, a := range d.Args {
					words = append(words, a.Text)
				}
				arg := strings.TrimSpace(strings.TrimSuffix(strings.Join(words, " "), ">"))
				if strings.HasSuffix(name, ">") { // <Else>
					name = strings.TrimSuffix(name, ">")
				}
				not := strings.HasPrefix(arg, "!")
				arg = strings.TrimPrefix(arg, "!")
				f := frame{active: top.active, global: top.global}
				switch name {
				case "<ifmodule":
					f.active = top.active && has(apacheModuleName(arg)) != not
				case "<ifdefine":
					f.active = top.active && defines[arg] != not
				case "<ifversion", "<iffile", "<ifdirective", "<ifsection":
				default:
					f.global = false
				}
				stack = append(stack, f)
				continue
			}
			if !top.active || !top.global {
				continue
			}
			switch {
			case name == "define" && len(d.Args) >= 1:
				defines[d.Args[0].Text] = true
			case name == "undefine" && len(d.Args) == 1:
				delete(defines, d.Args[0].Text)
			case name == "loadmodule" && len(d.Args) >= 1:
				mods[apacheModuleName(d.Args[0].Text)] = true
			case (name == "include" || name == "includeoptional") && len(d.Args) == 1:
				if depth < maxIncludeDepth {
					for _, j := range includedFiles(files, absPattern(root, relTo, d.Args[0].Text)) {
						visit(j, depth+1)
					}
				}
			default:
				if m, ok := apacheMPMOf(d); ok {
					out = append(out, apachePlaced{File: files[i].Path, apacheMPMDirective: m})
				}
			}
		}
	}
	visit(0, 0)
	return out, mods
}

// ApacheLimits are the MPM settings that bound simultaneous connections.
type ApacheLimits struct {
	MPM               string // event, worker or prefork ("" when unknown)
	MaxRequestWorkers int    // 0: the MPM's default
	ThreadsPerChild   int    // 0: default 25
	ServerLimit       int    // 0: default 16
	File              string // where MaxRequestWorkers is set ("" if not)
	Line              int
}

// apacheMPMConfig is Apache's config for its MPM limits: the files Apache
// reads (ReadConfig), the MPM directives that apply (apacheEffective) and
// the MPM loaded. Where Apache's config cannot be read (no main config),
// it is the event MPM's file alone, with the modules the layout loads.
type apacheMPMConfig struct {
	files []ConfigFile
	eff   []apachePlaced
	mpm   string
	whole bool // files is Apache's whole config
}

func (a apache) mpmConfig(ctx context.Context) apacheMPMConfig {
	var c apacheMPMConfig
	loaded := map[string]bool{}
	if cfg, err := a.ReadConfig(ctx); err == nil {
		c.files, c.whole = cfg.Files, true
	} else {
		loaded = a.h.Layout.ApacheLoaded()
		path, _ := a.apacheLimitsFile()
		if data, err := os.ReadFile(path); err == nil {
			c.files = []ConfigFile{{Path: path, Data: data, Main: true}}
		}
	}
	eff, mods := apacheEffective(c.files, a.h.Layout.Root, a.serverRoot(), loaded)
	c.eff = eff
	if !mods["mpm_event"] && !mods["mpm_worker"] && !mods["mpm_prefork"] {
		mods = a.h.Layout.ApacheLoaded() // a config without its LoadModule lines
	}
	for _, m := range []string{"event", "worker", "prefork"} {
		if mods["mpm_"+m] {
			c.mpm = m
		}
	}
	return c
}

// limits are the MPM and its limits in the config Apache runs; the last
// setting read wins, as in Apache.
func (c apacheMPMConfig) limits() ApacheLimits {
	lim := ApacheLimits{MPM: c.mpm}
	for _, d := range c.eff {
		switch d.Key {
		case "maxrequestworkers":
			lim.MaxRequestWorkers, lim.File, lim.Line = d.Value, d.File, d.Line
		case "threadsperchild":
			lim.ThreadsPerChild = d.Value
		case "serverlimit":
			lim.ServerLimit = d.Value
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
	c := a.mpmConfig(ctx)
	lim := c.limits()
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
	if lim.MPM == "event" && want > 0 && out.Have < out.Need {
		// The plan of the server limits step: can it make the edits?
		if ep := a.planEvent(c, want); ep.refused != nil {
			out.Raise, out.Blocked = "rpwizard does not raise it: "+ep.refused.Msg+"; "+ep.refused.Fix, true
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
// raised for want WebSockets, or nil when conf already allows them; conf
// is one file, read as if the event MPM were loaded (apacheEventEdits is
// the same for Apache's whole config). ThreadsPerChild goes up to
// ThreadLimit (which itself needs a restart to change, so it stays),
// MaxRequestWorkers to the threads needed (a multiple of
// ThreadsPerChild), and ServerLimit to twice the processes that serves: a
// graceful restart (a renewal's reload) leaves the old processes in their
// scoreboard slots while they hold WebSockets, and the new processes need
// slots of their own, or late connections wait in the listen queue
// ("scoreboard is full, not at MaxRequestWorkers"). Numbers are changed
// in place; a missing directive is added before the first MPM directive
// (or at the end, inside <IfModule mpm_event_module> when the file has
// one).
func ApacheEventLimitsFor(conf []byte, want int) ([]byte, ApacheRaise) {
	files := []ConfigFile{{Path: "mpm_event.conf", Data: conf, Main: true}}
	eff, _ := apacheEffective(files, "/", "/", map[string]bool{"mpm_event": true})
	edits, l := apacheEventEdits(files, eff, want, "mpm_event.conf")
	if len(edits) == 0 {
		return nil, l
	}
	return applyFileEdits(files, edits)[0].Data, l
}

// apacheEventEdits are the edits of Apache's config files that raise the
// event MPM's limits for want WebSockets (the sizing of
// ApacheEventLimitsFor), eff being the MPM directives that apply
// (apacheEffective). Each number is changed where Apache takes it from:
// the last directive of its name that Apache reads (an earlier one is
// overridden, so changing it would do nothing). A directive Apache does
// not have anywhere is added before the first MPM directive that applies
// in the file of the one that counts most (MaxRequestWorkers, then
// ThreadsPerChild, ServerLimit, ThreadLimit, StartServers), or, when no
// MPM directive applies anywhere, at the end of fallback (inside its
// <IfModule>, when it has one). No edit and the current limits when they
// are enough.
func apacheEventEdits(files []ConfigFile, eff []apachePlaced, want int, fallback string) ([]fileEdit, ApacheRaise) {
	vals := map[string]int{}
	pos := map[string]apachePlaced{}
	for _, d := range eff {
		vals[d.Key], pos[d.Key] = d.Value, d
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
	var edits []fileEdit
	var missing []string
	var missingWhat []string
	for _, name := range []string{"serverlimit", "threadsperchild", "maxrequestworkers"} {
		if d, ok := pos[name]; ok {
			if vals[name] != set[name] {
				a := d.Args[0]
				edits = append(edits, fileEdit{d.File, d.Line, fmt.Sprintf("%s %d", d.Name, set[name]), edit{a.Start, a.End, strconv.Itoa(set[name])}})
			}
			continue
		}
		if name == "serverlimit" && !l.Restart || name == "threadsperchild" && l.ThreadsPerChild == cur.ThreadsPerChild {
			continue // the default is the value
		}
		missing = append(missing, fmt.Sprintf("%-24s%d\n", names[name], set[name]))
		missingWhat = append(missingWhat, fmt.Sprintf("%s %d", names[name], set[name]))
	}
	if len(missing) == 0 {
		return edits, l
	}
	// Where the missing ones go.
	anchor := ""
	for _, name := range []string{"maxrequestworkers", "threadsperchild", "serverlimit", "threadlimit", "startservers"} {
		if d, ok := pos[name]; ok {
			anchor = d.File
			break
		}
	}
	if anchor == "" {
		for _, d := range eff {
			anchor = d.File
			break
		}
	}
	var at, line int
	indent := ""
	if anchor != "" {
		for _, d := range eff {
			if d.File == anchor {
				at, line, indent = d.Start, d.Line, d.Indent
				break
			}
		}
	} else {
		anchor = fallback
		conf := fileData(files, fallback)
		at, line = len(conf), strings.Count(string(conf), "\n")+1
		closing := -1
		for _, d := range apacheDirectives(conf) {
			if strings.EqualFold(d.Name, "</IfModule>") {
				closing, line = d.Start, d.Line
			}
		}
		if closing >= 0 {
			at = closing
		} else if at > 0 && conf[at-1] != '\n' {
			missing[0] = "\n" + missing[0]
		}
	}
	var b strings.Builder
	for _, m := range missing {
		b.WriteString(indent + m)
	}
	edits = append(edits, fileEdit{anchor, line, strings.Join(missingWhat, ", "), edit{at, at, b.String()}})
	return edits, l
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

// apacheOwnMPM is rpwizard's own event MPM file, before any limit.
const apacheOwnMPM = "# Managed by rpwizard: event MPM limits for expected_websockets.\n<IfModule mpm_event_module>\n</IfModule>\n"

// eventPlan is what raising the event MPM's limits for want takes on the
// config c: the files before and after, the limits, and why not (a file
// rpwizard does not edit, or no file to put them in), with the warning.
type eventPlan struct {
	before, after []ConfigFile
	lim           ApacheRaise
	edits         []fileEdit
	refused       *Warning
}

func (a apache) planEvent(c apacheMPMConfig, want int) eventPlan {
	root := a.h.Layout.Root
	p := eventPlan{before: c.files}
	// Where missing directives go when no MPM directive applies: the
	// event MPM's file, when Apache reads it (Debian: through
	// mods-enabled), or rpwizard's own (RHEL: conf.modules.d/*.conf).
	path, own := a.apacheLimitsFile()
	fallback := ""
	for _, f := range c.files {
		if real, err := realPath(root, f.Path); err == nil && real == path {
			fallback = f.Path
			break
		}
	}
	if fallback == "" && own {
		p.before = append(append([]ConfigFile(nil), c.files...), ConfigFile{Path: path, Data: nil})
		fallback = path
		p.before[len(p.before)-1].Data = []byte(apacheOwnMPM)
	}
	p.edits, p.lim = apacheEventEdits(p.before, c.eff, want, fallback)
	if len(p.edits) == 0 {
		return p
	}
	for _, e := range p.edits {
		if e.File == "" {
			w := Warning{Msg: fmt.Sprintf("no file of Apache's config sets the event MPM's limits, and Apache does not read %s: they were not raised for %d WebSockets", short(root, path), want),
				Fix: fmt.Sprintf("set MaxRequestWorkers %d, ServerLimit %d and ThreadsPerChild %d in the event MPM's config (a2enmod mpm_event), then run rpwizard again",
					p.lim.MaxRequestWorkers, p.lim.ServerLimit, p.lim.ThreadsPerChild)}
			p.refused = &w
			return p
		}
		if e.File == path && own {
			continue // rpwizard's own new file
		}
		if _, err := editTarget(root, a.serverRoot(), e.File); err != nil {
			w := refusal(root, p.edits, err, "")
			w.Msg = fmt.Sprintf("Apache's event MPM limits for %d WebSockets (expected_websockets): %s", want, w.Msg)
			p.refused = &w
			return p
		}
	}
	p.after = applyFileEdits(p.before, p.edits)
	return p
}

// PlanLimits raises ServerLimit, ThreadsPerChild and MaxRequestWorkers of
// the event MPM where the config Apache runs takes them from (the last of
// each that applies, <IfModule> evaluated: see apacheEffective), in the
// file that has it (one change per file: Debian's
// mods-available/mpm_event.conf, or an override in conf-enabled, say); a
// directive that is nowhere goes next to the others, or into
// mpm_event.conf (Debian) or a file of rpwizard's own in conf.modules.d
// (RHEL family). A directive in a file outside Apache's ServerRoot is not
// changed: the plan warns with its file, line and value. mod_proxy's
// WebSocket tunnel keeps one worker thread per open WebSocket, so
// MaxRequestWorkers is the number of WebSockets Apache can hold;
// ServerLimit is twice the processes of MaxRequestWorkers, for a graceful
// restart's old generation (see ApacheEventLimitsFor). r.Shutdown is
// ignored: a graceful restart has no time bound (GracefulShutdownTimeout
// applies to graceful-stop only), and the old processes hold slots, not
// MaxRequestWorkers. A larger ServerLimit is ignored by a graceful
// reload, so Apache is restarted once (after the config test) when it
// grows. Descriptors are no concern: each child holds at most two per
// thread (ThreadsPerChild ≤ ThreadLimit, 64 by default), far below the
// `ulimit -n 8192` apache2ctl sets.
func (a apache) PlanLimits(ctx context.Context, r LimitsRequest, ctl *installer.Server) (LimitsPlan, error) {
	var p LimitsPlan
	want := r.Want
	if want <= 0 {
		return p, nil
	}
	c := a.mpmConfig(ctx)
	if c.mpm != "event" && c.mpm != "" {
		p.warn(fmt.Sprintf("Apache runs the %s MPM: rpwizard sizes only the event MPM, and expected_websockets %d was not checked", c.mpm, want),
			fmt.Sprintf("switch to the event MPM (a2dismod mpm_prefork mpm_worker && a2enmod mpm_event) and run rpwizard again, or set MaxRequestWorkers ≥ %d yourself", ApacheThreadsFor(want)))
		return p, nil
	}
	if len(c.files) == 0 {
		path, _ := a.apacheLimitsFile()
		p.warn(fmt.Sprintf("%s does not exist: Apache's event MPM limits were not raised for %d WebSockets", short(a.h.Layout.Root, path), want),
			fmt.Sprintf("set MaxRequestWorkers %d (ServerLimit × ThreadsPerChild at least as much) in the event MPM config", ApacheThreadsFor(want)))
		return p, nil
	}
	ep := a.planEvent(c, want)
	if ep.refused != nil {
		p.warn(ep.refused.Msg, ep.refused.Fix)
		return p, nil
	}
	if len(ep.edits) == 0 {
		return p, nil
	}
	lim := ep.lim
	a.warnThreads(&p, lim.MaxRequestWorkers)
	why := fmt.Sprintf("event MPM: MaxRequestWorkers %d (%d processes × ThreadsPerChild %d), one thread per WebSocket, for %d WebSockets (expected_websockets); ServerLimit %d, room for a reload's old processes beside the new ones",
		lim.MaxRequestWorkers, ApacheActiveProcesses(lim.MaxRequestWorkers, lim.ThreadsPerChild), lim.ThreadsPerChild, r.Want, lim.ServerLimit)
	changes, err := a.eventWrites(ep, why)
	if err != nil {
		return p, err
	}
	p.Changes = changes
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

// eventWrites are the writes of ep: rpwizard's own new file, and each
// file of Apache's config that changes.
func (a apache) eventWrites(ep eventPlan, why string) ([]installer.Change, error) {
	path, own := a.apacheLimitsFile()
	var before, after []ConfigFile
	var changes []installer.Change
	for i, f := range ep.after {
		if own && f.Path == path && i == len(ep.after)-1 && len(ep.before) > 0 && string(ep.before[i].Data) == apacheOwnMPM {
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				changes = append(changes, installer.Change{Kind: installer.WriteFile, Path: path, Data: f.Data, Mode: 0o644, Why: why})
				continue
			}
		}
		before, after = append(before, ep.before[i]), append(after, f)
	}
	w, err := writes(a.h.Layout.Root, a.serverRoot(), "Apache", before, after, why)
	return append(w, changes...), err
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
