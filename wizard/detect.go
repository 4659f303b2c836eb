package wizard

import (
	"context"

	"net"
	"net/netip"
	"sort"
	"strconv"
	"time"

	"github.com/rpwizard/rpwizard/host"
)

// knownPorts maps the port each app listens on by default to the app.
var knownPorts = []struct {
	Port int
	App  string
}{{9000, "jatos"}, {8000, "jupyterhub"}, {61000, "cryosparc"}}

// Listener is an app found listening on its default port.
type Listener struct {
	App      string // profile name
	Upstream string // host:port to proxy to
	// AllInterfaces: the app also listens on public interfaces, so it can
	// be reached around the proxy.
	AllInterfaces bool
}

// Findings is what the wizard learned about the machine before asking.
type Findings struct {
	Listeners []Listener
	// Subnets are the networks of the host's non-loopback interfaces
	// (suggested for restrictions).
	Subnets []string
}

// Detect looks for apps on their known ports and for the host's subnets.
// It reads /proc/net/tcp{,6} and falls back to dialling loopback.
func Detect(ctx context.Context) Findings {
	var f Findings
	socks, err := listeningSockets()
	for _, kp := range knownPorts {
		if err == nil {
			if l, ok := listenerOn(socks, kp.Port); ok {
				l.App = kp.App
				f.Listeners = append(f.Listeners, l)
			}
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(kp.Port))
		if Reachable(ctx, addr, 300*time.Millisecond) == nil {
			f.Listeners = append(f.Listeners, Listener{App: kp.App, Upstream: addr})
		}
	}
	f.Subnets = localSubnets()
	return f
}

// Listener returns what was found for app, if anything.
func (f Findings) Listener(app string) (Listener, bool) {
	for _, l := range f.Listeners {
		if l.App == app {
			return l, true
		}
	}
	return Listener{}, false
}

// Reachable dials addr (host:port) and reports why it failed, or nil.
func Reachable(ctx context.Context, addr string, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// listenerOn picks the best upstream address for a port in LISTEN state.
func listenerOn(socks []netip.AddrPort, port int) (Listener, bool) {
	var l Listener
	found := false
	for _, s := range socks {
		if int(s.Port()) != port {
			continue
		}
		a := s.Addr().Unmap()
		switch {
		case a.IsUnspecified():
			l.AllInterfaces = true
			l.Upstream = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		case a.IsLoopback():
			if l.Upstream == "" || a.Is4() {
				l.Upstream = net.JoinHostPort(a.String(), strconv.Itoa(port))
			}
		default:
			if l.Upstream == "" {
				l.Upstream = net.JoinHostPort(a.String(), strconv.Itoa(port))
			}
		}
		found = true
	}
	return l, found
}

// listeningSockets reads the TCP sockets in LISTEN state from /proc
// (host.ListeningSockets).
func listeningSockets() ([]netip.AddrPort, error) {
	socks, err := host.ListeningSockets("/proc")
	if err != nil {
		return nil, err
	}
	var out []netip.AddrPort
	for _, s := range socks {
		out = append(out, s.AddrPort())
	}
	return out, nil
}

// localSubnets lists the networks of the up, non-loopback interfaces,
// without link-local ranges.
func localSubnets() []string {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			p, ok := prefixOf(ipn)
			if !ok || p.Addr().IsLinkLocalUnicast() || p.Addr().IsLoopback() {
				continue
			}
			if s := p.Masked().String(); !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ip = ip.Unmap()
	ones, _ := n.Mask.Size()
	p, err := ip.Prefix(ones)
	return p, err == nil
}
