package preflight

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"github.com/rpwizard/rpwizard/host"
)

// ApacheLimits are the MPM settings that bound simultaneous connections.
type ApacheLimits struct {
	MPM               string // event, worker or prefork ("" when unknown)
	MaxRequestWorkers int    // 0: the MPM's default
	ThreadsPerChild   int    // 0: default 25
	File              string // where MaxRequestWorkers is set ("" if not)
}

var (
	reMaxWorkers = regexp.MustCompile(`(?mi)^[ \t]*(?:MaxRequestWorkers|MaxClients)[ \t]+(\d+)`)
	reThreads    = regexp.MustCompile(`(?mi)^[ \t]*ThreadsPerChild[ \t]+(\d+)`)
)

// ReadApacheLimits finds the MPM and its limits: Debian's enabled
// mpm_*.conf, the RHEL family's conf.modules.d and conf.d, and the main
// config; the last setting read wins, as in Apache.
func ReadApacheLimits(l host.Layout) ApacheLimits {
	var lim ApacheLimits
	loaded := l.ApacheLoaded()
	for _, m := range []string{"event", "worker", "prefork"} {
		if loaded["mpm_"+m] {
			lim.MPM = m
		}
	}
	files := []string{l.ApacheMain}
	for _, g := range []string{filepath.Join(l.ApacheModsEnable, "mpm_*.conf"), filepath.Join(l.ApacheModulesD, "*.conf"), filepath.Join(l.ApacheConfD, "*.conf")} {
		if filepath.Dir(g) == "." || filepath.Dir(g) == "/" {
			continue // not on this platform
		}
		m, _ := filepath.Glob(g)
		sort.Strings(m)
		files = append(files, m...)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if all := reMaxWorkers.FindAllSubmatch(data, -1); len(all) > 0 {
			lim.MaxRequestWorkers, _ = strconv.Atoi(string(all[len(all)-1][1]))
			lim.File = f
		}
		if all := reThreads.FindAllSubmatch(data, -1); len(all) > 0 {
			lim.ThreadsPerChild, _ = strconv.Atoi(string(all[len(all)-1][1]))
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

// checkApacheConnections: Apache's proxy holds a worker (a thread, or a
// process with prefork) for each WebSocket it tunnels, so
// MaxRequestWorkers bounds the simultaneous WebSockets.
func checkApacheConnections(in *Input) []Finding {
	a, l := in.Answers, in.Host.Layout
	if !in.Host.Has("apache") {
		if a.ExpectedWebSockets > 0 {
			return one(Skip, "Apache is not installed yet: MaxRequestWorkers not checked", "")
		}
		return nil
	}
	lim := ReadApacheLimits(l)
	mpm := lim.MPM
	if mpm == "" {
		mpm = "unknown"
	}
	set := "default"
	if lim.File != "" {
		set = "set in " + shortPath(l, lim.File)
	}
	how := fmt.Sprintf("Apache allows about %d simultaneous WebSockets (MaxRequestWorkers %d, %s; %s MPM: each proxied WebSocket holds a worker)", lim.Workers(), lim.Workers(), set, mpm)
	want := a.ExpectedWebSockets
	need := ApacheThreadsFor(want)
	switch {
	case want == 0:
		return one(OK, how+"; set expected_websockets to check your number", "")
	case need <= lim.Workers():
		return one(OK, fmt.Sprintf("%s: enough for expected_websockets %d with a fifth and 25 threads to spare", how, want), "")
	}
	// Raising them is the server limits step's job (steps/limits.go),
	// for the event MPM; it raises exactly when this says they are short.
	needs := fmt.Sprintf("%s; expected_websockets %d with a fifth and 25 threads to spare needs MaxRequestWorkers %d", how, want, need)
	if lim.MPM != "event" {
		return one(OK, needs+": rpwizard raises the limits of the event MPM only", "")
	}
	return one(OK, needs+": the server limits step raises the MPM's limits", "")
}

// ApacheThreadsFor is the number of worker threads (MaxRequestWorkers)
// that carry want WebSockets: one each, a fifth more for ordinary
// requests, and 25 spare. The server limits step raises the event MPM's
// limits to it.
func ApacheThreadsFor(want int) int { return want*6/5 + 25 }
