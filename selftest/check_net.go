package selftest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// checkDNS resolves every name and compares the answers with this host's
// interface addresses (no outside calls). A name that does not point here is
// a warning: the server may sit behind NAT. It also picks the address every
// later connection goes to.
func (r *runner) checkDNS(ctx context.Context) Check {
	local := localAddrs()
	var lines, causes []string
	warn := false
	var firstLocal, firstAny string
	for _, name := range r.names {
		addrs, err := r.t.Resolver.LookupIPAddr(ctx, name)
		if err != nil || len(addrs) == 0 {
			warn = true
			lines = append(lines, name+" does not resolve")
			causes = append(causes, fmt.Sprintf("%s has no DNS record visible from this machine.", name))
			continue
		}
		var mine, other []string
		for _, a := range addrs {
			ip := a.IP.String()
			if local[ip] {
				mine = append(mine, ip)
				if firstLocal == "" {
					firstLocal = ip
				}
			} else {
				other = append(other, ip)
			}
			if firstAny == "" {
				firstAny = ip
			}
		}
		switch {
		case len(other) == 0:
			lines = append(lines, name+" -> "+strings.Join(mine, ", "))
		default:
			warn = true
			lines = append(lines, name+" -> "+strings.Join(append(mine, other...), ", ")+
				" (not this host: "+strings.Join(other, ", ")+")")
			causes = append(causes, fmt.Sprintf("%s points to %s, which is not an address of this machine "+
				"(fine if it sits behind NAT or a load balancer that forwards to it).", name, strings.Join(other, ", ")))
		}
	}

	switch {
	case r.t.Connect != "":
		r.dialIP, r.dialWhy = r.t.Connect, "as asked"
	case firstLocal != "":
		r.dialIP, r.dialWhy = firstLocal, "resolved, on this host"
	case firstAny != "":
		r.dialIP, r.dialWhy = firstAny, "resolved"
	default:
		r.dialIP, r.dialWhy = "127.0.0.1", "name does not resolve, trying loopback"
	}
	r.probeIP = r.dialIP
	detail := strings.Join(lines, "; ") + "; connecting to " + r.dialIP + " (" + r.dialWhy + ")"
	if !warn {
		return Check{Status: Pass, Detail: detail}
	}
	return Check{
		Status: Warn,
		Detail: detail,
		Cause:  strings.Join(causes, " "),
		Fix: "Create or correct the DNS A/AAAA records so that every name points to this " +
			"server's public address; browsers and Let's Encrypt use them.",
	}
}

// localAddrs is the set of this host's interface addresses.
func localAddrs() map[string]bool {
	out := map[string]bool{}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return out
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			out[n.IP.String()] = true
		}
	}
	return out
}

// dialTCP opens and closes one TCP connection.
func dialTCP(ctx context.Context, ip string, port int) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	return c.Close()
}

// checkTCPHTTP checks that the HTTP port accepts connections. A closed
// port 80 is its own diagnosis: no redirect for people typing the bare name,
// and no Let's Encrypt HTTP-01 renewals.
func (r *runner) checkTCPHTTP(ctx context.Context) Check {
	c, ok := r.checkTCP(ctx, r.t.HTTPPort, false)
	r.httpOpen = ok
	return c
}

// checkTCPHTTPS checks that the HTTPS port accepts connections, and finds
// the loopback address used for the loopback-only probe location.
func (r *runner) checkTCPHTTPS(ctx context.Context) Check {
	c, ok := r.checkTCP(ctx, r.t.HTTPSPort, true)
	r.httpsOpen = ok
	r.probeIP = r.dialIP
	if ok && !isLoopback(r.dialIP) {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		if dialTCP(dctx, "127.0.0.1", r.t.HTTPSPort) == nil {
			r.probeIP = "127.0.0.1"
		}
		cancel()
	}
	return c
}

func (r *runner) checkTCP(ctx context.Context, port int, tls bool) (Check, bool) {
	addr := net.JoinHostPort(r.dialIP, strconv.Itoa(port))
	err := dialTCP(ctx, r.dialIP, port)
	if err == nil {
		return Check{Status: Pass, Detail: addr + " accepts connections"}, true
	}
	if !isLoopback(r.dialIP) {
		lctx, cancel := context.WithTimeout(ctx, time.Second)
		lerr := dialTCP(lctx, "127.0.0.1", port)
		cancel()
		if lerr == nil {
			if tls {
				r.dialIP = "127.0.0.1"
			}
			return Check{
				Status: Warn,
				Detail: fmt.Sprintf("%s: %v; 127.0.0.1:%d is open", addr, err, port),
				Cause: fmt.Sprintf("The proxy listens on this machine, but %s cannot be reached from "+
					"here: a firewall, a listen directive bound to another address, or a NAT router "+
					"that does not loop back.", r.dialIP),
				Fix: fmt.Sprintf("Open port %d in the firewall (e.g. ufw allow %d/tcp) and check from "+
					"outside with curl -v http://%s:%d/.", port, port, r.t.Domain, port),
			}, true
		}
	}
	role := "HTTP"
	listen := fmt.Sprintf("listen %d;", port)
	vhost := fmt.Sprintf("Listen %d and a <VirtualHost *:%d>", port, port)
	why := "nobody gets redirected from http:// to https://, and Let's Encrypt cannot renew the certificate over HTTP."
	if tls {
		role = "HTTPS"
		listen = fmt.Sprintf("listen %d ssl;", port)
		vhost = fmt.Sprintf("Listen %d and a <VirtualHost *:%d> with SSLEngine on", port, port)
		why = "the site is unreachable over HTTPS."
	}
	var cause string
	switch classifyNetErr(err) {
	case netErrRefused:
		cause = fmt.Sprintf("Port %d (%s) is closed: nothing accepts connections on %s, so %s",
			port, role, addr, why)
	case netErrTimeout:
		cause = fmt.Sprintf("Port %d (%s) does not answer: a firewall drops the connection, so %s",
			port, role, why)
	default:
		cause = fmt.Sprintf("Port %d (%s) cannot be reached (%v), so %s", port, role, err, why)
	}
	return Check{
		Status: Fail,
		Detail: fmt.Sprintf("%s: %v", addr, err),
		Cause:  cause,
		Fix: r.fix("Make sure nginx runs and its config has "+listen+" (sudo ss -ltnp | grep nginx), "+
			fmt.Sprintf("then allow port %d in the firewall.", port),
			"Make sure Apache runs and has "+vhost+
				fmt.Sprintf(" (sudo ss -ltnp), then allow port %d in the firewall.", port)),
	}, false
}
