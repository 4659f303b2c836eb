package preflight

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rpwizard/rpwizard/host"
)

// webPorts are the ports the site needs open.
var webPorts = []int{80, 443}

// Firewall is the active firewall and what it does to ports 80 and 443.
type Firewall struct {
	Tool    string // "ufw", "firewalld", "nftables"; "" when none is active
	Where   string // zone or chain, for messages
	Blocked []int  // of 80 and 443
	// Unknown says why the rules could not be read ("" if they were).
	Unknown string
	// Fix is the command that opens the blocked ports.
	Fix string
}

// DetectFirewall finds the active firewall under root: ufw (its files),
// firewalld (running, and its permanent zone), else the nftables ruleset
// (through run; nil skips it). running reports whether a program runs.
func DetectFirewall(ctx context.Context, root string, run host.Runner, running func(string) bool) Firewall {
	if fw, ok := detectUFW(root); ok {
		return fw
	}
	if running != nil && running("firewalld") {
		return detectFirewalld(root)
	}
	if run != nil {
		if _, err := os.Stat(filepath.Join(root, "usr/sbin/nft")); err == nil {
			out, err := run(ctx, "nft", "-j", "list", "ruleset")
			if err != nil {
				return Firewall{Tool: "nftables", Unknown: "cannot read the ruleset: " + firstLine(err.Error())}
			}
			return NftFirewall(out)
		}
	}
	return Firewall{}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// keyValues reads a shell-style KEY=value file.
func keyValues(path string) map[string]string {
	out := map[string]string{}
	data, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok && !strings.HasPrefix(k, "#") {
			out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return out
}

// detectUFW reads ufw's files: enabled in ufw.conf, the default input
// policy and the rule tuples of user.rules / user6.rules.
func detectUFW(root string) (Firewall, bool) {
	if !strings.EqualFold(keyValues(filepath.Join(root, "etc/ufw/ufw.conf"))["ENABLED"], "yes") {
		return Firewall{}, false
	}
	policy := strings.ToUpper(keyValues(filepath.Join(root, "etc/default/ufw"))["DEFAULT_INPUT_POLICY"])
	var tuples []string
	for _, f := range []string{"etc/ufw/user.rules", "lib/ufw/user.rules"} {
		if data, err := os.ReadFile(filepath.Join(root, f)); err == nil {
			tuples = append(tuples, ufwTuples(data)...)
			break
		}
	}
	fw := Firewall{Tool: "ufw", Where: "default incoming policy " + strings.ToLower(policy)}
	for _, p := range webPorts {
		if !UFWAllows(tuples, policy, p) {
			fw.Blocked = append(fw.Blocked, p)
		}
	}
	var cmds []string
	for _, p := range fw.Blocked {
		cmds = append(cmds, fmt.Sprintf("ufw allow %d/tcp", p))
	}
	fw.Fix = strings.Join(cmds, " && ")
	return fw, true
}

func ufwTuples(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if t, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "### tuple ###"); ok {
			out = append(out, strings.TrimSpace(t))
		}
	}
	return out
}

// UFWAllows decides whether incoming TCP to port passes ufw: the first
// rule tuple that matches it ("allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in",
// "allow any 80,443 … Nginx%20Full - in", "deny tcp 8000:8100 …"),
// else the default policy.
func UFWAllows(tuples []string, policy string, port int) bool {
	for _, t := range tuples {
		f := strings.Fields(t)
		if len(f) < 7 || !strings.HasPrefix(f[len(f)-1], "in") {
			continue
		}
		action, proto, dport, src := f[0], f[1], f[2], f[5]
		if proto != "tcp" && proto != "any" {
			continue
		}
		if src != "0.0.0.0/0" && src != "::/0" && src != "any" {
			continue // only from some sources: not open to everyone
		}
		if !portListHas(dport, port) {
			continue
		}
		return strings.HasPrefix(action, "allow") || strings.HasPrefix(action, "limit")
	}
	return policy == "ACCEPT"
}

// portListHas matches "any", "80", "80,443", "8000:8100" (ufw) or
// "8000-8100" (firewalld).
func portListHas(list string, port int) bool {
	if list == "any" {
		return true
	}
	for _, p := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(p, ":")
		if !isRange {
			lo, hi, isRange = strings.Cut(p, "-")
		}
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
				continue
			}
		}
		if port >= a && port <= b {
			return true
		}
	}
	return false
}

type fwdZone struct {
	Target   string `xml:"target,attr"`
	Services []struct {
		Name string `xml:"name,attr"`
	} `xml:"service"`
	Ports []fwdPort `xml:"port"`
}

type fwdPort struct {
	Protocol string `xml:"protocol,attr"`
	Port     string `xml:"port,attr"`
}

