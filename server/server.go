// Package server is the one home of what rpwizard knows about each web
// server it drives: where its files are, the commands that test, reload,
// start and stop it, where a site's config goes and how it is enabled,
// and which template renders that config. nginx.go and apache.go each
// implement Server; every other package holds a Server and never compares
// a server's name.
package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/tpl"
)

// Server is one web server on one host.
type Server interface {
	// Name is the server as the answers name it ("nginx", "apache");
	// Title is how people write it ("nginx", "Apache").
	Name() string
	Title() string
	// Installed reports whether the host has it; Version is its version
	// ("" when unknown).
	Installed() bool
	Version() string
	// Paths are where it keeps things on this host.
	Paths() Paths
	// Commands control it. None goes through a shell.
	Commands() Commands
	// Site is where rpwizard puts the config of the site called name.
	Site(name string) Site
	// Render writes a site's config; Shared are the files every rpwizard
	// site on this server relies on, written beside it.
	Render(s tpl.Site) ([]byte, error)
	Shared() []File
	// JudgeVersion says whether rpwizard's config works with version v of
	// the server on platform ("debian", "rhel").
	JudgeVersion(v, platform string) Judgement
	// Workers are the accounts its workers may run as, most common first.
	Workers() []string
	// ReadConfig reads its configuration as it reads it itself: every
	// included file, wherever the includes lead (see Config).
	ReadConfig(ctx context.Context) (*Config, error)
}

// Paths are where a server keeps things, and what it is made of.
type Paths struct {
	Binary     string // the executable, as run
	MainConfig string
	PIDFile    string
	Service    string // systemd unit
	LogDir     string
	// Available holds site files; Enabled the links to the enabled ones
	// (equal to Available where site files are included directly).
	Available, Enabled string
	// ConfD holds other included *.conf files.
	ConfD string
	// Packages install the server with everything rpwizard's config needs.
	Packages []string
	// Programs are its process names (/proc/PID/comm).
	Programs []string
}

// SitesLinked reports whether site files are enabled by a link.
func (p Paths) SitesLinked() bool { return p.Available != p.Enabled }

// Commands are the command lines that control a server.
type Commands struct {
	Test, Reload, Start, Stop []string
}

// Site is where one site's config goes.
type Site struct {
	File string // the config file rpwizard writes
	// Link enables it ("" where site files are included directly), and
	// points at LinkTarget.
	Link, LinkTarget string
}

// File is a file a server's sites share.
type File struct {
	Path string
	Data []byte
	Why  string
}

// Title is how people write the server called name ("the web server"
// for a name rpwizard does not know). It needs no host.
func Title(name string) string {
	s, err := For(nil, name)
	if err != nil {
		return "the web server"
	}
	return s.Title()
}

// Workers are the accounts the server called name runs its workers as,
// most common first (Debian's www-data, the RHEL family's own); for an
// unknown name, every server's. It needs no host.
func Workers(name string) []string {
	if s, err := For(nil, name); err == nil {
		return s.Workers()
	}
	return []string{"www-data", "nginx", "apache"}
}

// Names are the servers rpwizard knows, as the answers name them.
func Names() []string { return []string{"nginx", "apache"} }

// For returns the server called name on h.
func For(h *host.Host, name string) (Server, error) {
	switch name {
	case "nginx":
		return nginx{base{h: h, name: name}}, nil
	case "apache":
		return apache{base{h: h, name: name}}, nil
	}
	return nil, fmt.Errorf("unknown server %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Must is For for a name that was validated: it panics on an unknown one.
func Must(h *host.Host, name string) Server {
	s, err := For(h, name)
	if err != nil {
		panic(err)
	}
	return s
}

// All returns every server rpwizard knows, on h.
func All(h *host.Host) []Server {
	var out []Server
	for _, n := range Names() {
		out = append(out, Must(h, n))
	}
	return out
}

// base is what every server shares.
type base struct {
	h    *host.Host
	name string
}

func (b base) Name() string    { return b.name }
func (b base) Installed() bool { return b.h.Has(b.name) }
func (b base) Version() string { return b.h.Versions[b.name] }

// commands builds the command lines: systemctl where systemd runs, the
// server's own otherwise.
func (b base) commands(test, reload, start, stop []string, service string) Commands {
	if b.h.Systemd {
		reload = []string{"systemctl", "reload", service}
		start = []string{"systemctl", "start", service}
		stop = []string{"systemctl", "stop", service}
	}
	return Commands{Test: test, Reload: reload, Start: start, Stop: stop}
}

// siteFileName is the name of rpwizard's file for a site.
func siteFileName(site string) string { return "rpwizard-" + site + ".conf" }

// Controller is the installer's controller of s: what a transaction needs
// to config-test, reload, start and stop it. It can find the host's other
// server too, for the journal of a killed run that changed that one.
func Controller(s Server) *installer.Server {
	c := s.Commands()
	ctl := &installer.Server{Name: s.Name(), TestArgv: c.Test, ReloadArgv: c.Reload, StartArgv: c.Start, StopArgv: c.Stop, PIDFile: s.Paths().PIDFile}
	if b, ok := s.(interface{ host() *host.Host }); ok {
		h := b.host()
		ctl.Other = func(name string) (*installer.Server, bool) {
			o, err := For(h, name)
			if err != nil {
				return nil, false
			}
			return Controller(o), true
		}
	}
	return ctl
}

func (b base) host() *host.Host { return b.h }

// Judgement is what rpwizard makes of a server version.
type Judgement struct {
	OK bool
	// Msg follows "TITLE VERSION": ": WebSockets supported…" or
	// " is too old…".
	Msg, Fix string
}
