package server

import (
	"context"
	"io/fs"
	"os"
	"sort"
	"time"

	"github.com/rpwizard/rpwizard/installer"
)

// Limited is a server whose connection limits rpwizard reads (the
// preflight check) and raises (the server limits step) for
// expected_websockets. Both go through the same parser of the server's
// directives, on the config the server runs (ReadConfig: every included
// file, in the context of its include; Apache's <IfModule> blocks as
// Apache evaluates them, the last setting winning). A limit is changed
// in the file where the server has it, when that file is in the server's
// own directory (editTarget), and a directive is added only when the
// server has it nowhere, so never twice.
type Limited interface {
	// Limits reads how many simultaneous WebSockets the config allows on
	// ncpu CPUs, and what want of them needs.
	Limits(ctx context.Context, want, ncpu int) Limits
	// PlanLimits raises the limits for r.Want WebSockets, only ever up,
	// editing the directives in place, and bounds how long a reload's old
	// workers may keep held WebSockets (r.Shutdown, where the server has
	// such a setting). ctl is the controller of the server, for a restart
	// a reload does not replace.
	PlanLimits(ctx context.Context, r LimitsRequest, ctl *installer.Server) (LimitsPlan, error)
}

// LimitsRequest is what the server limits step asks of a server.
type LimitsRequest struct {
	// Want is expected_websockets (0: the connection limits are left as
	// they are).
	Want int
	// NCPU is the number of CPUs (nginx's worker_processes auto).
	NCPU int
	// Shutdown is how long the workers a reload replaces may keep serving
	// held WebSockets (nginx's worker_shutdown_timeout; 0: not set). Apache
	// has no such bound for a graceful restart (GracefulShutdownTimeout
	// applies to graceful-stop only) and ignores it.
	Shutdown ShutdownTimeout
}

// ShutdownTimeout is a chosen bound on old workers after a reload.
type ShutdownTimeout struct {
	D time.Duration
	// Why is the reason, for the comment next to the directive and the
	// plan: one line.
	Why string
}

// Limits are a server's connection limits, for people.
type Limits struct {
	// Unchecked says why the limits could not be read ("" when they
	// were).
	Unchecked string
	// How is how many WebSockets they allow and why ("nginx allows
	// about 768 simultaneous WebSockets (…)").
	How string
	// Directive is the limit that counts, Have its value and Need the
	// value want WebSockets need with Spare to spare.
	Directive  string
	Have, Need int
	Spare      string
	// Raise says what the server limits step does when Have < Need.
	Raise string
	// Blocked: Have < Need, and the server limits step will not raise
	// the limit (it is set in a file rpwizard does not edit); Raise says
	// where and what to set.
	Blocked bool
}

// LimitsPlan is what raising the limits takes.
type LimitsPlan struct {
	Changes []installer.Change
	// Warnings are what rpwizard cannot raise itself.
	Warnings []Warning
}

// Warning is a problem the plan does not fix.
type Warning struct{ Msg, Fix string }

func (p *LimitsPlan) warn(msg, fix string) {
	p.Warnings = append(p.Warnings, Warning{Msg: msg, Fix: fix})
}

// readConf reads a config file to edit, with its permissions.
func readConf(path string) ([]byte, fs.FileMode, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	data, err := os.ReadFile(path)
	return data, fi.Mode().Perm(), err
}

// splice replaces b[from:to] by s.
func splice(b []byte, from, to int, s string) []byte {
	out := make([]byte, 0, len(b)+len(s))
	out = append(out, b[:from]...)
	out = append(out, s...)
	return append(out, b[to:]...)
}

// edit is a splice to make.
type edit struct {
	at, to int
	s      string
}

// applyEdits makes edits from the end of b, so that earlier positions
// stay valid.
func applyEdits(b []byte, edits []edit) []byte {
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].at > edits[j].at })
	for _, e := range edits {
		b = splice(b, e.at, e.to, e.s)
	}
	return b
}
