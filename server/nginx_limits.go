package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
)

// NginxLimits are the connection settings of nginx.conf.
type NginxLimits struct {
	WorkerProcesses   string // "auto", a number, or "" (default 1)
	WorkerConnections int    // 0: not set (default 512)
	RlimitNofile      int    // 0: not set
}

// nginxPlaced is a directive of nginx's effective config: the file it is
// in (as nginx opens it) and its context there, the context of the
// include that brought the file in coming first.
type nginxPlaced struct {
	File string
	nginxDirective
}

// nginxEffective is the config nginx runs, directive by directive, in the
// order it reads them: files[0] is the main config, and each include
// directive is replaced by the directives of the files it names (in the
// order nginx listed them), in the include's context. So a
// worker_connections in a file included inside events { } is in events,
// and one in a file included in the main context is in the main context.
// root and prefix make include patterns absolute (absPattern).
func nginxEffective(files []ConfigFile, root, prefix string) []nginxPlaced {
	if len(files) == 0 {
		return nil
	}
	var out []nginxPlaced
	var visit func(i int, ctx []string, depth int)
	visit = func(i int, ctx []string, depth int) {
		for _, d := range nginxDirectives(files[i].Data) {
			d.Ctx = append(append([]string(nil), ctx...), d.Ctx...)
			if d.Name.Text == "include" && len(d.Args) == 1 && d.Open.Text == "" {
				if depth < maxIncludeDepth {
					for _, j := range includedFiles(files, absPattern(root, prefix, d.Args[0].Text)) {
						visit(j, d.Ctx, depth+1)
					}
				}
				continue
			}
			out = append(out, nginxPlaced{File: files[i].Path, nginxDirective: d})
		}
	}
	visit(0, nil, 0)
	return out
}

// nginxSpots are where parseNginxLimits found its directives (nginx
// refuses a second one of each: "directive is duplicate").
type nginxSpots struct {
	wc, rlimit, processes *nginxPlaced // the directives
	events                *nginxPlaced // the events block
}

// ParseNginxLimits reads worker_processes and worker_rlimit_nofile (main
// context) and worker_connections (events) of one config file with
// nginx's own tokenizer (its includes are not followed: see Limits).
func ParseNginxLimits(conf []byte) NginxLimits {
	lim, _ := parseNginxLimits(nginxEffective([]ConfigFile{{Path: "nginx.conf", Data: conf, Main: true}}, "/", "/"))
	return lim
}

// parseNginxLimits reads the limits of an effective config (nginxEffective).
func parseNginxLimits(eff []nginxPlaced) (NginxLimits, nginxSpots) {
	var lim NginxLimits
	var at nginxSpots
	for i := range eff {
		d := &eff[i]
		main, events := len(d.Ctx) == 0, len(d.Ctx) == 1 && d.Ctx[0] == "events"
		number := func() (int, bool) {
			if len(d.Args) != 1 {
				return 0, false
			}
			n, err := strconv.Atoi(d.Args[0].Text)
			return n, err == nil
		}
		switch {
		case main && d.Name.Text == "events" && d.Open.Text == "{" && at.events == nil:
			at.events = d
		case main && d.Name.Text == "worker_processes" && len(d.Args) == 1 && at.processes == nil:
			lim.WorkerProcesses, at.processes = d.Args[0].Text, d
		case main && d.Name.Text == "worker_rlimit_nofile" && at.rlimit == nil:
			if n, ok := number(); ok {
				lim.RlimitNofile, at.rlimit = n, d
			}
		case events && d.Name.Text == "worker_connections" && at.wc == nil:
			if n, ok := number(); ok {
				lim.WorkerConnections, at.wc = n, d
			}
		}
	}
	return lim, at
}

// Workers is the number of worker processes (auto: one per CPU).
func (n NginxLimits) Workers(ncpu int) int {
	switch n.WorkerProcesses {
	case "", "0":
		return 1
	case "auto":
		if ncpu < 1 {
			return 1
		}
		return ncpu
	}
	w, err := strconv.Atoi(n.WorkerProcesses)
	if err != nil || w < 1 {
		return 1
	}
	return w
}

// Connections is worker_connections (default 512).
func (n NginxLimits) Connections() int {
	if n.WorkerConnections == 0 {
		return 512
	}
	return n.WorkerConnections
}

