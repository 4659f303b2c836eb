package preflight

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
)

func TestUFWAllows(t *testing.T) {
	tuples := []string{
		"allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in",
		"deny tcp 8443 0.0.0.0/0 any 0.0.0.0/0 in",
		"allow tcp 443 0.0.0.0/0 any 10.0.0.0/8 in",
		"allow any 80,8000:8100 0.0.0.0/0 any 0.0.0.0/0 Nginx%20HTTP - in",
		"allow tcp 443 0.0.0.0/0 any 0.0.0.0/0 out",
		"limit tcp 9000 0.0.0.0/0 any 0.0.0.0/0 in_eth0",
	}
	tests := []struct {
		port   int
		policy string
		want   bool
	}{
		{80, "DROP", true}, {8050, "DROP", true}, {443, "DROP", false}, {443, "ACCEPT", true},
		{8443, "ACCEPT", false}, {9000, "DROP", true}, {22, "REJECT", true}, {3000, "REJECT", false},
	}
	for _, tt := range tests {
		if got := UFWAllows(tuples, tt.policy, tt.port); got != tt.want {
			t.Errorf("port %d policy %s: %v, want %v", tt.port, tt.policy, got, tt.want)
		}
	}
}

func TestDetectFirewall(t *testing.T) {
	ufwFiles := map[string]string{
		"etc/ufw/ufw.conf":    "# comment\nENABLED=yes\nLOGLEVEL=low\n",
		"etc/default/ufw":     "IPV6=yes\nDEFAULT_INPUT_POLICY=\"DROP\"\n",
		"etc/ufw/user.rules":  "*filter\n### RULES ###\n\n### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n-A ufw-user-input -p tcp --dport 22 -j ACCEPT\n\n### tuple ### allow tcp 443 0.0.0.0/0 any 0.0.0.0/0 in\n",
		"etc/ufw/user6.rules": "",
	}
	zone := `<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>Public</short>
  <service name="ssh"/>
  <service name="dhcpv6-client"/>
  <service name="cockpit"/>
  %s
</zone>`
	tests := []struct {
		name    string
		files   map[string]string
		running bool
		want    Firewall
	}{
		{"none", map[string]string{"etc/ufw/ufw.conf": "ENABLED=no\n"}, false, Firewall{}},
		{"ufw allows 443 only", ufwFiles, false, Firewall{Tool: "ufw", Where: "default incoming policy drop", Blocked: []int{80}, Fix: "ufw allow 80/tcp"}},
		{"ufw accept policy", with(ufwFiles, map[string]string{"etc/default/ufw": "DEFAULT_INPUT_POLICY=\"ACCEPT\"\n"}), false,
			Firewall{Tool: "ufw", Where: "default incoming policy accept"}},
		{"firewalld installed, not running", map[string]string{"usr/lib/firewalld/zones/public.xml": fmt.Sprintf(zone, "")}, false, Firewall{}},
		{"firewalld stock public zone", map[string]string{"usr/lib/firewalld/zones/public.xml": fmt.Sprintf(zone, "")}, true,
			Firewall{Tool: "firewalld", Where: "zone public", Blocked: []int{80, 443},
				Fix: "firewall-cmd --permanent --zone=public --add-service=http --add-service=https && firewall-cmd --reload"}},
		{"firewalld http service and a port range", map[string]string{
			"etc/firewalld/firewalld.conf":        "DefaultZone=work\n",
			"etc/firewalld/zones/work.xml":        fmt.Sprintf(zone, `<service name="http"/><port protocol="tcp" port="440-450"/>`),
			"usr/lib/firewalld/services/http.xml": `<service><port protocol="tcp" port="80"/></service>`,
		}, true, Firewall{Tool: "firewalld", Where: "zone work"}},
		{"firewalld trusted zone", map[string]string{"etc/firewalld/firewalld.conf": "DefaultZone=trusted\n",
			"usr/lib/firewalld/zones/trusted.xml": `<zone target="ACCEPT"><short>Trusted</short></zone>`}, true, Firewall{Tool: "firewalld", Where: "zone trusted"}},
		{"firewalld zone unreadable", map[string]string{"etc/firewalld/firewalld.conf": "DefaultZone=gone\n"}, true,
			Firewall{Tool: "firewalld", Where: "zone gone", Unknown: "cannot read zone gone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tt.files)
			got := DetectFirewall(ctx, root, nil, func(name string) bool { return tt.running && name == "firewalld" })
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("firewall\n got: %+v\nwant: %+v", got, tt.want)
			}
		})
	}
}

