package server

import (
	"path/filepath"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/tpl"
)

// apache is Apache httpd: sites in sites-available linked from
// sites-enabled as a2ensite does (Debian), or in conf.d (RHEL family).
type apache struct{ base }

func (apache) Title() string { return "Apache" }

func (apache) Workers() []string { return []string{"www-data", "apache"} }

func (a apache) Paths() Paths {
	l := a.h.Layout
	pkgs := []string{l.ApachePackage}
	for _, m := range []string{"ssl", "http2"} {
		if p := l.ApacheModulePackages[m]; p != "" {
			pkgs = append(pkgs, p)
		}
	}
	return Paths{
		Binary: l.ApacheBinary, MainConfig: l.ApacheMain, PIDFile: l.ApachePIDFile, Service: l.ApacheService, LogDir: l.ApacheLogDir,
		Available: l.ApacheAvailable, Enabled: l.ApacheEnabled, ConfD: l.ApacheConfD,
		Packages: pkgs, Programs: []string{filepath.Base(l.ApacheBinary)},
	}
}

func (a apache) Commands() Commands {
	l := a.h.Layout
	return a.commands([]string{l.ApacheCtl, "configtest"}, []string{l.ApacheCtl, "graceful"},
		[]string{l.ApacheCtl, "start"}, []string{l.ApacheCtl, "stop"}, l.ApacheService)
}

// Site links as a2ensite does: ../sites-available/FILE.
func (a apache) Site(name string) Site {
	p := a.Paths()
	s := Site{File: filepath.Join(p.Available, siteFileName(name))}
	if p.SitesLinked() {
		s.Link = filepath.Join(p.Enabled, siteFileName(name))
		s.LinkTarget = filepath.Join("..", filepath.Base(p.Available), siteFileName(name))
	}
	return s
}

// Apache versions that rpwizard's template needs.
const (
	apacheMin     = "2.4.0"
	apacheUpgrade = "2.4.47" // ProxyPass … upgrade=websocket
)

func (apache) JudgeVersion(v, platform string) Judgement {
	switch {
	case !host.AtLeast(v, apacheMin):
		return Judgement{Msg: " cannot proxy WebSockets (Apache 2.4 or later is needed)", Fix: "upgrade Apache to 2.4.47 or later, or choose server: nginx"}
	case !host.AtLeast(v, apacheUpgrade):
		return Judgement{Msg: " is older than 2.4.47: rpwizard's config proxies WebSockets with `ProxyPass … upgrade=websocket`, which Apache learned in 2.4.47",
			Fix: "upgrade Apache to 2.4.47 or later (Ubuntu 20.04 ships 2.4.41: use Ubuntu 22.04 or later), or choose server: nginx"}
	}
	return Judgement{OK: true, Msg: ": WebSockets through mod_proxy_http (upgrade=websocket)"}
}

func (apache) Render(s tpl.Site) ([]byte, error) { return tpl.RenderApache(&s) }

// Shared: Apache's sites share nothing rpwizard writes.
func (apache) Shared() []File { return nil }
