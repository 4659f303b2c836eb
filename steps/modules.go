package steps

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

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

// planModules enables Apache's modules as a2enmod does: links in
// mods-enabled to the .load and .conf files of mods-available.
func planModules(ctx context.Context, e *Env) ([]installer.Change, error) {
	l := e.Host.Layout
	if e.Answers.Server != "apache" || l.ApacheModsAvail == "" {
		return nil, nil
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
