package preflight

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/server"
)

// Listener is a listening TCP socket and, when it can be found, the
// program that holds it.
type Listener struct {
	Addr    netip.Addr
	Port    int
	Inode   uint64
	Pid     int    // 0: not found (another user's process and we are not root)
	Program string // /proc/PID/comm
	Cmdline string
}

// AddrPort is the socket's address, e.g. 0.0.0.0:80 or [::1]:9000.
func (l Listener) AddrPort() string { return netip.AddrPortFrom(l.Addr, uint16(l.Port)).String() }

// Who names the program holding the socket, for messages.
func (l Listener) Who() string {
	if l.Pid == 0 {
		return fmt.Sprintf("a program rpwizard cannot name (socket inode %d)", l.Inode)
	}
	s := fmt.Sprintf("%s (pid %d", l.Program, l.Pid)
	if l.Cmdline != "" && l.Cmdline != l.Program {
		s += ": " + l.Cmdline
	}
	return s + ")"
}

// ReadListeners reads the listening TCP sockets of this network namespace
// (host.ListeningSockets; procRoot is "/proc" on a real host) and finds
// their programs (host.SocketOwners). Only sockets on ports are kept (all,
// if ports is empty).
func ReadListeners(procRoot string, ports ...int) ([]Listener, error) {
	socks, err := host.ListeningSockets(procRoot)
	if err != nil {
		return nil, err
	}
	want := map[int]bool{}
	for _, p := range ports {
		want[p] = true
	}
	var out []Listener
	inodes := map[uint64]bool{}
	for _, s := range socks {
		if len(want) == 0 || want[s.Port] {
			out = append(out, Listener{Addr: s.Addr, Port: s.Port, Inode: s.Inode})
			inodes[s.Inode] = true
		}
	}
	owners := host.SocketOwners(procRoot, inodes)
	for i := range out {
		if o, ok := owners[out[i].Inode]; ok {
			out[i].Pid, out[i].Program, out[i].Cmdline = o.Pid, o.Program, o.Cmdline
		}
	}
	return out, nil
}

// otherServer is the proxy server whose program is prog (it holds a port
// the chosen server did not take).
func otherServer(in *Input, prog string) (server.Server, bool) {
	for _, s := range server.All(in.Host) {
		for _, p := range s.Paths().Programs {
			if p == prog {
				return s, true
			}
		}
	}
	return nil, false
}

func checkPorts(ctx context.Context, in *Input) []Finding {
	if !in.Live {
		return one(Skip, "ports 80 and 443 not checked on a fake root", "")
	}
	p := in.proxy()
	mine := map[string]bool{}
	for _, prog := range p.Paths().Programs {
		mine[prog] = true
	}
	type holder struct {
		ports []string
		l     Listener
	}
	var order []string
	holders := map[string]*holder{}
	var ours []string
	for _, port := range []int{80, 443} {
		seen := map[string]bool{}
		for _, ln := range in.Listeners {
			if ln.Port != port {
				continue
			}
			key := strconv.Itoa(ln.Pid)
			if ln.Pid == 0 {
				key = "unknown" // one group: they cannot be told apart
			}
			if seen[key] {
				continue // [::]:80 and 0.0.0.0:80 of the same program
			}
			seen[key] = true
			if ln.Pid != 0 && mine[ln.Program] && p.Installed() {
				ours = append(ours, fmt.Sprintf("%d by %s", port, ln.Who()))
				continue
			}
			if holders[key] == nil {
				holders[key] = &holder{l: ln}
				order = append(order, key)
			}
			holders[key].ports = append(holders[key].ports, strconv.Itoa(port))
		}
	}
	var out []Finding
	for _, key := range order {
		h := holders[key]
		what := "port " + h.ports[0]
		if len(h.ports) > 1 {
			what = "ports " + andList(h.ports)
		}
		if h.l.Pid == 0 && in.Euid != 0 {
			out = append(out, Finding{Severity: Warn, Msg: fmt.Sprintf("%s in use, by a program that only root can name", what),
				Fix: "run rpwizard as root to see which program holds it"})
			continue
		}
		out = append(out, Finding{Severity: Block,
			Msg: fmt.Sprintf("%s held by %s, not by %s: %s could not listen there", what, h.l.Who(), p.Title(), p.Title()),
			Fix: portFix(in, h.l, what)})
	}
	if len(out) > 0 {
		return out
	}
	if len(ours) > 0 {
		return one(OK, "held by the chosen server: port "+strings.Join(ours, ", port "), "")
	}
	return one(OK, "ports 80 and 443 are free", "")
}

// portFix says how to free a port held by another program.
func portFix(in *Input, l Listener, what string) string {
	switch {
	case l.Pid == 0:
		return fmt.Sprintf("find it with `ss -ltnp 'sport = :%d'` and stop it, then run rpwizard again", l.Port)
	case isOther(in, l.Program):
		other, _ := otherServer(in, l.Program)
		stop := "systemctl disable --now " + other.Paths().Service
		if !in.Host.Systemd {
			stop = "stop it (" + strings.Join(other.Commands().Stop, " ") + ")"
		}
		return fmt.Sprintf("%s, or set server: %s to let %s serve the site", stop, other.Name(), other.Title())
	case l.Program == "docker-proxy":
		return "a Docker container publishes " + what + ": stop it, or publish it on other ports"
	}
	return fmt.Sprintf("stop %s (pid %d) or move it to other ports, then run rpwizard again", l.Program, l.Pid)
}

func isOther(in *Input, prog string) bool {
	_, ok := otherServer(in, prog)
	return ok
}
