package preflight

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
)

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

// fakeLookup answers from a table; names missing from it do not exist.
func fakeLookup(table map[string][]netip.Addr) func(context.Context, string) ([]netip.Addr, error) {
	return func(ctx context.Context, name string) ([]netip.Addr, error) {
		if a, ok := table[name]; ok {
			return a, nil
		}
		return nil, errors.New("no such name (NXDOMAIN)")
	}
}

func TestCheckDNS(t *testing.T) {
	local := addrs("127.0.0.1", "::1", "192.0.2.2", "fd00::2", "fe80::1")
	table := map[string][]netip.Addr{
		"jatos.example.org": addrs("192.0.2.2", "fd00::2"),
		"lo.example.org":    addrs("127.0.0.1"),
		"nat.example.org":   addrs("203.0.113.9"),
	}
	tests := []struct {
		name    string
		domain  string
		aliases []string
		tls     answers.TLS
		want    []Finding
	}{
		{"this host", "jatos.example.org", nil, answers.TLS{Mode: "self-signed"}, []Finding{{Severity: OK, Msg: "jatos.example.org resolves to 192.0.2.2, fd00::2 (this host)"}}},
		{"loopback only", "lo.example.org", nil, answers.TLS{Mode: "self-signed"}, []Finding{{Severity: Warn,
			Msg: "lo.example.org resolves only to 127.0.0.1: only this machine can reach the site",
			Fix: "fine for a test; for users, create an A (and AAAA) record for lo.example.org pointing at this host (192.0.2.2, fd00::2)"}}},
		{"elsewhere", "nat.example.org", nil, answers.TLS{Mode: "self-signed"}, []Finding{{Severity: Warn,
			Msg: "nat.example.org resolves to 203.0.113.9, not an address of this host (192.0.2.2, fd00::2): fine behind NAT or a load balancer that forwards ports 80 and 443 here; otherwise the record points elsewhere",
			Fix: "if no NAT forwards to this host: create an A (and AAAA) record for nat.example.org pointing at this host (192.0.2.2, fd00::2)"}}},
		{"missing, acme http-01", "new.example.org", nil, answers.TLS{Mode: "acme"}, []Finding{{Severity: Warn,
			Msg: "new.example.org does not resolve here (no such name (NXDOMAIN)): browsers will not find the site, and the CA cannot validate it (http-01)",
			Fix: "create an A (and AAAA) record for new.example.org pointing at this host (192.0.2.2, fd00::2)"}}},
		{"missing, acme dns-01, alias ok", "new.example.org", []string{"jatos.example.org"}, answers.TLS{Mode: "acme", Challenge: "dns-01", DNSProvider: "rfc2136"}, []Finding{
			{Severity: Warn, Msg: "new.example.org does not resolve here (no such name (NXDOMAIN)): browsers will not find the site",
				Fix: "create an A (and AAAA) record for new.example.org pointing at this host (192.0.2.2, fd00::2)"},
			{Severity: OK, Msg: "jatos.example.org resolves to 192.0.2.2, fd00::2 (this host)"}}},
		{"wildcard", "*.example.org", nil, answers.TLS{Mode: "acme", Challenge: "dns-01", DNSProvider: "rfc2136"}, []Finding{{Severity: Skip, Msg: "*.example.org: wildcard name, not looked up"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInput(t, &host.Host{Layout: host.Debian("/"), Installed: []string{"nginx"}}, "nginx", func(a *answers.Answers) {
				a.Domain, a.Aliases, a.TLS = tt.domain, tt.aliases, tt.tls
			})
			in.Lookup, in.LocalAddrs = fakeLookup(table), local
			if got := checkDNS(ctx, in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("findings\n got: %+v\nwant: %+v", got, tt.want)
			}
		})
	}
	t.Run("fake root", func(t *testing.T) {
		in := newInput(t, fakeHost(t, debianNginx), "nginx", nil)
		expect(t, only(t, checkDNS(ctx, in)), Skip, "names not looked up on a fake root", "")
	})
}

func TestLookupHostsFirstNoDNSForReservedNames(t *testing.T) {
	hosts := ParseHosts([]byte("127.0.0.1 localhost\n::1 localhost ip6-localhost\n192.0.2.7 jatos.test Jatos2.TEST # comment\n#10.0.0.1 hidden.test\nbogus line\n"))
	lookup := NewLookup(hosts, time.Second)
	got, err := lookup(ctx, "JATOS2.test.")
	if err != nil || !reflect.DeepEqual(got, addrs("192.0.2.7")) {
		t.Errorf("hosts entry: %v %v", got, err)
	}
	start := time.Now()
	for _, n := range []string{"hidden.test", "x.example", "a.invalid", "printer.local", "example.com", "www.example.org", "box.home.arpa"} {
		if !Reserved(n) {
			t.Errorf("%s: not reserved", n)
		}
		if _, err := lookup(ctx, n); err == nil || err.Error() != "a special-use name, not in /etc/hosts" {
			t.Errorf("%s: err %v", n, err)
		}
	}
	if time.Since(start) > 50*time.Millisecond {
		t.Error("special-use names must not be sent to DNS")
	}
	for _, n := range []string{"jatos.example.net.au", "testing.org", "mytest", "uni-example.org"} {
		if Reserved(n) {
			t.Errorf("%s: reserved", n)
		}
	}
}

func TestCheckUpstream(t *testing.T) {
	lo4, any4, lo6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("::1")
	refused := func(context.Context, string) error { return syscall.ECONNREFUSED }
	var dialed []string
	answers_ := func(ctx context.Context, addr string) error { dialed = append(dialed, addr); return nil }
	java := Listener{Addr: lo4, Port: 9000, Inode: 5, Pid: 4242, Program: "java", Cmdline: "java -jar jatos.jar"}
	tests := []struct {
		name      string
		app       string
		upstream  string
		dial      func(context.Context, string) error
		listeners []Listener
		want      []Finding
	}{
		{"running", "jatos", "127.0.0.1:9000", answers_, []Listener{java}, []Finding{{Severity: OK,
			Msg: "JATOS answers on 127.0.0.1:9000 (java (pid 4242: java -jar jatos.jar))"}}},
		{"stopped", "jatos", "127.0.0.1:9000", refused, nil, []Finding{{Severity: Warn,
			Msg: "nothing answers on 127.0.0.1:9000 yet (connection refused): JATOS is not running, and the proxy will answer 502 Bad Gateway until it is",
			Fix: "start JATOS (listening on 127.0.0.1:9000) before the self-test, or correct upstream in the answers"}}},
		{"only on ::1", "jupyterhub", "127.0.0.1:8000", refused, []Listener{{Addr: lo6, Port: 8000, Pid: 77, Program: "jupyterhub", Cmdline: "jupyterhub"}}, []Finding{{Severity: Warn,
			Msg: "nothing answers on 127.0.0.1:8000, but jupyterhub (pid 77) listens on [::1]:8000",
			Fix: "set upstream: [::1]:8000 — or bind JupyterHub to 127.0.0.1"}}},
		{"on all interfaces", "jatos", "127.0.0.1:9000", answers_, []Listener{{Addr: any4, Port: 9000, Pid: 4242, Program: "java", Cmdline: "java"}}, []Finding{
			{Severity: OK, Msg: "JATOS answers on 127.0.0.1:9000 (java (pid 4242))"},
			{Severity: Warn, Msg: "JATOS listens on all interfaces (0.0.0.0:9000): it can be reached directly on port 9000, without TLS and past the proxy's access rules",
				Fix: "set jatos.http.address = 127.0.0.1 in JATOS's config, or block port 9000 in the firewall"}}},
		{"jupyterhub on all interfaces", "jupyterhub", "localhost:8000", answers_, []Listener{{Addr: netip.MustParseAddr("::"), Port: 8000, Pid: 9, Program: "node", Cmdline: "node"}}, []Finding{
			{Severity: OK, Msg: "JupyterHub answers on 127.0.0.1:8000 (node (pid 9))"},
			{Severity: Warn, Msg: "JupyterHub listens on all interfaces ([::]:8000): it can be reached directly on port 8000, without TLS and past the proxy's access rules",
				Fix: "c.JupyterHub.bind_url = 'http://127.0.0.1:8000' in jupyterhub_config.py, or block port 8000 in the firewall"}}},
		{"local address", "generic", "192.0.2.2:3000", answers_, nil, []Finding{{Severity: OK, Msg: "generic app answers on 192.0.2.2:3000"}}},
		{"other host", "generic", "10.1.2.3:3000", answers_, nil, []Finding{{Severity: Skip,
			Msg: "upstream 10.1.2.3:3000 is on another host: rpwizard does not contact other hosts during preflight"}}},
		{"name of this host", "generic", "app.example.org:3000", answers_, nil, []Finding{{Severity: OK, Msg: "generic app answers on 192.0.2.2:3000"}}},
		{"unknown name", "generic", "gone.example.org:3000", answers_, nil, []Finding{{Severity: Block,
			Msg: "the upstream host gone.example.org does not resolve here: the proxy could not reach generic app",
			Fix: "set upstream to the app's address, e.g. 127.0.0.1:3000, or add the name to DNS or /etc/hosts"}}},
		{"name of this host, port 443", "generic", "app.example.org:443", answers_, nil, []Finding{{Severity: Block,
			Msg: "upstream app.example.org:443 is this proxy itself (192.0.2.2 is an address of this host, where the proxy listens on port 443): every request would loop",
			Fix: "set upstream to the host:port where the app listens, e.g. 127.0.0.1:8080"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dialed = nil
			in := newInput(t, &host.Host{Layout: host.Debian("/"), Installed: []string{"nginx"}}, "nginx", func(a *answers.Answers) {
				a.App, a.Upstream = tt.app, tt.upstream
				if tt.app == "cryosparc" {
					a.Restrict.SiteNetworks = []string{"10.0.0.0/8"}
				}
			})
			in.Live, in.Dial, in.Listeners = true, tt.dial, tt.listeners
			in.LocalAddrs = addrs("127.0.0.1", "192.0.2.2")
			in.Lookup = fakeLookup(map[string][]netip.Addr{"app.example.org": addrs("192.0.2.2")})
			if got := checkUpstream(ctx, in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("findings\n got: %+v\nwant: %+v", got, tt.want)
			}
			for _, d := range dialed {
				if !strings.HasPrefix(d, "127.") && d != "192.0.2.2:3000" {
					t.Errorf("dialed %s: only local addresses may be contacted", d)
				}
			}
		})
	}
	t.Run("fake root", func(t *testing.T) {
		in := newInput(t, fakeHost(t, debianNginx), "nginx", nil)
		expect(t, only(t, checkUpstream(ctx, in)), Skip, "upstream 127.0.0.1:9000 not tried on a fake root", "")
	})
}

func TestDialLoopback(t *testing.T) {
	dial := NewDial(200 * time.Millisecond)
	if err := dial(ctx, "127.0.0.1:1"); err == nil || dialReason(err) != "connection refused" {
		t.Errorf("closed port: %v (%s)", err, dialReason(err))
	}
}
