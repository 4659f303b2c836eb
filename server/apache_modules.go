package server

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/tpl"
)

// Modular is a server whose features are modules to enable (Apache).
// Servers without modules (nginx) do not implement it.
type Modular interface {
	// Modules lists the modules site needs, dependencies first.
	Modules(site tpl.Site) []string
	// PlanModules enables mods. installing: the server is installed by
	// this same run, so its files are not there yet.
	PlanModules(mods []string, installing bool) ([]installer.Change, error)
	// ModulesHow says how this host enables modules ("a2enmod", or
	// where the LoadModule files are).
	ModulesHow() string
}

func (apache) Modules(site tpl.Site) []string {
	mods := []string{"socache_shmcb", "ssl", "proxy", "proxy_http", "proxy_wstunnel", "rewrite", "headers", "http2", "alias"}
	if len(site.TrustedProxies) > 0 {
		mods = append(mods, "remoteip")
	}
	if site.BasicAuthFile != "" {
		mods = append(mods, "authn_core", "authn_file", "authz_user", "auth_basic")
	}
	return mods
}

func (a apache) ModulesHow() string {
	l := a.h.Layout
	if l.ApacheModsAvail != "" {
		return "a2enmod"
	}
	return "modules in " + short(l.Root, l.ApacheModulesD)
}

// PlanModules does on Debian what a2enmod does (links in mods-enabled to
// mods-available), or runs a2enmod when Apache is only about to be
// installed; on the RHEL family it writes the LoadModule lines the
// packages' conf.modules.d files do not already have.
func (a apache) PlanModules(mods []string, installing bool) ([]installer.Change, error) {
	l := a.h.Layout
	if installing {
		if l.ApacheModsAvail == "" {
			return nil, nil // the packages load the modules
		}
		return []installer.Change{{Kind: installer.Run, Argv: append([]string{"a2enmod", "-q"}, mods...),
			Why: "enable the modules rpwizard's Apache config needs"}}, nil
	}
	if l.ApacheModsAvail == "" {
		return a.planModuleConf(mods), nil
	}
	var changes []installer.Change
	for _, m := range mods {
		for _, ext := range []string{".load", ".conf"} {
			src := filepath.Join(l.ApacheModsAvail, m+ext)
			if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
				if ext == ".load" && l.Root == "/" {
					return nil, errors.New("Apache module " + m + " is not available (" + src + " missing): install it, or set install_missing: true")
				}
				continue
			}
			changes = append(changes, installer.Change{Kind: installer.Symlink,
				Path: filepath.Join(l.ApacheModsEnable, m+ext), Target: filepath.Join("..", "mods-available", m+ext),
				Why: "a2enmod " + m})
		}
	}
	return changes, nil
}

// planModuleConf writes rpwizard's own LoadModule file (RHEL family) for
// the modules no other file loads.
func (a apache) planModuleConf(mods []string) []installer.Change {
	l := a.h.Layout
	loaded := l.ApacheLoadedWithout(l.ApacheModuleConf)
	var lines []string
	for _, m := range mods {
		if !loaded[m] {
			lines = append(lines, l.ApacheLoadModule(m))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	data := "# Managed by rpwizard: modules its sites need that no other file loads.\n" + strings.Join(lines, "\n") + "\n"
	return []installer.Change{{Kind: installer.WriteFile, Path: l.ApacheModuleConf, Data: []byte(data), Mode: 0o644, Why: "load Apache modules"}}
}

// short is p as the admin sees it: without a fake root.
func short(root, p string) string {
	if root == "/" || root == "" {
		return p
	}
	return "/" + strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
}
