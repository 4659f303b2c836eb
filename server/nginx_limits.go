package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
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

// nginxSpots are where ParseNginxLimits found its directives.
type nginxSpots struct {
	wc, rlimit *nginxToken     // the numbers
	events     *nginxDirective // the events block
}

// ParseNginxLimits reads worker_processes and worker_rlimit_nofile (main
// context) and worker_connections (events) with nginx's own tokenizer.
func ParseNginxLimits(conf []byte) NginxLimits {
	lim, _ := parseNginxLimits(conf)
	return lim
}

func parseNginxLimits(conf []byte) (NginxLimits, nginxSpots) {
	var lim NginxLimits
	var at nginxSpots
	for _, d := range nginxDirectives(conf) {
		main, events := len(d.Ctx) == 0, len(d.Ctx) == 1 && d.Ctx[0] == "events"
		number := func() (*nginxToken, int, bool) {
			if len(d.Args) != 1 {
				return nil, 0, false
			}
			n, err := strconv.Atoi(d.Args[0].Text)
			return &d.Args[0], n, err == nil
		}
		switch {
		case main && d.Name.Text == "events" && d.Open.Text == "{" && at.events == nil:
			at.events = &d
		case main && d.Name.Text == "worker_processes" && len(d.Args) == 1 && lim.WorkerProcesses == "":
			lim.WorkerProcesses = d.Args[0].Text
		case main && d.Name.Text == "worker_rlimit_nofile" && at.rlimit == nil:
			if tok, n, ok := number(); ok {
				lim.RlimitNofile, at.rlimit = n, tok
			}
		case events && d.Name.Text == "worker_connections" && at.wc == nil:
			if tok, n, ok := number(); ok {
				lim.WorkerConnections, at.wc = n, tok
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

// Limits reads nginx.conf: each proxied WebSocket holds two connections
// (client and upstream) in one worker.
func (n nginx) Limits(ctx context.Context, want, ncpu int) Limits {
	conf, _, err := readConf(n.h.Layout.NginxMain)
	if err != nil {
		return Limits{Unchecked: "nginx.conf does not exist yet: worker_connections not checked"}
	}
	lim := ParseNginxLimits(conf)
	wp, wc := lim.Workers(ncpu), lim.Connections()
	return Limits{
		How: fmt.Sprintf("nginx allows about %d simultaneous WebSockets (worker_connections %d × %d worker processes ÷ 2: each proxied WebSocket holds 2 connections)",
			lim.WebSockets(ncpu), wc, wp),
		Directive: "worker_connections", Have: wc, Need: NeededConnections(want, wp), Spare: "a fifth",
		Raise: "the server limits step raises it",
	}
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
// nil when conf already allows them. The sizing is the check's (two
// connections per WebSocket, a fifth more for ordinary requests and
// uneven spreading over the workers, rounded up to 64), and the
// descriptor limit is twice the connections. Only the numbers change; a
// directive that is missing is added (worker_connections as the first
// line of events{}, worker_rlimit_nofile on the line before it).
func NginxLimitsFor(conf []byte, want, ncpu int) ([]byte, NginxRaise, error) {
	cur, at := parseNginxLimits(conf)
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
	if at.events == nil {
		return nil, l, errors.New("no events { } block to set worker_connections in")
	}
	var edits []edit
	if raiseWC {
		if at.wc != nil {
			edits = append(edits, edit{at.wc.Start, at.wc.End, strconv.Itoa(l.Connections)})
		} else {
			edits = append(edits, edit{at.events.Open.End, at.events.Open.End, fmt.Sprintf("\n\tworker_connections %d;", l.Connections)})
		}
	}
	if raiseRlimit {
		if at.rlimit != nil {
			edits = append(edits, edit{at.rlimit.Start, at.rlimit.End, strconv.Itoa(l.RlimitNofile)})
		} else {
			line := lineStart(conf, at.events.Name.Start)
			edits = append(edits, edit{line, line, fmt.Sprintf("worker_rlimit_nofile %d;\n", l.RlimitNofile)})
		}
	}
	return applyEdits(conf, edits), l, nil
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
// in the main context of nginx.conf for r.Want WebSockets, and sets
// worker_shutdown_timeout (r.Shutdown) there, in one change of the file.
// The workers get the descriptor limit from worker_rlimit_nofile (set by
// the master, as root), so neither ulimit -n nor systemd's LimitNOFILE
// needs changing. When nginx is installed by this very run
// (install_missing), the file does not exist yet and the edit is made
// when the change is applied.
func (n nginx) PlanLimits(ctx context.Context, r LimitsRequest, ctl *installer.Server) (LimitsPlan, error) {
	var p LimitsPlan
	if r.Want <= 0 && r.Shutdown.D <= 0 {
		return p, nil
	}
	path := n.h.Layout.NginxMain
	conf, mode, err := readConf(path)
	if errors.Is(err, fs.ErrNotExist) {
		var what []string
		if r.Want > 0 {
			what = append(what, fmt.Sprintf("raise nginx's worker_connections for %d WebSockets (expected_websockets)", r.Want))
		}
		if r.Shutdown.D > 0 {
			what = append(what, "set worker_shutdown_timeout "+NginxDuration(r.Shutdown.D))
		}
		why := strings.Join(what, " and ") + " once nginx is installed"
		p.Changes = []installer.Change{{Kind: installer.Action, Why: why, Do: func(ctx context.Context, tx *installer.Tx) error {
			conf, mode, err := readConf(path)
			if err != nil {
				return err
			}
			var scratch LimitsPlan
			out, why, err := n.nginxConfFor(conf, r, &scratch)
			if err != nil || out == nil {
				return err
			}
			return tx.Apply(ctx, installer.Change{Kind: installer.WriteFile, Path: path, Data: out, Mode: mode, Why: why})
		}}}
		return p, nil
	}
	if err != nil {
		return p, err
	}
	out, why, err := n.nginxConfFor(conf, r, &p)
	if err != nil {
		return p, err
	}
	if out == nil {
		return p, nil
	}
	p.Changes = []installer.Change{{Kind: installer.WriteFile, Path: path, Data: out, Mode: mode, Why: why}}
	return p, nil
}

// nginxConfFor is nginx.conf with the limits and the shutdown timeout of
// r, or nil when it already has them; what it cannot do goes into p's
// warnings.
func (n nginx) nginxConfFor(conf []byte, r LimitsRequest, p *LimitsPlan) ([]byte, string, error) {
	path := n.h.Layout.NginxMain
	var whys []string
	out := conf
	if r.Want > 0 {
		raised, l, err := NginxLimitsFor(conf, r.Want, r.NCPU)
		switch {
		case err != nil:
			p.warn(fmt.Sprintf("%s: %v", path, err), fmt.Sprintf("set worker_connections %d; in the events block of %s", l.Connections, path))
		case raised != nil:
			out = raised
			whys = append(whys, l.why(r.Want))
			if cap := host.DescriptorCeiling(); !n.h.Fake() && cap > 0 && cap < l.RlimitNofile {
				p.warn(fmt.Sprintf("this host caps open files at %d per process (hard limit, and no CAP_SYS_RESOURCE to raise it, as in a container): nginx's workers cannot take worker_rlimit_nofile %d, so about %d WebSockets fit",
					cap, l.RlimitNofile, cap*l.Workers/2), "raise the container's or the service's hard limit (LimitNOFILE, docker --ulimit nofile=…)")
			}
		}
	}
	if r.Shutdown.D > 0 {
		bounded, have, err := NginxShutdownFor(out, r.Shutdown)
		switch {
		case err != nil:
			p.warn(fmt.Sprintf("%s: %v", path, err), fmt.Sprintf("set worker_shutdown_timeout %s; in the main context of %s", NginxDuration(r.Shutdown.D), path))
		case have.Admin && have.Value != NginxDuration(r.Shutdown.D):
			p.warn(fmt.Sprintf("%s sets worker_shutdown_timeout %s itself: kept (rpwizard would choose %s: %s)", path, have.Value, NginxDuration(r.Shutdown.D), r.Shutdown.Why),
				"nothing, if that is what you want; delete the line and run rpwizard again to let it choose")
		case bounded != nil:
			out = bounded
			whys = append(whys, "worker_shutdown_timeout "+NginxDuration(r.Shutdown.D)+": "+r.Shutdown.Why)
		}
	}
	if len(whys) == 0 {
		return nil, "", nil
	}
	return out, strings.Join(whys, "; "), nil
}

// NginxShutdown is the worker_shutdown_timeout nginx.conf has.
type NginxShutdown struct {
	// Value is its argument as written ("" when there is none).
	Value string
	// Admin: someone other than rpwizard set it (no "# rpwizard:"
	// comment on its line), so rpwizard leaves it as it is.
	Admin bool
}

// shutdownMark starts the comment rpwizard writes next to its
// worker_shutdown_timeout; a directive without it is the admin's.
const shutdownMark = "# rpwizard:"

// NginxShutdownFor returns conf with worker_shutdown_timeout set to s in
// the main context, the reason in a comment on its line, or nil when conf
// has it already or an admin set it (a directive without rpwizard's
// comment, which is kept whatever its value). rpwizard's own directive is
// updated in place; a missing one goes on the line before events{}.
func NginxShutdownFor(conf []byte, s ShutdownTimeout) ([]byte, NginxShutdown, error) {
	var have NginxShutdown
	var at, events *nginxDirective
	for _, d := range nginxDirectives(conf) {
		if len(d.Ctx) != 0 {
			continue
		}
		switch {
		case d.Name.Text == "events" && d.Open.Text == "{" && events == nil:
			events = &d
		case d.Name.Text == "worker_shutdown_timeout" && len(d.Args) == 1 && at == nil:
			at = &d
		}
	}
	line := fmt.Sprintf("worker_shutdown_timeout %s; %s %s", NginxDuration(s.D), shutdownMark, oneLine(s.Why))
	if at != nil {
		have.Value = at.Args[0].Text
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
		return splice(conf, from, to, indent+line), have, nil
	}
	if events == nil {
		return nil, have, errors.New("no events { } block to put worker_shutdown_timeout before")
	}
	ls := lineStart(conf, events.Name.Start)
	return splice(conf, ls, ls, line+"\n"), have, nil
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