// WebSockets is how many simultaneous proxied WebSockets the limits
// allow: each holds two connections (client and upstream) in a worker.
func (n NginxLimits) WebSockets(ncpu int) int { return n.Connections() * n.Workers(ncpu) / 2 }

// NeededConnections is the worker_connections that carries want
// WebSockets over workers processes, with a fifth more for ordinary
// requests and uneven spreading, rounded up to 64.
func NeededConnections(want, workers int) int {
	n := (2*want*6/5 + workers - 1) / workers
	return (n + 63) / 64 * 64
}

// Limits reads the config nginx runs (ReadConfig: `nginx -T`, every
// included file in its context): each proxied WebSocket holds two
// connections (client and upstream) in one worker.
func (n nginx) Limits(ctx context.Context, want, ncpu int) Limits {
	cfg, err := n.ReadConfig(ctx)
	if err != nil {
		return Limits{Unchecked: "nginx.conf does not exist yet: worker_connections not checked"}
	}
	lim, at := parseNginxLimits(n.effective(cfg.Files))
	wp, wc := lim.Workers(ncpu), lim.Connections()
	set := ""
	if at.wc != nil && at.wc.File != n.h.Layout.NginxMain {
		set = fmt.Sprintf(", set in %s line %d", short(n.h.Layout.Root, at.wc.File), at.wc.Name.Line)
	}
	out := Limits{
		How: fmt.Sprintf("nginx allows about %d simultaneous WebSockets (worker_connections %d%s × %d worker processes ÷ 2: each proxied WebSocket holds 2 connections)",
			lim.WebSockets(ncpu), wc, set, wp),
		Directive: "worker_connections", Have: wc, Need: NeededConnections(want, wp), Spare: "a fifth",
		Raise: "the server limits step raises it",
	}
	if want > 0 && out.Have < out.Need {
		// The same plan the server limits step makes: it says whether
		// rpwizard can make the edit where the directive is.
		edits, _, err := nginxLimitsEdits(cfg.Files, n.h.Layout.Root, n.prefix(), want, ncpu)
		if err == nil {
			_, err = n.targets(edits)
		}
		if err != nil {
			out.Raise = fmt.Sprintf("rpwizard does not raise it (%v); set it yourself", err)
			out.Blocked = true
		}
	}
	return out
}

// prefix is nginx's conf prefix, where relative includes start.
func (n nginx) prefix() string { return filepath.Dir(n.h.Layout.NginxMain) }

// effective is the effective config of files (nginxEffective).
func (n nginx) effective(files []ConfigFile) []nginxPlaced {
	return nginxEffective(files, n.h.Layout.Root, n.prefix())
}

// targets are the files to write for edits, by the file nginx reads
// (editTarget: in nginx's directory, through links), or why not.
func (n nginx) targets(edits []fileEdit) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range edits {
		if _, ok := out[e.File]; ok {
			continue
		}
		real, err := editTarget(n.h.Layout.Root, n.prefix(), e.File)
		if err != nil {
			return nil, err
		}
		out[e.File] = real
	}
	return out, nil
}

// NginxRaise are the limits NginxLimitsFor sets.
type NginxRaise struct {
	Workers, Connections, RlimitNofile int
}

func (l NginxRaise) why(want int) string {
	return fmt.Sprintf("worker_connections %d and worker_rlimit_nofile %d (%d workers) for %d WebSockets (expected_websockets)",
		l.Connections, l.RlimitNofile, l.Workers, want)
}

// NginxLimitsFor returns conf with worker_connections and
// worker_rlimit_nofile raised so that want WebSockets fit on ncpu CPUs, or
// nil when conf already allows them; conf is one file, its includes not
// followed (nginxLimitsEdits is the same for a whole config). The sizing
// is the check's (two connections per WebSocket, a fifth more for
// ordinary requests and uneven spreading over the workers, rounded up to
// 64), and the descriptor limit is twice the connections. Only the
// numbers change; a directive that is missing is added (worker_connections
// as the first line of events{}, worker_rlimit_nofile on the line before
// it).
func NginxLimitsFor(conf []byte, want, ncpu int) ([]byte, NginxRaise, error) {
	files := []ConfigFile{{Path: "nginx.conf", Data: conf, Main: true}}
	edits, l, err := nginxLimitsEdits(files, "/", "/", want, ncpu)
	if err != nil || len(edits) == 0 {
		return nil, l, err
	}
	return applyFileEdits(files, edits)[0].Data, l, nil
}

