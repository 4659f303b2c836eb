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

// SiteFile is the site's config file (in sites-available or conf.d).
func (e *Env) SiteFile() string { return e.Proxy.Site(e.Answers.SiteName()).File }

// EnabledLink is the sites-enabled link ("" where sites are not linked).
func (e *Env) EnabledLink() string { return e.Proxy.Site(e.Answers.SiteName()).Link }

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

// Site builds the template data from the answers.
func (e *Env) Site() *tpl.Site {
	a := e.Answers
	p := a.Profile()
	cert, key := e.CertPaths()
	s := &tpl.Site{
		Name: a.SiteName(), Domain: a.Domain, Title: p.Title, Docs: p.Docs,
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
		Curves:         e.curves(),
	}
	for _, l := range s.Locations {
		if l.Admin && l.Match == 0 { // prefix locations carry the restriction in Apache
			s.AdminPaths = append(s.AdminPaths, l.Full)
		}
	}
	return s
}

// RenderSite is the site's config file as the proxy server reads it.
func (e *Env) RenderSite() ([]byte, error) { return e.Proxy.Render(*e.Site()) }

func planSiteConfig(ctx context.Context, e *Env) ([]installer.Change, error) {
	data, err := e.RenderSite()
	if err != nil {
		return nil, err
	}
	l := e.Host.Layout
	changes := []installer.Change{
		{Kind: installer.Mkdir, Path: filepath.Join(l.Webroot, ".well-known", "acme-challenge"), Mode: 0o755, Why: "ACME HTTP-01 webroot"},
	}
	for _, f := range e.Proxy.Shared() {
		changes = append(changes, installer.Change{Kind: installer.WriteFile, Path: f.Path, Data: f.Data, Mode: 0o644, Why: f.Why})
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
	s := e.Proxy.Site(e.Answers.SiteName())
	if s.Link == "" {
		return nil, nil
	}
	return []installer.Change{{Kind: installer.Symlink, Path: s.Link, Target: s.LinkTarget, Why: "enable the site"}}, nil
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
