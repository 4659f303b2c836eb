package server

import (
	"path/filepath"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/tpl"
)

// nginxHTTP2On is the first nginx that takes `http2 on;` (and warns about
// `listen … http2`).
const nginxHTTP2On = "1.25.1"

// nginx is nginx: sites in sites-available linked from sites-enabled
// (Debian) or in conf.d (RHEL family); WebSocket maps and proxy headers in
// files all of rpwizard's sites include.
type nginx struct{ base }

func (nginx) Title() string { return "nginx" }

func (n nginx) Paths() Paths {
	l := n.h.Layout
	return Paths{
		Binary: l.NginxBinary, MainConfig: l.NginxMain, PIDFile: l.NginxPIDFile, Service: l.NginxService, LogDir: l.NginxLogDir,
		Available: l.NginxAvailable, Enabled: l.NginxEnabled, ConfD: l.NginxConfD,
		Packages: []string{l.NginxPackage}, Programs: []string{filepath.Base(l.NginxBinary)},
	}
}

func (n nginx) Commands() Commands {
	l := n.h.Layout
	return n.commands([]string{l.NginxBinary, "-t", "-q"}, []string{l.NginxBinary, "-s", "reload"},
		[]string{l.NginxBinary}, []string{l.NginxBinary, "-s", "quit"}, l.NginxService)
}

func (n nginx) Site(name string) Site {
	p := n.Paths()
	s := Site{File: filepath.Join(p.Available, siteFileName(name))}
	if p.SitesLinked() {
		s.Link, s.LinkTarget = filepath.Join(p.Enabled, siteFileName(name)), s.File
	}
	return s
}

// Render writes `http2 on;` where this nginx takes it; the site includes
// the shared proxy headers and logs to its own buffered access log.
func (n nginx) Render(s tpl.Site) ([]byte, error) {
	s.HTTP2On = host.AtLeast(n.Version(), nginxHTTP2On)
	s.ProxySnippet = n.proxySnippet()
	s.AccessLog = filepath.Join(n.h.Layout.NginxLogDir, s.Name+".access.log")
	return tpl.RenderNginx(&s)
}

func (n nginx) Shared() []File {
	return []File{
		{Path: filepath.Join(n.h.Layout.NginxConfD, "rpwizard.conf"), Data: tpl.NginxShared(), Why: "WebSocket upgrade maps shared by rpwizard sites"},
		{Path: n.proxySnippet(), Data: tpl.NginxProxySnippet(), Why: "proxy headers shared by rpwizard sites"},
	}
}

// proxySnippet is the file of proxy headers every proxied location includes.
func (n nginx) proxySnippet() string {
	return filepath.Join(filepath.Dir(n.h.Layout.NginxMain), "rpwizard", "proxy.conf")
}