// nginxLimitsEdits are the edits of the config files (files[0] the main
// one, the rest the files its includes read) that raise
// worker_connections and worker_rlimit_nofile for want WebSockets on ncpu
// CPUs: each number is changed where nginx has its directive, whichever
// file that is, and a directive that nginx does not have anywhere is
// added (worker_connections as the first line of the events block,
// worker_rlimit_nofile on the line before it, in the file of the events
// block), so that no directive is ever there twice.
func nginxLimitsEdits(files []ConfigFile, root, prefix string, want, ncpu int) ([]fileEdit, NginxRaise, error) {
	cur, at := parseNginxLimits(nginxEffective(files, root, prefix))
	l := NginxRaise{Workers: cur.Workers(ncpu)}
	need := NeededConnections(want, l.Workers)
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
	if at.events == nil && (raiseWC && at.wc == nil || raiseRlimit && at.rlimit == nil) {
		return nil, l, errors.New("no events { } block to set worker_connections in")
	}
	var edits []fileEdit
	if raiseWC {
		what := fmt.Sprintf("worker_connections %d", l.Connections)
		if at.wc != nil {
			a := at.wc.Args[0]
			edits = append(edits, fileEdit{at.wc.File, a.Line, what, edit{a.Start, a.End, strconv.Itoa(l.Connections)}})
		} else {
			o := at.events.Open
			edits = append(edits, fileEdit{at.events.File, o.Line, what + " (in events { })", edit{o.End, o.End, "\n\t" + what + ";"}})
		}
	}
	if raiseRlimit {
		what := fmt.Sprintf("worker_rlimit_nofile %d", l.RlimitNofile)
		if at.rlimit != nil {
			a := at.rlimit.Args[0]
			edits = append(edits, fileEdit{at.rlimit.File, a.Line, what, edit{a.Start, a.End, strconv.Itoa(l.RlimitNofile)}})
		} else {
			conf := fileData(files, at.events.File)
			line := lineStart(conf, at.events.Name.Start)
			edits = append(edits, fileEdit{at.events.File, at.events.Name.Line, what + " (main context)", edit{line, line, what + ";\n"}})
		}
	}
	return edits, l, nil
}

// fileData is the content of the file path of files.
func fileData(files []ConfigFile, path string) []byte {
	for _, f := range files {
		if f.Path == path {
			return f.Data
		}
	}
	return nil
}

// lineStart is the start of the line of i when only blanks precede i
// there, else i.
func lineStart(b []byte, i int) int {
	j := i
	for j > 0 && (b[j-1] == ' ' || b[j-1] == '\t') {
		j--
	}
	if j == 0 || b[j-1] == '\n' {
		return j
	}
	return i
}

// PlanLimits edits worker_connections in events{} and worker_rlimit_nofile
// in the main context for r.Want WebSockets, and sets
// worker_shutdown_timeout (r.Shutdown) there, in the config nginx runs
// (ReadConfig): each directive where nginx has it, in nginx.conf or in an
// included file in nginx's directory (one change per file); one that is
// nowhere goes into the file of the events block (nginx.conf). A
// directive that would have to change in a file outside nginx's directory
// is not changed: the plan warns with its file, line and value. The
// workers get the descriptor limit from worker_rlimit_nofile (set by the
// master, as root), so neither ulimit -n nor systemd's LimitNOFILE needs
// changing. When nginx is installed by this very run (install_missing),
// nginx.conf does not exist yet and the edit is made when the change is
// applied.
func (n nginx) PlanLimits(ctx context.Context, r LimitsRequest, ctl *installer.Server) (LimitsPlan, error) {
	var p LimitsPlan
	if r.Want <= 0 && r.Shutdown.D <= 0 {
		return p, nil
	}
	if _, err := os.Stat(n.h.Layout.NginxMain); errors.Is(err, fs.ErrNotExist) {
		var what []string
		if r.Want > 0 {
			what = append(what, fmt.Sprintf("raise nginx's worker_connections for %d WebSockets (expected_websockets)", r.Want))
		}
		if r.Shutdown.D > 0 {
			what = append(what, "set worker_shutdown_timeout "+NginxDuration(r.Shutdown.D))
		}
		why := strings.Join(what, " and ") + " once nginx is installed"
		p.Changes = []installer.Change{{Kind: installer.Action, Why: why, Do: func(ctx context.Context, tx *installer.Tx) error {
			cfg, err := n.ReadConfig(ctx)
			if err != nil {
				return fmt.Errorf("read nginx's config: %w", err)
			}
			var scratch LimitsPlan
			changes, err := n.nginxChanges(cfg.Files, r, &scratch)
			if err != nil {
				return err
			}
			for _, c := range changes {
				if err := tx.Apply(ctx, c); err != nil {
					return err
				}
			}
			return nil
		}}}
		return p, nil
	}
	cfg, err := n.ReadConfig(ctx)
	if err != nil {
		return p, fmt.Errorf("read nginx's config: %w", err)
	}
	p.Changes, err = n.nginxChanges(cfg.Files, r, &p)
	return p, err
}

