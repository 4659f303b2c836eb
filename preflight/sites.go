package preflight

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/server"
)

// DisabledSuffix marks a site file rpwizard took over: the server no
// longer reads it, and renaming it back enables it again.
const DisabledSuffix = ".rpwizard-disabled"

// SiteFile is a config file of the server that names sites.
type SiteFile struct {
	Path    string   // as the server includes it (a file or a link)
	Link    string   // the link's target, if Path is a symlink
	Names   []string // server_name, or ServerName and ServerAlias, lower-case
	Managed bool     // rpwizard wrote it ("Managed by rpwizard")
	Main    bool     // the server's main config file
	// Before: Apache reads it before rpwizard's site (order matters for
	// Apache's wildcard names).
	Before bool
}

// ScanSites reads the files of p's config as p reads them
// (server.Server.ReadConfig: every included file, wherever the includes
// lead). ownBase is the file name of rpwizard's own site file for these
// answers: a file is Before when p reads it before where that file is
// read, among the enabled sites.
func ScanSites(ctx context.Context, p server.Server, ownBase string) ([]SiteFile, *server.Config) {
	cfg, err := p.ReadConfig(ctx)
	if err != nil {
		return nil, &server.Config{}
	}
	enabled := p.Paths().Enabled
	ownAt, firstEnabled := -1, -1
	for i, f := range cfg.Files {
		if filepath.Dir(f.Path) != enabled {
			continue
		}
		if firstEnabled < 0 {
			firstEnabled = i
		}
		if filepath.Base(f.Path) < ownBase {
			ownAt = i + 1
		}
	}
	switch {
	case ownAt < 0 && firstEnabled >= 0:
		ownAt = firstEnabled
	case ownAt < 0:
		ownAt = len(cfg.Files) // no enabled site: where they are read is not known
	}
	var out []SiteFile
	for i, f := range cfg.Files {
		sf := SiteFile{Path: f.Path, Names: f.NameList(), Main: f.Main, Before: i < ownAt, Managed: f.Managed()}
		if target, err := os.Readlink(f.Path); err == nil {
			sf.Link = target
		}
		out = append(out, sf)
	}
	return out, cfg
}

// notNames are server names that serve no real site.
var notNames = map[string]bool{"_": true, "": true, "localhost": true, `""`: true}

func checkSites(ctx context.Context, in *Input) []Finding {
	a, l, p := in.Answers, in.Host.Layout, in.proxy()
	if !p.Installed() && !exists(p.Paths().MainConfig) {
		return one(OK, "no "+p.Title()+" config yet", "")
	}
	own := filepath.Base(p.Site(a.SiteName()).File)
	ours := map[string]bool{}
	for _, n := range a.Names() {
		ours[n] = true
	}
	var out []Finding
	conflicts := 0
	files, cfg := ScanSites(ctx, p, own)
	for _, sf := range files {
		if filepath.Base(sf.Path) == own {
			continue // rpwizard's own file for this site: rewritten by the plan
		}
		var exact, wild, others []string
		for _, n := range sf.Names {
			switch {
			case ours[n]:
				exact = append(exact, n)
			case notNames[n]:
			default:
				others = append(others, n)
				if cfg.WildcardsInOrder && strings.ContainsAny(n, "*?") {
					for _, o := range a.Names() {
						if ok, _ := path.Match(n, o); ok {
							wild = append(wild, o+" (matched by "+n+")")
						}
					}
				}
			}
		}
		shown := shortPath(l, sf.Path)
		by := "which rpwizard did not write"
		if sf.Managed {
			by = "which rpwizard wrote for another site"
		}
		if len(exact) == 0 {
			if len(wild) > 0 && sf.Before {
				out = append(out, Finding{Severity: Warn,
					Msg: fmt.Sprintf("%s answers for %s and %s reads it before rpwizard's site, so it would catch those requests", shown, andList(wild), p.Title()),
					Fix: "narrow its ServerAlias, or move the name to rpwizard's site"})
			}
			continue
		}
		conflicts++
		names := andList(exact)
		switch {
		case sf.Main:
			out = append(out, Finding{Severity: Block,
				Msg: fmt.Sprintf("%s is already served by the main config %s: rpwizard does not edit it", names, shown),
				Fix: "remove the server block for " + names + " from " + shown + ", then run rpwizard again"})
		case len(others) > 0:
			out = append(out, Finding{Severity: Block,
				Msg: fmt.Sprintf("%s is already served by %s, %s; that file also serves %s, which taking it over would take offline", names, shown, by, andList(others)),
				Fix: "move the part for " + names + " out of " + shown + " (or delete it), then run rpwizard again"})
		case !a.TakeOver:
			out = append(out, Finding{Severity: Block,
				Msg: fmt.Sprintf("%s is already served by %s, %s", names, shown, by),
				Fix: "let rpwizard take it over (the file is backed up and disabled): take_over: true in the answers — or disable that site yourself"})
		default:
			fix, where, err := takeOver(l, p.Paths(), cfg, sf)
			if err != nil {
				out = append(out, Finding{Severity: Block, Msg: fmt.Sprintf("cannot take over %s: %v", shown, err), Fix: "disable that site yourself"})
				continue
			}
			out = append(out, Finding{Severity: OK,
				Msg:   fmt.Sprintf("%s was served by %s, %s: rpwizard takes it over (take_over) and disables it: %s", names, shown, by, where),
				Fixes: []Fix{fix}})
		}
	}
	if conflicts == 0 && len(out) == 0 {
		return one(OK, "no other config serves "+andList(a.Names()), "")
	}
	return out
}

// takeOver describes disabling a foreign site file: its sites-enabled
// link is removed; a file is renamed to NAME.rpwizard-disabled, next to
// it or — where the server would still read it there (Debian's nginx
// reads every file of sites-enabled) — in sites-available.
func takeOver(l host.Layout, paths server.Paths, cfg *server.Config, sf SiteFile) (Fix, string, error) {
	why := "take over: disable " + filepath.Base(sf.Path) + " (take_over)"
	if sf.Link != "" && paths.SitesLinked() {
		return Fix{Why: why, TakeOver: &TakeOver{Path: sf.Path, Link: sf.Link}},
			"its link " + shortPath(l, sf.Path) + " is removed (" + sf.Link + " stays)", nil
	}
	dest := sf.Path + DisabledSuffix
	if cfg.Reads(dest) {
		dest = filepath.Join(paths.Available, filepath.Base(dest))
		if !paths.SitesLinked() || cfg.Reads(dest) {
			return Fix{}, "", fmt.Errorf("%s would still read it renamed to %s", shortPath(l, filepath.Dir(sf.Path)), filepath.Base(dest))
		}
	}
	if exists(dest) {
		return Fix{}, "", fmt.Errorf("%s exists already", shortPath(l, dest))
	}
	if sf.Link == "" {
		if _, err := os.Stat(sf.Path); err != nil {
			return Fix{}, "", err
		}
	}
	return Fix{Why: why, TakeOver: &TakeOver{Path: sf.Path, Link: sf.Link, Dest: dest}}, "renamed to " + shortPath(l, dest), nil
}
