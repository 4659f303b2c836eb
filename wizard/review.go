package wizard

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/rpwizard/rpwizard/acme/presets"
	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/certs"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/server"
	"github.com/rpwizard/rpwizard/steps"
)

// summaryValueWidth is the width of the summary's values: 80 columns
// less the labels and a margin.
const summaryValueWidth = 80 - 15 - 2

// reviewSummary is the first screen of the review: what the answers mean
// in words, one line each, before the diffs.
func reviewSummary(p *Prepared, st Styles) string {
	a := p.Answers
	var b strings.Builder
	// Values wrap in their column, to fit 80 columns (wrapText does the
	// rest in narrower windows).
	row := func(label, text string) {
		for _, l := range strings.Split(text, "\n") {
			for _, part := range strings.Split(ansi.Wrap(l, summaryValueWidth, "/-"), "\n") {
				fmt.Fprintf(&b, "  %-12s %s\n", label, part)
				label = ""
			}
		}
	}
	fmt.Fprintf(&b, "%s at https://%s%s\n", st.Section.Render(a.Profile().Title), a.Domain, a.BasePath)
	row("Server", serverName(a.Server))
	row("Names", strings.Join(a.Names(), ", "))
	row("Upstream", a.Upstream)
	row("Base path", a.BasePath)
	row("Access", accessText(a))
	row("Certificate", certSource(p))
	row("Then", serverAction(p))
	files, cmds := changeCount(p.Plan)
	row("Changes", plural(files, "file change")+", "+plural(cmds, "command")+": the details follow below")
	return b.String()
}

// serverName is the server as the user reads it: nginx, Apache.
func serverName(s string) string { return server.Title(s) }

