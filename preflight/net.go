package preflight

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// reservedSuffixes are special-use names (RFC 2606, 6761, 6762, 8375)
// that rpwizard looks up in /etc/hosts only: no DNS query leaves the host
// for them.
var reservedSuffixes = []string{"test", "example", "invalid", "localhost", "local", "home.arpa", "internal",
	"example.com", "example.net", "example.org"}

// Reserved reports whether name is a special-use name.
func Reserved(name string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	for _, s := range reservedSuffixes {
		if name == s || strings.HasSuffix(name, "."+s) {
			return true
		}
	}
	return false
}

// HostsFile maps names to addresses as /etc/hosts does.
type HostsFile map[string][]netip.Addr

// ParseHosts parses an /etc/hosts file.
func ParseHosts(data []byte) HostsFile {
	h := HostsFile{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ip, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		for _, n := range f[1:] {
			n = strings.ToLower(n)
			h[n] = append(h[n], ip.Unmap())
		}
	}
	return h
}

// NewLookup resolves like nsswitch's "files dns": the hosts file first;
// then the system resolver, except for special-use names, which are never
// sent to a DNS server. Each query is bounded by timeout.
func NewLookup(hosts HostsFile, timeout time.Duration) func(ctx context.Context, name string) ([]netip.Addr, error) {
	return func(ctx context.Context, name string) ([]netip.Addr, error) {
		name = strings.ToLower(strings.TrimSuffix(name, "."))
		if addrs := hosts[name]; len(addrs) > 0 {
			return addrs, nil
		}
		if Reserved(name) {
			return nil, errors.New("a special-use name, not in /etc/hosts")
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", name)
		if err != nil {
			var de *net.DNSError
			if errors.As(err, &de) && de.IsNotFound {
				return nil, errors.New("no such name (NXDOMAIN)")
			}
			if errors.As(err, &de) && de.IsTimeout {
				return nil, fmt.Errorf("no answer within %s", timeout)
			}
			return nil, err
		}
		for i := range ips {
			ips[i] = ips[i].Unmap()
		}
		return ips, nil
	}
}

// LocalAddrs lists the addresses of this host's interfaces.
func LocalAddrs() []netip.Addr {
	var out []netip.Addr
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out
}

// isLocal reports whether ip is loopback or an address of this host.
func isLocal(ip netip.Addr, local []netip.Addr) bool {
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	for _, l := range local {
		if l == ip {
			return true
		}
	}
	return false
}

// publicAddrs lists the local addresses worth naming in a DNS record.
func publicAddrs(local []netip.Addr) []string {
	var out []string
	for _, a := range local {
		if !a.IsLoopback() && !a.IsLinkLocalUnicast() && !a.IsUnspecified() {
			out = append(out, a.String())
		}
	}
	return out
}

func addrStrings(addrs []netip.Addr) []string {
	var out []string
	for _, a := range addrs {
		out = append(out, a.String())
	}
	return out
}

func checkDNS(ctx context.Context, in *Input) []Finding {
	if in.Lookup == nil {
		return one(Skip, "names not looked up on a fake root", "")
	}
	a := in.Answers
	acme := a.TLS.Mode == "acme" && a.TLS.Challenge != "dns-01"
	here := strings.Join(publicAddrs(in.LocalAddrs), ", ")
	recordFix := func(n string) string {
		if here == "" {
			return "create an A (and AAAA) record for " + n + " pointing at this host"
		}
		return "create an A (and AAAA) record for " + n + " pointing at this host (" + here + ")"
	}
	var out []Finding
	for _, n := range a.Names() {
		if strings.HasPrefix(n, "*.") {
			out = append(out, Finding{Severity: Skip, Msg: n + ": wildcard name, not looked up"})
			continue
		}
		addrs, err := in.Lookup(ctx, n)
		if err != nil || len(addrs) == 0 {
			msg := n + " does not resolve here"
			if err != nil {
				msg += " (" + err.Error() + ")"
			}
			msg += ": browsers will not find the site"
			if acme {
				msg += ", and the CA cannot validate it (" + a.TLS.Challenge + ")"
			}
			out = append(out, Finding{Severity: Warn, Msg: msg, Fix: recordFix(n)})
			continue
		}
		var foreign []string
		loopback := true
		for _, ip := range addrs {
			if !ip.IsLoopback() {
				loopback = false
			}
			if !isLocal(ip, in.LocalAddrs) {
				foreign = append(foreign, ip.String())
			}
		}
		list := strings.Join(addrStrings(addrs), ", ")
		switch {
		case loopback:
			out = append(out, Finding{Severity: Warn, Msg: n + " resolves only to " + list + ": only this machine can reach the site",
				Fix: "fine for a test; for users, " + recordFix(n)})
		case len(foreign) > 0:
			msg := fmt.Sprintf("%s resolves to %s, not an address of this host", n, strings.Join(foreign, ", "))
			if here != "" {
				msg += " (" + here + ")"
			}
			out = append(out, Finding{Severity: Warn, Msg: msg + ": fine behind NAT or a load balancer that forwards ports 80 and 443 here; otherwise the record points elsewhere",
				Fix: "if no NAT forwards to this host: " + recordFix(n)})
		default:
			out = append(out, Finding{Severity: OK, Msg: n + " resolves to " + list + " (this host)"})
		}
	}
	return out
}

// bindHints say how each app is bound to loopback.
var bindHints = map[string]string{
	"jatos":      "set jatos.http.address = 127.0.0.1 in JATOS's config",
	"jupyterhub": "c.JupyterHub.bind_url = 'http://127.0.0.1:PORT' in jupyterhub_config.py",
	"cryosparc":  "keep CryoSPARC's base ports bound to loopback or firewalled",
}

func checkUpstream(ctx context.Context, in *Input) []Finding {
	a := in.Answers
	title := a.Profile().Title
	hostPart, portStr, err := net.SplitHostPort(a.Upstream)
	if err != nil {
		return one(Block, fmt.Sprintf("upstream %q is not host:port", a.Upstream), "upstream: 127.0.0.1:PORT")
	}
	port, _ := strconv.Atoi(portStr)
	ip, err := netip.ParseAddr(hostPart)
	if err != nil {
		if in.Lookup == nil {
			return one(Skip, "upstream "+a.Upstream+" not looked up on a fake root", "")
		}
		addrs, lerr := in.Lookup(ctx, hostPart)
		if lerr != nil || len(addrs) == 0 {
			// nginx refuses a config whose upstream does not resolve;
			// Apache would answer 502 for ever. Refused before writing.
			return one(Block, fmt.Sprintf("the upstream host %s does not resolve here: the proxy could not reach %s", hostPart, title),
				"set upstream to the app's address, e.g. 127.0.0.1:"+portStr+", or add the name to DNS or /etc/hosts")
		}
		for _, a := range addrs {
			if (port == 80 || port == 443) && isLocal(a.Unmap(), in.LocalAddrs) {
				return one(Block, fmt.Sprintf("upstream %s is this proxy itself (%s is an address of this host, where the proxy listens on port %d): every request would loop", in.Answers.Upstream, a.Unmap(), port),
					"set upstream to the host:port where the app listens, e.g. 127.0.0.1:8080")
			}
		}
		ip = addrs[0]
	}
	ip = ip.Unmap()
	if !isLocal(ip, in.LocalAddrs) {
		return one(Skip, fmt.Sprintf("upstream %s is on another host: rpwizard does not contact other hosts during preflight", a.Upstream), "")
	}
	if in.Dial == nil {
		return one(Skip, "upstream "+a.Upstream+" not tried on a fake root", "")
	}
	target := netip.AddrPortFrom(ip, uint16(port)).String()
	var out []Finding
	if derr := in.Dial(ctx, target); derr != nil {
		// Something on the other loopback family? (localhost → ::1 trap)
		for _, l := range in.Listeners {
			if l.Port == port && l.Addr.IsLoopback() && l.Addr.Is4() != ip.Is4() {
				return one(Warn, fmt.Sprintf("nothing answers on %s, but %s listens on %s", target, l.Who(), l.AddrPort()),
					fmt.Sprintf("set upstream: %s — or bind %s to %s", l.AddrPort(), title, ip))
			}
		}
		return one(Warn, fmt.Sprintf("nothing answers on %s yet (%s): %s is not running, and the proxy will answer 502 Bad Gateway until it is", target, dialReason(derr), title),
			fmt.Sprintf("start %s (listening on %s) before the self-test, or correct upstream in the answers", title, target))
	}
	who := ""
	var exposed *Listener
	for i, l := range in.Listeners {
		if l.Port != port {
			continue
		}
		if l.Addr == ip || l.Addr.IsUnspecified() {
			if who == "" && l.Pid != 0 {
				who = " (" + l.Who() + ")"
			}
			if l.Addr.IsUnspecified() && ip.IsLoopback() {
				exposed = &in.Listeners[i]
			}
		}
	}
	out = append(out, Finding{Severity: OK, Msg: fmt.Sprintf("%s answers on %s%s", title, target, who)})
	if exposed != nil {
		hint := bindHints[a.App]
		if hint == "" {
			hint = "bind the app to 127.0.0.1"
		}
		hint = strings.ReplaceAll(hint, "PORT", portStr)
		out = append(out, Finding{Severity: Warn,
			Msg: fmt.Sprintf("%s listens on all interfaces (%s): it can be reached directly on port %d, without TLS and past the proxy's access rules", title, exposed.AddrPort(), port),
			Fix: hint + ", or block port " + portStr + " in the firewall"})
	}
	return out
}

func dialReason(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer in time"
	case strings.Contains(err.Error(), "refused"):
		return "connection refused"
	}
	return err.Error()
}

// NewDial connects to a TCP address with a short timeout and hangs up.
func NewDial(timeout time.Duration) func(ctx context.Context, addr string) error {
	return func(ctx context.Context, addr string) error {
		d := net.Dialer{Timeout: timeout}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// readHosts reads root/etc/hosts (empty when missing).
func readHosts(path string) HostsFile {
	data, err := os.ReadFile(path)
	if err != nil {
		return HostsFile{}
	}
	return ParseHosts(data)
}