// firewalldServicePorts are the ports of firewalld's stock services, used
// when the service file cannot be read.
var firewalldServicePorts = map[string][]fwdPort{
	"http":  {{"tcp", "80"}},
	"https": {{"tcp", "443"}},
}

// readXML reads the first of root/etc/firewalld/X and root/usr/lib/firewalld/X.
func readXML(root, rel string, v any) bool {
	for _, dir := range []string{"etc/firewalld", "usr/lib/firewalld"} {
		data, err := os.ReadFile(filepath.Join(root, dir, rel))
		if err == nil && xml.Unmarshal(data, v) == nil {
			return true
		}
	}
	return false
}

// detectFirewalld reads firewalld's permanent configuration of its default
// zone.
func detectFirewalld(root string) Firewall {
	zone := keyValues(filepath.Join(root, "etc/firewalld/firewalld.conf"))["DefaultZone"]
	if zone == "" {
		zone = "public"
	}
	fw := Firewall{Tool: "firewalld", Where: "zone " + zone}
	var z fwdZone
	if !readXML(root, "zones/"+zone+".xml", &z) {
		fw.Unknown = "cannot read zone " + zone
		return fw
	}
	open := map[int]bool{}
	if z.Target == "ACCEPT" {
		open[80], open[443] = true, true
	}
	ports := z.Ports
	for _, s := range z.Services {
		var svc fwdZone
		if readXML(root, "services/"+s.Name+".xml", &svc) {
			ports = append(ports, svc.Ports...)
		} else {
			ports = append(ports, firewalldServicePorts[s.Name]...)
		}
	}
	for _, p := range ports {
		for _, w := range webPorts {
			if p.Protocol == "tcp" && portListHas(p.Port, w) {
				open[w] = true
			}
		}
	}
	var add []string
	for _, w := range webPorts {
		if !open[w] {
			fw.Blocked = append(fw.Blocked, w)
			add = append(add, "--add-service="+map[int]string{80: "http", 443: "https"}[w])
		}
	}
	if len(add) > 0 {
		fw.Fix = fmt.Sprintf("firewall-cmd --permanent --zone=%s %s && firewall-cmd --reload", zone, strings.Join(add, " "))
	}
	return fw
}

// nftables JSON (`nft -j list ruleset`), the parts rpwizard reads.
type nftItem struct {
	Chain *nftChain `json:"chain"`
	Rule  *nftRule  `json:"rule"`
}

type nftChain struct {
	Family, Table, Name, Hook, Policy string
}

type nftRule struct {
	Family, Table, Chain string
	Expr                 []map[string]json.RawMessage
}