// accessText states the restriction in words: "/jatos only from
// 192.168.0.0/16; the rest of the site: anyone".
func accessText(a *answers.Answers) string {
	r := a.Restrict
	var parts []string
	if len(r.SiteNetworks) > 0 {
		parts = append(parts, "the whole site only from "+strings.Join(r.SiteNetworks, ", "))
	}
	if r.BasicAuthFile != "" {
		parts = append(parts, "the whole site only with a password ("+r.BasicAuthFile+")")
	}
	if r.ClientCAFile != "" {
		parts = append(parts, "the whole site only with a client certificate from "+r.ClientCAFile)
	}
	if len(r.AdminNetworks) > 0 {
		s := strings.Join(steps.AdminURLPaths(a), ", ") + " only from " + strings.Join(r.AdminNetworks, ", ")
		if len(parts) == 0 {
			s += "\nthe rest of the site: anyone"
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "anyone may reach the site (no restriction)"
	}
	return strings.Join(parts, "\n")
}

// certSource says where the certificate comes from and until when it is
// valid.
func certSource(p *Prepared) string {
	a := p.Answers
	now := time.Now()
	if p.Env.Now != nil {
		now = p.Env.Now()
	}
	until := func(info *certs.Info) string {
		days := int(info.Leaf.NotAfter.Sub(now).Hours() / 24)
		return fmt.Sprintf("valid until %s (%d days)", info.Leaf.NotAfter.Format("2006-01-02"), days)
	}
	switch a.TLS.Mode {
	case "existing":
		s := "your files: " + a.TLS.CertFile
		if info, err := certs.LoadFile(a.TLS.CertFile); err == nil {
			s += "\nissued by " + issuer(info) + ", " + until(info)
		}
		if a.TLS.CABundle != "" {
			s += "\nthe self-test trusts the CA in " + a.TLS.CABundle
		}
		return s
	case "self-signed":
		if !stepChanges(p.Plan, "certificate") {
			if info := p.Env.CertInfo(); info != nil {
				return "self-signed, kept: " + until(info) + "\n(browsers warn)"
			}
		}
		return "self-signed, made now, valid for 397 days\n(browsers warn; tests and internal sites)"
	case "acme":
		return acmeSource(a)
	}
	return a.TLS.Mode
}

// acmeSource says in words which CA the certificate comes from, with
// which profile and account binding, and how it is checked.
func acmeSource(a *answers.Answers) string {
	t := a.TLS
	how := "HTTP-01 (port 80)"
	if t.Challenge == "dns-01" {
		how = "DNS-01 via " + t.DNSProvider
	}
	ca, dir := acmeCA(a)
	lines := []string{ca + " (ACME), asked for during the apply"}
	if dir {
		lines = append(lines, "directory "+t.Directory)
	}
	lines = append(lines, profileLine(a), "the domain checked by "+how)
	if t.EABKID != "" {
		from := EABHMACEnv
		if t.EABHMACFile != "" {
			from = t.EABHMACFile
		}
		lines = append(lines, "EAB key id "+t.EABKID+"; HMAC key from "+from+" (not shown)")
	}
	if t.CABundle != "" {
		lines = append(lines, "the CA's server trusted with "+t.CABundle)
	}
	if t.Proxy != "" {
		px := t.Proxy
		if u, err := url.Parse(px); err == nil {
			px = u.Redacted()
		}
		lines = append(lines, "through the proxy "+px)
	}
	return strings.Join(append(lines, "renewed by the rpwizard renew timer"), "\n")
}

// acmeCA names the CA of ACME answers; dir reports whether its
// directory URL says more (it is not the preset's one).
func acmeCA(a *answers.Answers) (name string, dir bool) {
	if p, ok := presets.Lookup(a.TLS.CA); ok {
		return p.Title, p.URL == "" || !strings.EqualFold(p.URL, a.TLS.Directory)
	}
	return "an ACME CA", true
}

// profileLine states the certificate profile of ACME answers in words.
func profileLine(a *answers.Answers) string {
	t := a.TLS
	switch short := profileShort(t.CA, t.Profile, ""); {
	case t.Profile == "" && short == profileShort(CACustom, "", ""):
		return "the CA's default profile"
	case t.Profile == "":
		return "the CA's default profile: " + short
	case short == "no description":
		return "profile " + t.Profile
	default:
		return "profile " + t.Profile + ": " + short
	}
}

func issuer(info *certs.Info) string {
	if info.SelfSigned {
		return "itself (self-signed)"
	}
	if cn := info.Leaf.Issuer.CommonName; cn != "" {
		return cn
	}
	return info.Leaf.Issuer.String()
}

// serverAction says what happens to the server: installed, started or
// reloaded after a config test.
func serverAction(p *Prepared) string {
	a := p.Answers
	name := serverName(a.Server)
	if p.Plan.Empty() {
		return "nothing: the host already matches these answers"
	}
	reload := false
	var installs []string
	for _, s := range p.Plan.Steps {
		for _, c := range s.Changes {
			switch {
			case c.Kind == installer.Reload:
				reload = true
			case c.Kind == installer.Run && isInstall(c.Argv):
				installs = append(installs, strings.Join(c.Argv, " "))
			}
		}
	}
	var out []string
	if len(installs) > 0 {
		out = append(out, "install first: "+strings.Join(installs, "; "))
	}
	switch {
	case !reload:
		out = append(out, name+" is not reloaded (no file of its config changes)")
	case p.Env.Server != nil && p.Env.Server.Running():
		out = append(out, "config test, then reload "+name+" (no restart; open connections stay)")
	default:
		out = append(out, "config test, then start "+name+" (it is not running now)")
	}
	if a.SelfTestOn() {
		out = append(out, "then the self-test; if it fails, every change is rolled back")
	}
	return strings.Join(out, "\n")
}

func isInstall(argv []string) bool {
	for _, a := range argv {
		if a == "install" {
			return true
		}
	}
	return false
}

// stepChanges reports whether the plan's step called name changes anything.
func stepChanges(plan *installer.Plan, name string) bool {
	for _, s := range plan.Steps {
		if s.Name == name && len(s.Changes) > 0 {
			return true
		}
	}
	return false
}
