package steps

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/rpwizard/rpwizard/answers"
)

// lockoutStep is the step name of the lockout warnings.
const lockoutStep = "access"

// AdminAddr is the address the admin is connected from: the first field
// of SSH_CLIENT ("10.1.2.3 52100 22"). It is invalid when the value is
// empty or not an address (a local console).
func AdminAddr(sshClient string) netip.Addr {
	f := strings.Fields(sshClient)
	if len(f) == 0 {
		return netip.Addr{}
	}
	ip, err := netip.ParseAddr(f[0])
	if err != nil {
		return netip.Addr{}
	}
	return ip.WithZone("").Unmap()
}

// LockoutWarnings warns when the restrictions of validated answers would
// shut out the address the admin is connected from: from there, the
// admin GUI (or the whole site) would answer 403. It is pure: the wizard's
// review and `rpwizard --answers` both show what it returns. An invalid
// from (not connected over SSH) gives no warning.
func LockoutWarnings(a *answers.Answers, from netip.Addr) []Warning {
	if !from.IsValid() {
		return nil
	}
	var out []Warning
	check := func(what string, nets []string) {
		if len(nets) == 0 || allows(nets, from) {
			return
		}
		out = append(out, Warning{Step: lockoutStep,
			Msg: fmt.Sprintf("you are connected from %s (SSH_CLIENT), but only %s may reach %s: from your address it will answer 403 Forbidden",
				from, strings.Join(nets, ", "), what),
			Fix: fmt.Sprintf("allow your network too (e.g. %s), or use it only from an allowed network", hostPrefix(from))})
	}
	check("the whole site", a.Restrict.SiteNetworks)
	check(adminWhat(a), a.Restrict.AdminNetworks)
	return out
}

// warnLockout records the lockout warnings for e's admin address,
// replacing those of an earlier plan (the wizard plans again after a
// change).
func (e *Env) warnLockout() {
	kept := e.Warnings[:0]
	for _, w := range e.Warnings {
		if w.Step != lockoutStep {
			kept = append(kept, w)
		}
	}
	e.Warnings = append(kept, LockoutWarnings(e.Answers, e.AdminFrom)...)
}

// adminWhat names the admin GUI with its full paths ("/jatos", or
// "/jhub/hub/admin" under the base path /jhub/).
func adminWhat(a *answers.Answers) string {
	paths := AdminURLPaths(a)
	if len(paths) == 0 {
		return "the admin GUI"
	}
	return "the admin GUI (" + strings.Join(paths, ", ") + ")"
}

// AdminURLPaths are the admin GUI's URL paths with the base path in
// front, as a browser asks for them.
func AdminURLPaths(a *answers.Answers) []string {
	base := strings.TrimSuffix(a.BasePath, "/")
	var out []string
	for _, p := range a.Profile().AdminPaths {
		out = append(out, base+p)
	}
	return out
}

func allows(nets []string, ip netip.Addr) bool {
	for _, n := range nets {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			if a, err := netip.ParseAddr(n); err == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				continue
			}
		}
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// hostPrefix is a network to suggest for ip: its /24 (IPv4) or /64.
func hostPrefix(ip netip.Addr) string {
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p.String()
}
