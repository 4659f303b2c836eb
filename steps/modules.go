package steps

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rpwizard/rpwizard/installer"
)

// apacheModules lists the modules the site needs, dependencies first.
func (e *Env) apacheModules() []string {
	mods := []string{"socache_shmcb", "ssl", "proxy", "proxy_http", "proxy_wstunnel", "rewrite", "headers", "http2", "alias"}
	if len(e.Answers.TrustedProxies) > 0 {
		mods = append(mods, "remoteip")
	}
	if e.Answers.Restrict.BasicAuthFile != "" {
		mods = append(mods, "authn_core", "authn_file", "authz_user", "auth_basic")
	}
	return mods
}

// planModules enables Apache's modules. On Debian it does what a2enmod
// does (links in mods-enabled to mods-available), or runs a2enmod when
// Apache is only about to be installed; on the RHEL family it writes the
// LoadModule lines the packages' conf.modules.d files do not already have.
func planModules(ctx context.Context, e *Env) ([]installer.Change, error) {
	l := e.Host.Layout
	if e.Answers.Server != "apache" {
		return nil, nil
	}
	if e.Host.WillInstall("apache") {
		if l.ApacheModsAvail == "" {
			return nil, nil // the packages load the modules
		}
		return []installer.Change{{Kind: installer.Run, Argv: append([]string{"a2enmod", "-q"}, e.apacheModules()...),
			Why: "enable the modules rpwizard's Apache config needs"}}, nil
	}
	if l.ApacheModsAvail == "" {
		return planModuleConf(e)
	}
	var changes []installer.Change
	for _, m := range e.apacheModules() {
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
func planModuleConf(e *Env) ([]installer.Change, error) {
	l := e.Host.Layout
	loaded := l.ApacheLoadedWithout(l.ApacheModuleConf)
	var lines []string
	for _, m := range e.apacheModules() {
		if !loaded[m] {
			lines = append(lines, l.ApacheLoadModule(m))
		}
	}
	if len(lines) == 0 {
		return nil, nil
	}
	data := "# Managed by rpwizard: modules its sites need that no other file loads.\n" + strings.Join(lines, "\n") + "\n"
	return []installer.Change{{Kind: installer.WriteFile, Path: l.ApacheModuleConf, Data: []byte(data), Mode: 0o644, Why: "load Apache modules"}}, nil
}
