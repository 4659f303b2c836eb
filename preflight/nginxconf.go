package preflight

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// NginxLimits are the connection settings of nginx.conf.
type NginxLimits struct {
	WorkerProcesses   string // "auto", a number, or "" (default 1)
	WorkerConnections int    // 0: not set (default 512)
	RlimitNofile      int    // 0: not set
}

var (
	reWorkerProcesses   = regexp.MustCompile(`(?:^|[\s;{])worker_processes\s+(\S+?)\s*;`)
	reWorkerConnections = regexp.MustCompile(`(?:^|[\s;{])(worker_connections\s+)(\d+)(\s*;)`)
	reRlimitNofile      = regexp.MustCompile(`(?:^|[\s;{])(worker_rlimit_nofile\s+)(\d+)(\s*;)`)
	reEvents            = regexp.MustCompile(`(?m)^[ \t]*events\s*\{[ \t]*\n`)
)

// ParseNginxLimits reads worker_processes, worker_connections and
// worker_rlimit_nofile, ignoring comments.
func ParseNginxLimits(conf []byte) NginxLimits {
	var b strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(conf))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		b.WriteString(line + "\n")
	}
	s := b.String()
	var lim NginxLimits
	if m := reWorkerProcesses.FindStringSubmatch(s); m != nil {
		lim.WorkerProcesses = m[1]
	}
	if m := reWorkerConnections.FindStringSubmatch(s); m != nil {
		lim.WorkerConnections, _ = strconv.Atoi(m[2])
	}
	if m := reRlimitNofile.FindStringSubmatch(s); m != nil {
		lim.RlimitNofile, _ = strconv.Atoi(m[2])
	}
	return lim
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

// SetNginxLimits rewrites conf with worker_connections set to wc and
// worker_rlimit_nofile at least rlimit, touching only those lines. It
// reports false when conf has no events block to put them in.
func SetNginxLimits(conf []byte, wc, rlimit int) ([]byte, bool) {
	out := conf
	if loc := liveMatch(reWorkerConnections, out); loc != nil {
		out = append(append(append([]byte{}, out[:loc[4]]...), strconv.Itoa(wc)...), out[loc[5]:]...)
	} else {
		ev := reEvents.FindIndex(out)
		if ev == nil {
			return nil, false
		}
		out = append(append(append([]byte{}, out[:ev[1]]...), fmt.Sprintf("\tworker_connections %d;\n", wc)...), out[ev[1]:]...)
	}
	if loc := liveMatch(reRlimitNofile, out); loc != nil {
		if cur, _ := strconv.Atoi(string(out[loc[4]:loc[5]])); cur < rlimit {
			out = append(append(append([]byte{}, out[:loc[4]]...), strconv.Itoa(rlimit)...), out[loc[5]:]...)
		}
	} else {
		ev := reEvents.FindIndex(out)
		if ev == nil {
			return nil, false
		}
		out = append(append(append([]byte{}, out[:ev[0]]...), fmt.Sprintf("worker_rlimit_nofile %d;\n", rlimit)...), out[ev[0]:]...)
	}
	return out, true
}

// liveMatch is the first match of re that is not in a comment.
func liveMatch(re *regexp.Regexp, b []byte) []int {
	for _, loc := range re.FindAllSubmatchIndex(b, -1) {
		if !commented(b, loc[2]) {
			return loc
		}
	}
	return nil
}

// commented: the match at i follows a # on its line.
func commented(b []byte, i int) bool {
	start := bytes.LastIndexByte(b[:i], '\n') + 1
	return bytes.IndexByte(b[start:i], '#') >= 0
}

func checkConnections(ctx context.Context, in *Input) []Finding {
	a, l := in.Answers, in.Host.Layout
	if a.Server == "apache" {
		return checkApacheConnections(in)
	}
	conf, err := os.ReadFile(l.NginxMain)
	if err != nil {
		if a.ExpectedWebSockets > 0 {
			return one(Skip, "nginx.conf does not exist yet: worker_connections not checked", "")
		}
		return nil
	}
	lim := ParseNginxLimits(conf)
	wp, wc := lim.Workers(in.NumCPU), lim.Connections()
	allows := lim.WebSockets(in.NumCPU)
	how := fmt.Sprintf("nginx allows about %d simultaneous WebSockets (worker_connections %d × %d worker processes ÷ 2: each proxied WebSocket holds 2 connections)", allows, wc, wp)
	want := a.ExpectedWebSockets
	need := NeededConnections(want, wp)
	switch {
	case want == 0:
		return one(OK, how+"; set expected_websockets to check your number", "")
	case need <= wc:
		return one(OK, fmt.Sprintf("%s: enough for expected_websockets %d with a fifth to spare", how, want), "")
	}
	// Raising them is the server limits step's job (steps/limits.go); it
	// raises exactly when this says they are short.
	return one(OK, fmt.Sprintf("%s; expected_websockets %d with a fifth to spare needs worker_connections %d: the server limits step raises it",
		how, want, need), "")
}
