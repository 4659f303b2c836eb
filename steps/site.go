package steps

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/tpl"
)

// ProbeSocket is where the self-test's probe listens while it runs.
func (e *Env) ProbeSocket() string { return filepath.Join(e.Host.Layout.RunDir, "probe.sock") }

// AccessLog is the nginx site's own access log (Apache sites keep the
// server's).
func (e *Env) AccessLog() string {
	return filepath.Join(e.Host.Layout.NginxLogDir, e.Answers.SiteName()+".access.log")
}

// SiteFile is the site's config file (in sites-available or conf.d).
func (e *Env) SiteFile() string {
	l := e.Host.Layout
	dir := l.NginxAvailable
	if e.Answers.Server == "apache" {
		dir = l.ApacheAvailable
	}
	return filepath.Join(dir, "rpwizard-"+e.Answers.SiteName()+".conf")
}

// EnabledLink is the sites-enabled link ("" where sites are not linked).
func (e *Env) EnabledLink() string {
	l := e.Host.Layout
	if !l.SitesLinked(e.Answers.Server) {
		return ""
	}
	dir := l.NginxEnabled
	if e.Answers.Server == "apache" {
		dir = l.ApacheEnabled
	}
	return filepath.Join(dir, "rpwizard-"+e.Answers.SiteName()+".conf")
}

// SavedAnswers is where the answers of the site are kept (root only).
func (e *Env) SavedAnswers() string {
	return filepath.Join(e.Host.Layout.ConfigDir, "sites", e.Answers.SiteName()+".yaml")
}

// Watched are the site's names as the installer checks them after every
// reload: each must present the certificate the config names.
func (e *Env) Watched() []installer.Site {
	cert, _ := e.CertPaths()
	var out []installer.Site
	for i, n := range e.Answers.Names() {
		out = append(out, installer.Site{Name: n, CertFile: cert, Alias: i > 0})
	}
	return out
}

// SharedFile is the nginx file shared by all rpwizard sites.
func (e *Env) SharedFile() string { return filepath.Join(e.Host.Layout.NginxConfD, "rpwizard.conf") }

// ProxySnippet is the nginx file of proxy headers shared by rpwizard sites.
func (e *Env) ProxySnippet() string {
	return filepath.Join(filepath.Dir(e.Host.Layout.NginxMain), "rpwizard", "proxy.conf")
}

// Site builds the template data from the answers.
func (e *Env) Site() *tpl.Site {
	a := e.Answers
	p := a.Profile()
	cert, key := e.CertPaths()
	s := &tpl.Site{
		Domain: a.Domain, Title: p.Title, Docs: p.Docs,
		Names: a.Names(), Aliases: a.Aliases,
		Upstream:       a.Upstream,
		UpstreamName:   "rpwizard_" + strings.NewReplacer(".", "_", "-", "_", "*", "wildcard").Replace(a.Domain),
		BasePath:       a.BasePath,
		Locations:      tpl.NewLocations(p, a.BasePath),
		AdminNetworks:  a.Restrict.AdminNetworks,
		SiteNetworks:   a.Restrict.SiteNetworks,
		TrustedProxies: a.TrustedProxies,
		BasicAuthFile:  a.Restrict.BasicAuthFile,
		ClientCAFile:   a.Restrict.ClientCAFile,
		CertFile:       cert, KeyFile: key,
		HSTS:           a.HSTSOn(),
		MaxBody:        a.MaxBodySize,
		MaxBodyBytes:   a.MaxBodyBytes(),
		WSTimeout:      p.WebSocketTimeout,
		RequestTimeout: p.RequestTimeout,
		Buffering:      p.Buffering,
		Webroot:        e.Host.Layout.Webroot,
		ProbeSocket:    e.ProbeSocket(),
		HTTP2On:        host.AtLeast(e.Host.Versions["nginx"], "1.25.1"),
		Curves:         e.curves(),
		ProxySnippet:   e.ProxySnippet(),
		AccessLog:      e.AccessLog(),
	}
	for _, l := range s.Locations {
		if l.Admin && l.Match == 0 { // prefix locations carry the restriction in Apache
			s.AdminPaths = append(s.AdminPaths, l.Full)
		}
	}
	return s
}

func planSiteConfig(ctx context.Context, e *Env) ([]installer.Change, error) {
	data, err := tpl.Render(e.Answers.Server, e.Site())
	if err != nil {
		return nil, err
	}
	l := e.Host.Layout
	changes := []installer.Change{
		{Kind: installer.Mkdir, Path: filepath.Join(l.Webroot, ".well-known", "acme-challenge"), Mode: 0o755, Why: "ACME HTTP-01 webroot"},
	}
	if e.Answers.Server == "nginx" {
		changes = append(changes, installer.Change{Kind: installer.WriteFile, Path: e.SharedFile(), Data: tpl.NginxShared(), Mode: 0o644,
			Why: "WebSocket upgrade maps shared by rpwizard sites"},
			installer.Change{Kind: installer.WriteFile, Path: e.ProxySnippet(), Data: tpl.NginxProxySnippet(), Mode: 0o644,
				Why: "proxy headers shared by rpwizard sites"})
	}
	changes = append(changes, installer.Change{Kind: installer.WriteFile, Path: e.SiteFile(), Data: data, Mode: 0o644,
		Why: e.Answers.Profile().Title + " site"})
	saved, err := e.Answers.Marshal()
	if err != nil {
		return nil, err
	}
	changes = append(changes, installer.Change{Kind: installer.WriteFile, Path: e.SavedAnswers(), Data: saved, Mode: 0o600,
		Why: "the answers of this site, for rpwizard renew and selftest"})
	return changes, nil
}

func planEnable(ctx context.Context, e *Env) ([]installer.Change, error) {
	link := e.EnabledLink()
	if link == "" {
		return nil, nil
	}
	target := e.SiteFile()
	if e.Answers.Server == "apache" {
		// As a2ensite does.
		target = filepath.Join("..", filepath.Base(filepath.Dir(target)), filepath.Base(target))
	}
	return []installer.Change{{Kind: installer.Symlink, Path: link, Target: target, Why: "enable the site"}}, nil
}

func planReload(ctx context.Context, e *Env) ([]installer.Change, error) {
	return []installer.Change{{Kind: installer.Reload, Why: strings.Join(e.Server.TestCommand(), " ") + " && " + strings.Join(e.Server.ReloadCommand(), " ")}}, nil
}

// curves are the TLS key-exchange groups of Mozilla's intermediate profile
// that the host's OpenSSL knows: the post-quantum hybrid X25519MLKEM768
// first where OpenSSL >= 3.5 offers it.
func (e *Env) curves() string {
	if host.AtLeast(e.Host.Versions["openssl"], "3.5.0") {
		return "X25519MLKEM768:X25519:prime256v1:secp384r1"
	}
	return "X25519:prime256v1:secp384r1"
}