// nginxChanges are the writes of the config files (ReadConfig's) that set
// the limits and the shutdown timeout of r, none when they are set; what
// rpwizard cannot or will not do goes into p's warnings.
func (n nginx) nginxChanges(files []ConfigFile, r LimitsRequest, p *LimitsPlan) ([]installer.Change, error) {
	root, main := n.h.Layout.Root, n.h.Layout.NginxMain
	var whys []string
	out := files
	if r.Want > 0 {
		edits, l, err := nginxLimitsEdits(out, root, n.prefix(), r.Want, r.NCPU)
		if err == nil {
			_, err = n.targets(edits)
			if err != nil {
				w := refusal(root, edits, err, ";")
				p.warn(fmt.Sprintf("nginx's limits for %d WebSockets (expected_websockets): %s", r.Want, w.Msg), w.Fix)
				edits = nil
			}
		} else {
			p.warn(fmt.Sprintf("%s: %v", short(root, main), err), fmt.Sprintf("set worker_connections %d; in the events block of %s", l.Connections, short(root, main)))
		}
		if len(edits) > 0 {
			out = applyFileEdits(out, edits)
			whys = append(whys, l.why(r.Want))
			if cap := host.DescriptorCeiling(); !n.h.Fake() && cap > 0 && cap < l.RlimitNofile {
				p.warn(fmt.Sprintf("this host caps open files at %d per process (hard limit, and no CAP_SYS_RESOURCE to raise it, as in a container): nginx's workers cannot take worker_rlimit_nofile %d, so about %d WebSockets fit",
					cap, l.RlimitNofile, cap*l.Workers/2), "raise the container's or the service's hard limit (LimitNOFILE, docker --ulimit nofile=…)")
			}
		}
	}
	if r.Shutdown.D > 0 {
		edits, have, err := nginxShutdownEdits(n.effective(out), out, r.Shutdown)
		if err == nil && len(edits) > 0 {
			if _, terr := n.targets(edits); terr != nil {
				w := refusal(root, edits, terr, ";")
				p.warn("worker_shutdown_timeout: "+w.Msg, w.Fix)
				edits = nil
			}
		}
		switch {
		case err != nil:
			p.warn(fmt.Sprintf("%s: %v", short(root, main), err), fmt.Sprintf("set worker_shutdown_timeout %s; in the main context of %s", NginxDuration(r.Shutdown.D), short(root, main)))
		case have.Admin && have.Value != NginxDuration(r.Shutdown.D):
			p.warn(fmt.Sprintf("%s sets worker_shutdown_timeout %s itself: kept (rpwizard would choose %s: %s)", have.where(root, main), have.Value, NginxDuration(r.Shutdown.D), r.Shutdown.Why),
				"nothing, if that is what you want; delete the line and run rpwizard again to let it choose")
		case len(edits) > 0:
			out = applyFileEdits(out, edits)
			whys = append(whys, "worker_shutdown_timeout "+NginxDuration(r.Shutdown.D)+": "+r.Shutdown.Why)
		}
	}
	if len(whys) == 0 {
		return nil, nil
	}
	return writes(n.h.Layout.Root, n.prefix(), "nginx", files, out, strings.Join(whys, "; "))
}

