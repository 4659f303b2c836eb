package preflight

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"github.com/rpwizard/rpwizard/server"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
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
// from procRoot/net/tcp and tcp6 (procRoot is "/proc" on a real host) and
// finds their programs through procRoot/*/fd. Only sockets on ports are
// kept (all, if ports is empty).
func ReadListeners(procRoot string, ports ...int) ([]Listener, error) {
	want := map[int]bool{}
	for _, p := range ports {
		want[p] = true
	}
	var out []Listener
	var firstErr error
	for _, f := range []string{"net/tcp", "net/tcp6"} {
		data, err := os.ReadFile(filepath.Join(procRoot, f))
		if err != nil {
			if firstErr == nil && f == "net/tcp" {
				firstErr = err
			}
			continue
		}
		for _, l := range ParseProcNetTCP(data) {
			if len(want) == 0 || want[l.Port] {
				out = append(out, l)
			}
		}
	}
	if out == nil && firstErr != nil {
		return nil, fmt.Errorf("read listening sockets: %w", firstErr)
	}
	inodes := map[uint64]bool{}
	for _, l := range out {
		inodes[l.Inode] = true
	}
	owners := SocketOwners(procRoot, inodes)
	for i := range out {
		if o, ok := owners[out[i].Inode]; ok {
			out[i].Pid, out[i].Program, out[i].Cmdline = o.Pid, o.Program, o.Cmdline
		}
	}
	return out, nil
}

// ParseProcNetTCP parses /proc/net/tcp or tcp6 and returns the sockets in
// state LISTEN (0A). Addresses are hex in host byte order (little-endian
// 32-bit words); ports are hex.
func ParseProcNetTCP(data []byte) []Listener {
	var out []Listener
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != "0A" {
			continue
		}
		addrHex, portHex, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(portHex, 16, 16)
		if err != nil {
			continue
		}
		raw, err := hex.DecodeString(addrHex)
		if err != nil || (len(raw) != 4 && len(raw) != 16) {
			continue
		}
		for i := 0; i+4 <= len(raw); i += 4 {
			raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
		}
		addr, _ := netip.AddrFromSlice(raw)
		inode, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, Listener{Addr: addr, Port: int(port), Inode: inode})
	}
	return out
}

// Proc is a process holding a socket.
type Proc struct {
	Pid     int
	Program string
	Cmdline string
}

// SocketOwners maps socket inodes to the process holding them, by reading
// the links in procRoot/PID/fd. Where several processes share a socket
// (nginx's master and workers) the lowest pid, the parent, is kept. It
// stops as soon as every inode is found.
func SocketOwners(procRoot string, inodes map[uint64]bool) map[uint64]Proc {
	out := map[uint64]Proc{}
	if len(inodes) == 0 {
		return out
	}
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return out
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	for _, pid := range pids {
		dir := filepath.Join(procRoot, strconv.Itoa(pid))
		fds, err := os.ReadDir(filepath.Join(dir, "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]"), 10, 64)
			if err != nil || !inodes[ino] {
				continue
			}
			if _, seen := out[ino]; !seen {
				out[ino] = readProc(dir, pid)
			}
		}
		if len(out) == len(inodes) {
			break
		}
	}
	return out
}

func readProc(dir string, pid int) Proc {
	p := Proc{Pid: pid}
	if comm, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil {
		p.Program = strings.TrimSpace(string(comm))
	}
	if cmd, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		p.Cmdline = strings.TrimSpace(strings.Join(strings.FieldsFunc(string(cmd), func(r rune) bool { return r == 0 }), " "))
		// comm is cut at 15 characters: prefer the command's own name
		// when it continues it ("integration.tes" → "integration.test").
		if first := strings.Fields(p.Cmdline); len(first) > 0 && len(p.Program) == 15 {
			if base := filepath.Base(first[0]); strings.HasPrefix(base, p.Program) {
				p.Program = base
			}
		}
		if len(p.Cmdline) > 120 {
			p.Cmdline = p.Cmdline[:117] + "..."
		}
	}
	return p
}

// ProgramRunning reports whether a process called name (comm) runs.
func ProgramRunning(procRoot, name string) bool {
	comms, _ := filepath.Glob(filepath.Join(procRoot, "[0-9]*", "comm"))
	for _, c := range comms {
		if b, err := os.ReadFile(c); err == nil && strings.TrimSpace(string(b)) == name {
			return true
		}
	}
	return false
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