func TestNftFirewall(t *testing.T) {
	head := `{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "filter", "handle": 1}},`
	chain := func(policy string) string {
		return `{"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "` + policy + `"}},`
	}
	const (
		established = `{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 4, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}},`
		loopback    = `{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 5, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iif"}}, "right": "lo"}}, {"accept": null}]}},`
		ssh         = `{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}},`
		web         = `{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 7, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [80, 443]}}}, {"accept": null}]}},`
		https       = `{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 8, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"range": [440, 450]}}}, {"accept": null}]}},`
		fromLAN     = `{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 9, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 80}}, {"accept": null}]}},`
		jump        = `{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 10, "expr": [{"jump": {"target": "web"}}]}},`
		webChain    = `{"chain": {"family": "inet", "table": "filter", "name": "web", "handle": 2}},` +
			`{"rule": {"family": "inet", "table": "filter", "chain": "web", "handle": 11, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "th", "field": "dport"}}, "right": 80}}, {"accept": null}]}},`
		dropWeb = `{"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 12, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 443}}, {"drop": null}]}},`
		tail    = `{"table": {"family": "ip", "name": "nat", "handle": 2}}]}`
	)
	fixBoth := "nft insert rule inet filter input tcp dport { 80, 443 } accept (and add it to /etc/nftables.conf to keep it)"
	tests := []struct {
		name string
		json string
		want Firewall
	}{
		{"no input chain", `{"nftables": [{"metainfo": {}}]}`, Firewall{}},
		{"policy accept", head + chain("accept") + ssh + tail, Firewall{Tool: "nftables", Where: "chain inet filter input"}},
		{"policy drop, ssh only", head + chain("drop") + established + loopback + ssh + tail,
			Firewall{Tool: "nftables", Where: "chain inet filter input", Blocked: []int{80, 443}, Fix: fixBoth}},
		{"policy drop, web set", head + chain("drop") + established + ssh + web + tail, Firewall{Tool: "nftables", Where: "chain inet filter input"}},
		{"range and jump", head + chain("drop") + https + jump + webChain + tail, Firewall{Tool: "nftables", Where: "chain inet filter input"}},
		{"80 from the LAN only", head + chain("drop") + fromLAN + https + tail, Firewall{Tool: "nftables", Where: "chain inet filter input", Blocked: []int{80},
			Fix: "nft insert rule inet filter input tcp dport { 80 } accept (and add it to /etc/nftables.conf to keep it)"}},
		{"explicit drop", head + chain("accept") + dropWeb + tail, Firewall{Tool: "nftables", Where: "chain inet filter input", Blocked: []int{443},
			Fix: "nft insert rule inet filter input tcp dport { 443 } accept (and add it to /etc/nftables.conf to keep it)"}},
		{"garbage", "{", Firewall{Tool: "nftables", Unknown: "cannot parse the ruleset: unexpected end of JSON input"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NftFirewall([]byte(tt.json)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("firewall\n got: %+v\nwant: %+v", got, tt.want)
			}
		})
	}
}

func TestCheckFirewall(t *testing.T) {
	tests := []struct {
		name     string
		fw       Firewall
		tls      answers.TLS
		sev      Severity
		msg, fix string
	}{
		{"none", Firewall{}, answers.TLS{Mode: "self-signed"}, OK, "no active firewall found (ufw, firewalld, nftables)", ""},
		{"open", Firewall{Tool: "ufw", Where: "default incoming policy drop"}, answers.TLS{Mode: "self-signed"}, OK, "ufw (default incoming policy drop) allows ports 80 and 443", ""},
		{"unknown", Firewall{Tool: "nftables", Unknown: "cannot read the ruleset: permission denied"}, answers.TLS{Mode: "self-signed"}, Skip,
			"nftables is active, but cannot read the ruleset: permission denied", "make sure ports 80 and 443 (tcp) are open to your users"},
		{"ufw blocks 80, acme", Firewall{Tool: "ufw", Where: "default incoming policy drop", Blocked: []int{80}, Fix: "ufw allow 80/tcp"}, answers.TLS{Mode: "acme"}, Warn,
			"ufw (default incoming policy drop) does not allow incoming port 80 (tcp): browsers cannot reach the site, and the CA cannot validate it (http-01)", "ufw allow 80/tcp"},
		{"firewalld blocks both", Firewall{Tool: "firewalld", Where: "zone public", Blocked: []int{80, 443},
			Fix: "firewall-cmd --permanent --zone=public --add-service=http --add-service=https && firewall-cmd --reload"}, answers.TLS{Mode: "self-signed"}, Warn,
			"firewalld (zone public) does not allow incoming ports 80 and 443 (tcp): browsers cannot reach the site",
			"firewall-cmd --permanent --zone=public --add-service=http --add-service=https && firewall-cmd --reload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInput(t, &host.Host{Layout: host.Debian("/"), Installed: []string{"nginx"}}, "nginx", func(a *answers.Answers) { a.TLS = tt.tls })
			in.Firewall = tt.fw
			expect(t, only(t, checkFirewall(ctx, in)), tt.sev, tt.msg, tt.fix)
		})
	}
}