// NginxShutdown is the worker_shutdown_timeout nginx.conf has.
type NginxShutdown struct {
	// Value is its argument as written ("" when there is none).
	Value string
	// Admin: someone other than rpwizard set it (no "# rpwizard:"
	// comment on its line), so rpwizard leaves it as it is.
	Admin bool
	// File and Line are where it is ("" for nginx.conf of NginxShutdownFor).
	File string
	Line int
}

// where is the file and line of s, for people ("nginx.conf" for main).
func (s NginxShutdown) where(root, main string) string {
	if s.File == "" || s.File == main {
		return short(root, main)
	}
	return fmt.Sprintf("%s (line %d)", short(root, s.File), s.Line)
}

// shutdownMark starts the comment rpwizard writes next to its
// worker_shutdown_timeout; a directive without it is the admin's.
const shutdownMark = "# rpwizard:"

// NginxShutdownFor returns conf with worker_shutdown_timeout set to s in
// the main context, the reason in a comment on its line, or nil when conf
// has it already or an admin set it (a directive without rpwizard's
// comment, which is kept whatever its value). rpwizard's own directive is
// updated in place; a missing one goes on the line before events{}. conf
// is one file, its includes not followed (nginxShutdownEdits is the same
// for a whole config).
func NginxShutdownFor(conf []byte, s ShutdownTimeout) ([]byte, NginxShutdown, error) {
	files := []ConfigFile{{Path: "nginx.conf", Data: conf, Main: true}}
	edits, have, err := nginxShutdownEdits(nginxEffective(files, "/", "/"), files, s)
	have.File, have.Line = "", 0
	if err != nil || len(edits) == 0 {
		return nil, have, err
	}
	return applyFileEdits(files, edits)[0].Data, have, nil
}

// nginxShutdownEdits are the edits of files (effective config eff) that
// set worker_shutdown_timeout to s: rpwizard's own directive is updated
// in place in the file where it is, a missing one goes on the line before
// events{}, and the admin's is kept (have.Admin).
func nginxShutdownEdits(eff []nginxPlaced, files []ConfigFile, s ShutdownTimeout) ([]fileEdit, NginxShutdown, error) {
	var have NginxShutdown
	var at, events *nginxPlaced
	for i := range eff {
		d := &eff[i]
		if len(d.Ctx) != 0 {
			continue
		}
		switch {
		case d.Name.Text == "events" && d.Open.Text == "{" && events == nil:
			events = d
		case d.Name.Text == "worker_shutdown_timeout" && len(d.Args) == 1 && at == nil:
			at = d
		}
	}
	line := fmt.Sprintf("worker_shutdown_timeout %s; %s %s", NginxDuration(s.D), shutdownMark, oneLine(s.Why))
	what := "worker_shutdown_timeout " + NginxDuration(s.D)
	if at != nil {
		conf := fileData(files, at.File)
		have.Value, have.File, have.Line = at.Args[0].Text, at.File, at.Name.Line
		from := lineStart(conf, at.Name.Start)
		to := bytes.IndexByte(conf[at.Args[0].End:], '\n')
		if to < 0 {
			to = len(conf)
		} else {
			to += at.Args[0].End
		}
		rest := string(conf[at.Args[0].End:to])
		have.Admin = !strings.Contains(rest, shutdownMark)
		if have.Admin {
			return nil, have, nil
		}
		indent := string(conf[from:at.Name.Start])
		if string(conf[from:to]) == indent+line {
			return nil, have, nil
		}
		return []fileEdit{{at.File, at.Name.Line, what, edit{from, to, indent + line}}}, have, nil
	}
	if events == nil {
		return nil, have, errors.New("no events { } block to put worker_shutdown_timeout before")
	}
	ls := lineStart(fileData(files, events.File), events.Name.Start)
	return []fileEdit{{events.File, events.Name.Line, what + " (main context)", edit{ls, ls, line + "\n"}}}, have, nil
}

// NginxDuration writes d in nginx's time syntax (6h, 90m, 45s).
func NginxDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", (d+time.Second-1)/time.Second)
}

// oneLine is s on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
