// Package preflight checks a host before rpwizard changes anything: root,
// platform, the proxy server (installed, version, modules), ports 80/443,
// SELinux, the firewall, an existing config for the same name, DNS, the
// upstream app and nginx's connection limits.
//
// Each check is a function of an Input, gathered once (Gather), and
// returns Findings: a result that passed, a warning that does not stop the
// run, or a refusal that stops it before anything is touched, each with
// the command that fixes it. A fix the user consented to (install_missing,
// take_over) comes back as a Fix, a description that the preflight step
// (package steps) plans as changes; the checks themselves never write.
package preflight

import (
	"context"
	"net/netip"
	"strings"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/server"
)

// Severity says what a finding means for the run.
type Severity int

const (
	// OK: the check passed; Msg says what was found.
	OK Severity = iota
	// Skip: the check could not be decided here (a fake root, no root).
	Skip
	// Warn: a problem that does not stop the run.
	Warn
	// Block: the run stops before anything is touched.
	Block
)

func (s Severity) String() string {
	return [...]string{"ok", "skip", "warn", "refused"}[s]
}

// Finding is the result of one check.
type Finding struct {
	Check    string
	Severity Severity
	Msg      string
	// Fix says what to do (a command where there is one).
	Fix string
	// Fixes are the fixes the user consented to, for the preflight step
	// to plan.
	Fixes []Fix
}

// Fix is a fix the user consented to (install_missing, take_over), as
// data. Exactly one of Install, Argv and TakeOver is set.
type Fix struct {
	Why string
	// Install installs packages, after fetching the package lists when
	// Refresh (there are none); a rollback removes them again unless
	// Keep.
	Install       []string
	Refresh, Keep bool
	// Server is the server Install brings ("" for modules and tools):
	// later steps plan for it from paths alone.
	Server string
	// Argv runs a command (never through a shell); a rollback runs Undo.
	Argv, Undo []string
	// TakeOver disables a foreign site file.
	TakeOver *TakeOver
}

// TakeOver disables the site file Path: a link is removed (Dest ""), or
// the file moves to Dest where the server no longer reads it (a link
// stays a link to Link).
type TakeOver struct {
	Path, Link, Dest string
}

func (f Finding) String() string {
	s := f.Check + ": " + f.Msg
	if f.Fix != "" {
		s += " (fix: " + f.Fix + ")"
	}
	return s
}

// Input is everything the checks look at.
type Input struct {
	Answers *answers.Answers
	Host    *host.Host
	// Proxy is the chosen server: what is nginx- or Apache-specific is
	// asked of it.
	Proxy server.Server
	// ApacheModules are the modules the site needs (from the steps).
	ApacheModules []string
	Euid          int
	NumCPU        int
	// Live: the facts below describe this machine (root "/"). On a fake
	// root they are empty and the checks that need them are skipped.
	Live      bool
	Listeners []Listener
	// LocalAddrs are the addresses of this host's interfaces.
	LocalAddrs []netip.Addr
	// Lookup resolves a name (nil: DNS checks are skipped).
	Lookup func(ctx context.Context, name string) ([]netip.Addr, error)
	// Dial connects to a local TCP address (nil: not tried).
	Dial     func(ctx context.Context, addr string) error
	Firewall Firewall
}

// Check is one preflight check.
type Check struct {
	Name string
	Run  func(ctx context.Context, in *Input) []Finding
}

// Checks returns the checks in the order they run: what decides whether
// rpwizard can work at all first, then what would break the new site.
func Checks() []Check {
	return []Check{
		{"root", checkRoot},
		{"platform", checkPlatform},
		{"server", checkServer},
		{"server version", checkVersion},
		{"apache modules", checkModules},
		{"ports", checkPorts},
		{"selinux", checkSELinux},
		{"firewall", checkFirewall},
		{"existing config", checkSites},
		{"dns", checkDNS},
		{"upstream", checkUpstream},
		{"connections", checkConnections},
	}
}

// Run runs every check and returns all findings, in order.
func Run(ctx context.Context, in *Input) []Finding {
	var out []Finding
	for _, c := range Checks() {
		for _, f := range c.Run(ctx, in) {
			if f.Check == "" {
				f.Check = c.Name
			}
			out = append(out, f)
		}
	}
	return out
}

// proxy is the chosen server (tests may leave Proxy unset).
func (in *Input) proxy() server.Server {
	if in.Proxy != nil {
		return in.Proxy
	}
	return server.Must(in.Host, in.Answers.Server)
}

// one is a single finding of the running check.
func one(sev Severity, msg, fix string) []Finding {
	return []Finding{{Severity: sev, Msg: msg, Fix: fix}}
}

// andList joins "a", "a and b", "a, b and c".
func andList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
