package host

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// SELinux is the state of SELinux, read from selinuxfs and the policy
// store (files only: no getenforce, no getsebool).
type SELinux struct {
	Enabled   bool
	Enforcing bool
	// Booleans holds the current value of the booleans rpwizard cares
	// about (httpd_can_network_connect, httpd_can_network_relay).
	Booleans map[string]bool
	// LocalPorts are the port labels added with `semanage port -a/-m`
	// (ports.local of the policy store): type → TCP port ranges.
	LocalPorts map[string][]PortRange
}

// PortRange is an inclusive range of ports.
type PortRange struct{ Lo, Hi int }

// Has reports whether p is in the range.
func (r PortRange) Has(p int) bool { return p >= r.Lo && p <= r.Hi }

// SELinuxBooleans are the booleans ReadSELinux reads.
var SELinuxBooleans = []string{"httpd_can_network_connect", "httpd_can_network_relay"}

// ReadSELinux reads SELinux's state under root.
func ReadSELinux(root string) SELinux {
	var s SELinux
	fsDir := filepath.Join(root, "sys/fs/selinux")
	enforce, err := os.ReadFile(filepath.Join(fsDir, "enforce"))
	if err != nil {
		return s
	}
	s.Enabled = true
	s.Enforcing = strings.TrimSpace(string(enforce)) == "1"
	s.Booleans = map[string]bool{}
	for _, b := range SELinuxBooleans {
		data, err := os.ReadFile(filepath.Join(fsDir, "booleans", b))
		if err != nil {
			continue
		}
		// "current pending", e.g. "0 0".
		f := strings.Fields(string(data))
		s.Booleans[b] = len(f) > 0 && f[0] == "1"
	}
	s.LocalPorts = map[string][]PortRange{}
	for _, p := range []string{"var/lib/selinux/targeted/active/ports.local", "etc/selinux/targeted/active/ports.local"} {
		if data, err := os.ReadFile(filepath.Join(root, p)); err == nil {
			for t, rs := range ParsePortsLocal(data) {
				s.LocalPorts[t] = append(s.LocalPorts[t], rs...)
			}
		}
	}
	return s
}

// ParsePortsLocal reads the policy store's ports.local:
//
//	portcon tcp 8000 system_u:object_r:http_port_t:s0
//	portcon tcp 8100-8110 system_u:object_r:http_port_t:s0
func ParsePortsLocal(data []byte) map[string][]PortRange {
	out := map[string][]PortRange{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[0] != "portcon" || f[1] != "tcp" {
			continue
		}
		r, ok := parseRange(f[2])
		ctx := strings.Split(f[3], ":")
		if !ok || len(ctx) < 3 {
			continue
		}
		out[ctx[2]] = append(out[ctx[2]], r)
	}
	return out
}

// ParseSemanagePorts reads `semanage port -l`:
//
//	SELinux Port Type              Proto    Port Number
//	http_port_t                    tcp      80, 81, 443, 488, 8008, 8009, 8443, 9000
//	http_cache_port_t              tcp      8080, 8118, 8123, 10001-10010
func ParseSemanagePorts(data []byte) map[string][]PortRange {
	out := map[string][]PortRange{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[1] != "tcp" {
			continue
		}
		for _, p := range strings.Split(strings.Join(f[2:], ""), ",") {
			if r, ok := parseRange(p); ok {
				out[f[0]] = append(out[f[0]], r)
			}
		}
	}
	return out
}

func parseRange(s string) (PortRange, bool) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(lo)
	if err != nil {
		return PortRange{}, false
	}
	b := a
	if isRange {
		if b, err = strconv.Atoi(hi); err != nil {
			return PortRange{}, false
		}
	}
	return PortRange{a, b}, true
}

// SELinuxDefaultPorts are TCP port labels of the targeted policy (RHEL 8–10,
// Fedora) for ports that apps behind a proxy commonly use; used when
// `semanage port -l` cannot be asked.
var SELinuxDefaultPorts = map[string][]PortRange{
	"http_port_t":       {{80, 80}, {81, 81}, {443, 443}, {488, 488}, {8008, 8009}, {8443, 8443}, {9000, 9000}},
	"http_cache_port_t": {{8080, 8080}, {8118, 8118}, {8123, 8123}, {10001, 10010}},
	"soundd_port_t":     {{8000, 8000}, {9433, 9433}, {16001, 16001}},
	"squid_port_t":      {{3128, 3128}, {3401, 3401}, {4827, 4827}},
	"transproxy_port_t": {{8081, 8081}},
}

// PortTypes returns the SELinux types of TCP port p: from `semanage port
// -l` when the host can run it, else from the policy defaults above plus
// the local labels. The first result is the local label, if any.
func (h *Host) PortTypes(ctx context.Context, p int) []string {
	table := SELinuxDefaultPorts
	if h.Run != nil && h.SELinux.Enabled {
		if out, err := h.Run(ctx, "semanage", "port", "-l"); err == nil {
			table = ParseSemanagePorts(out)
		}
	}
	var types []string
	add := func(tbl map[string][]PortRange) {
		var found []string
		for t, rs := range tbl {
			for _, r := range rs {
				if r.Has(p) && !contains(types, t) && !contains(found, t) {
					found = append(found, t)
				}
			}
		}
		sort.Strings(found)
		types = append(types, found...)
	}
	add(h.SELinux.LocalPorts)
	add(table)
	return types
}
