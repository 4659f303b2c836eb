package preflight

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/server"
)

// Timeouts of the live checks: the whole preflight stays well under a
// second even when DNS does not answer.
const (
	DNSTimeout  = 2 * time.Second
	DialTimeout = 500 * time.Millisecond
)

// Gather collects the input of the checks. On a real host (root "/") it
// reads the listening sockets and their programs, the interface
// addresses, the firewall, and sets up name lookups (hosts file, then
// DNS) and loopback dials; on a fake root only the files under the root
// are read.
func Gather(ctx context.Context, a *answers.Answers, h *host.Host, apacheModules []string) *Input {
	in := &Input{Answers: a, Host: h, Proxy: server.Must(h, a.Server), ApacheModules: apacheModules, Euid: os.Geteuid(), NumCPU: runtime.NumCPU()}
	if h.Fake() {
		in.Firewall = DetectFirewall(ctx, h.Layout.Root, nil, nil)
		return in
	}
	in.Live = true
	ports := []int{80, 443}
	if _, p, err := net.SplitHostPort(a.Upstream); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			ports = append(ports, n)
		}
	}
	in.Listeners, _ = ReadListeners("/proc", ports...)
	in.LocalAddrs = LocalAddrs()
	in.Lookup = NewLookup(readHosts(filepath.Join(h.Layout.Root, "etc/hosts")), DNSTimeout)
	in.Dial = NewDial(DialTimeout)
	in.Firewall = DetectFirewall(ctx, "/", h.Run, func(name string) bool { return host.ProgramRunning("/proc", name) })
	return in
}