// NftFirewall decides from `nft -j list ruleset` whether a new incoming
// TCP connection to 80 and 443 from anywhere passes every input hook.
// Rules are followed in order; matches rpwizard cannot judge (source
// addresses, interfaces, marks) make a rule not count.
func NftFirewall(data []byte) Firewall {
	var doc struct {
		Nftables []nftItem `json:"nftables"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return Firewall{Tool: "nftables", Unknown: "cannot parse the ruleset: " + err.Error()}
	}
	chains := map[string]*nftChain{}
	rules := map[string][]nftRule{}
	var inputs []*nftChain
	key := func(f, t, c string) string { return f + " " + t + " " + c }
	for _, it := range doc.Nftables {
		switch {
		case it.Chain != nil:
			chains[key(it.Chain.Family, it.Chain.Table, it.Chain.Name)] = it.Chain
			if it.Chain.Hook == "input" && (it.Chain.Family == "inet" || it.Chain.Family == "ip" || it.Chain.Family == "ip6") {
				inputs = append(inputs, it.Chain)
			}
		case it.Rule != nil:
			k := key(it.Rule.Family, it.Rule.Table, it.Rule.Chain)
			rules[k] = append(rules[k], *it.Rule)
		}
	}
	if len(inputs) == 0 {
		return Firewall{}
	}
	fw := Firewall{Tool: "nftables"}
	blockedBy := ""
	for _, w := range webPorts {
		for _, c := range inputs {
			v := nftEval(rules, chains, key, c.Family, c.Table, c.Name, w, 0)
			if v == "" {
				v = c.Policy
			}
			if v == "drop" || v == "reject" {
				fw.Blocked = append(fw.Blocked, w)
				if blockedBy == "" {
					blockedBy = c.Family + " " + c.Table + " " + c.Name
				}
				break
			}
		}
	}
	fw.Where = "chain " + blockedBy
	if blockedBy == "" && len(inputs) > 0 {
		fw.Where = "chain " + inputs[0].Family + " " + inputs[0].Table + " " + inputs[0].Name
	}
	if len(fw.Blocked) > 0 {
		var ps []string
		for _, p := range fw.Blocked {
			ps = append(ps, strconv.Itoa(p))
		}
		fw.Fix = fmt.Sprintf("nft insert rule %s tcp dport { %s } accept (and add it to /etc/nftables.conf to keep it)", blockedBy, strings.Join(ps, ", "))
	}
	return fw
}

// nftEval returns the verdict ("accept", "drop", "reject") a chain gives
// a new TCP connection to port, or "" when it falls through.
func nftEval(rules map[string][]nftRule, chains map[string]*nftChain, key func(f, t, c string) string, family, table, chain string, port, depth int) string {
	if depth > 8 {
		return ""
	}
	for _, r := range rules[key(family, table, chain)] {
		applies := true
		verdict := ""
		for _, e := range r.Expr {
			for k, raw := range e {
				switch k {
				case "match":
					if !nftMatches(raw, port) {
						applies = false
					}
				case "accept", "drop", "reject":
					verdict = k
				case "jump", "goto":
					var t struct{ Target string }
					if json.Unmarshal(raw, &t) == nil && applies {
						if v := nftEval(rules, chains, key, family, table, t.Target, port, depth+1); v != "" {
							verdict = v
						}
					}
				case "counter", "log", "limit":
				default:
					// A statement rpwizard does not judge (mark, meter…).
				}
			}
		}
		if applies && verdict != "" {
			return verdict
		}
	}
	return ""
}

// nftMatches judges one match expression for a new TCP connection to
// port from anywhere.
func nftMatches(raw json.RawMessage, port int) bool {
	var m struct {
		Op    string
		Left  map[string]json.RawMessage
		Right json.RawMessage
	}
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	neg := m.Op == "!="
	if p, ok := m.Left["payload"]; ok {
		var pl struct{ Protocol, Field string }
		json.Unmarshal(p, &pl)
		if (pl.Protocol == "tcp" || pl.Protocol == "th") && pl.Field == "dport" {
			return nftRightHas(m.Right, port) != neg
		}
		return false // addresses, sport: not for everyone
	}
	if mk, ok := m.Left["meta"]; ok {
		var meta struct{ Key string }
		json.Unmarshal(mk, &meta)
		if meta.Key == "l4proto" || meta.Key == "nfproto" {
			var s string
			json.Unmarshal(m.Right, &s)
			return (s == "tcp" || s == "ipv4" || s == "ipv6" || s == "") != neg
		}
		return false // iif, iifname, mark…
	}
	if ct, ok := m.Left["ct"]; ok {
		var c struct{ Key string }
		json.Unmarshal(ct, &c)
		if c.Key == "state" {
			var states []string
			if json.Unmarshal(m.Right, &states) != nil {
				var s string
				json.Unmarshal(m.Right, &s)
				states = []string{s}
			}
			has := false
			for _, s := range states {
				if s == "new" {
					has = true
				}
			}
			return has != neg
		}
		return false
	}
	return false
}

// nftRightHas reports whether a match's right side (a port, a set, a
// range) contains port.
func nftRightHas(raw json.RawMessage, port int) bool {
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return n == port
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return map[string]int{"http": 80, "https": 443}[s] == port
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return false
	}
	if r, ok := obj["range"]; ok {
		var lr []int
		return json.Unmarshal(r, &lr) == nil && len(lr) == 2 && port >= lr[0] && port <= lr[1]
	}
	if set, ok := obj["set"]; ok {
		var elems []json.RawMessage
		if json.Unmarshal(set, &elems) != nil {
			return false
		}
		for _, e := range elems {
			if nftRightHas(e, port) {
				return true
			}
		}
	}
	return false
}

func checkFirewall(ctx context.Context, in *Input) []Finding {
	fw := in.Firewall
	switch {
	case fw.Tool == "":
		return one(OK, "no active firewall found (ufw, firewalld, nftables)", "")
	case fw.Unknown != "":
		return one(Skip, fmt.Sprintf("%s is active, but %s", fw.Tool, fw.Unknown), "make sure ports 80 and 443 (tcp) are open to your users")
	case len(fw.Blocked) == 0:
		return one(OK, fmt.Sprintf("%s (%s) allows ports 80 and 443", fw.Tool, fw.Where), "")
	}
	var ps []string
	for _, p := range fw.Blocked {
		ps = append(ps, strconv.Itoa(p))
	}
	what := "port " + andList(ps)
	if len(ps) > 1 {
		what = "ports " + andList(ps)
	}
	msg := fmt.Sprintf("%s (%s) does not allow incoming %s (tcp): browsers cannot reach the site", fw.Tool, fw.Where, what)
	a := in.Answers
	if a.TLS.Mode == "acme" && a.TLS.Challenge != "dns-01" {
		msg += ", and the CA cannot validate it (" + a.TLS.Challenge + ")"
	}
	return one(Warn, msg, fw.Fix)
}
