package host

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// This file is the one reader of /proc: listening sockets, the processes
// holding them, and process trees. Functions that take procRoot read it
// there ("/proc" on a real host; tests pass a fake one).

// Socket is a TCP socket in LISTEN state.
type Socket struct {
	Addr  netip.Addr
	Port  int
	Inode uint64
}

// AddrPort is the socket's address, e.g. 0.0.0.0:80 or [::1]:9000.
func (s Socket) AddrPort() netip.AddrPort { return netip.AddrPortFrom(s.Addr, uint16(s.Port)) }

// ListeningSockets reads the listening TCP sockets of this network
// namespace from procRoot/net/tcp and tcp6. It fails only when neither
// can be read.
func ListeningSockets(procRoot string) ([]Socket, error) {
	var out []Socket
	var firstErr error
	read := 0
	for _, f := range []string{"net/tcp", "net/tcp6"} {
		data, err := os.ReadFile(filepath.Join(procRoot, f))
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		read++
		out = append(out, ParseProcNetTCP(data)...)
	}
	if read == 0 {
		return nil, fmt.Errorf("read listening sockets: %w", firstErr)
	}
	return out, nil
}

// ParseProcNetTCP parses /proc/net/tcp or tcp6 and returns the sockets in
// state LISTEN (0A).
func ParseProcNetTCP(data []byte) []Socket {
	var out []Socket
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != "0A" {
			continue
		}
		ap, err := ParseProcAddr(f[1])
		if err != nil {
			continue
		}
		inode, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, Socket{Addr: ap.Addr(), Port: int(ap.Port()), Inode: inode})
	}
	return out
}

// ParseProcAddr decodes "0100007F:2328" (IPv4) or the 32-digit IPv6 form:
// the address is hex in host byte order (little-endian 32-bit words), the
// port hex.
func ParseProcAddr(s string) (netip.AddrPort, error) {
	hexIP, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(hexIP)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("bad address %q", s)
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad port %q", s)
	}
	ip, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(ip, uint16(port)), nil
}

// ListeningInodes returns the socket inodes of the TCP sockets in LISTEN
// state, as HoldsAny takes them.
func ListeningInodes() map[string]bool {
	out := map[string]bool{}
	socks, _ := ListeningSockets("/proc")
	for _, s := range socks {
		out[strconv.FormatUint(s.Inode, 10)] = true
	}
	return out
}

// socketInode is the inode of an fd link "socket:[INODE]".
func socketInode(link string) (string, bool) {
	rest, ok := strings.CutPrefix(link, "socket:[")
	if !ok || !strings.HasSuffix(rest, "]") {
		return "", false
	}
	return strings.TrimSuffix(rest, "]"), true
}

// HoldsAny reports whether process pid has one of the socket inodes open.
func HoldsAny(pid int, inodes map[string]bool) bool {
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, fd := range fds {
		l, err := os.Readlink(fd)
		if ino, ok := socketInode(l); err == nil && ok && inodes[ino] {
			return true
		}
	}
	return false
}

// Proc is a process holding a socket.
type Proc struct {
	Pid     int
	Program string // comm
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
			s, ok := socketInode(link)
			if err != nil || !ok {
				continue
			}
			ino, err := strconv.ParseUint(s, 10, 64)
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

// Parents maps every process to its parent, from /proc.
func Parents() map[int]int {
	out := map[int]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may contain spaces.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		ppid, _ := strconv.Atoi(fields[1])
		out[pid] = ppid
	}
	return out
}

// Children lists the processes whose parent is pid, from /proc.
func Children(pid int) map[int]bool {
	out := map[int]bool{}
	for c, p := range Parents() {
		if p == pid {
			out[c] = true
		}
	}
	return out
}

// Descendants lists pid's children, grandchildren and so on, from /proc.
func Descendants(pid int) map[int]bool {
	parents := Parents()
	out := map[int]bool{}
	for changed := true; changed; {
		changed = false
		for p, pp := range parents {
			if !out[p] && (pp == pid || out[pp]) {
				out[p] = true
				changed = true
			}
		}
	}
	return out
}

// StartTime is when process pid started, in clock ticks after boot (field
// 22 of /proc/PID/stat); false when there is no such process or it has
// exited and only waits to be reaped (a zombie). A pid and its start time
// name one process: a pid alone may be reused.
func StartTime(pid int) (uint64, bool) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	return parseStartTime(string(data))
}

// parseStartTime reads the start time of a /proc/PID/stat line: pid
// (comm) state ppid ... starttime is the 20th field after comm, which may
// hold spaces and parentheses.
func parseStartTime(stat string) (uint64, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(stat[i+1:])
	if len(fields) < 20 || fields[0] == "Z" || fields[0] == "X" {
		return 0, false
	}
	v, err := strconv.ParseUint(fields[19], 10, 64)
	return v, err == nil
}
