package server

import (
	"path/filepath"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/tpl"
)

// nginx versions that rpwizard's template needs.
const (
	nginxMin     = "1.15.3" // keepalive_requests in upstream blocks
	nginxHTTP2On = "1.25.1" // `http2 on;` instead of `listen … http2` (which it then warns about)
)

// nginx is nginx: sites in sites-available linked from sites-enabled
// (Debian) or in conf.d (RHEL family); WebSocket maps and proxy headers in
// files all of rpwizard's sites include.
type nginx struct{ base }

func (nginx) Title() string { return "nginx" }

func (nginx) Workers() []string { return []string{"www-data", "nginx"} }

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

func (nginx) JudgeVersion(v, platform string) Judgement {
	if !host.AtLeast(v, nginxMin) {
		fix := "install nginx 1.18 or later"
		if platform == "rhel" {
			fix = "install a newer nginx module stream: dnf module reset nginx && dnf module enable nginx:1.24 && dnf install nginx"
		}
		return Judgement{Msg: " is too old for rpwizard's config (it needs " + nginxMin + " or later: keepalive_requests in upstream blocks)", Fix: fix}
	}
	syntax := "`listen 443 ssl http2` (nginx before 1.25.1)"
	if host.AtLeast(v, nginxHTTP2On) {
		syntax = "`http2 on;` (nginx 1.25.1 or later)"
	}
	return Judgement{OK: true, Msg: ": WebSockets supported; HTTP/2 written as " + syntax}
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
