package preflight

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
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

var (
	reServerName = regexp.MustCompile(`\bserver_name\s+([^;{}]+);`)
	reApacheName = regexp.MustCompile(`(?i)^\s*Server(?:Name|Alias)\s+(.+)$`)
)

// ParseNginxNames returns the names of every server_name directive.
func ParseNginxNames(conf []byte) []string {
	var b strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(conf))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		b.WriteString(line + "\n")
	}
	var out []string
	for _, m := range reServerName.FindAllStringSubmatch(b.String(), -1) {
		for _, n := range strings.Fields(m[1]) {
			out = append(out, strings.ToLower(strings.Trim(n, `"'`)))
		}
	}
	return out
}

// ParseApacheNames returns the names of every ServerName and ServerAlias.
func ParseApacheNames(conf []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(conf))
	for sc.Scan() {
		m := reApacheName.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		for _, n := range strings.Fields(m[1]) {
			n = strings.ToLower(strings.Trim(n, `"'`))
			if _, after, ok := strings.Cut(n, "://"); ok {
				n = after
			}
			if h, _, ok := strings.Cut(n, ":"); ok {
				n = h
			}
			out = append(out, n)
		}
	}
	return out
}

// ScanSites reads the config files of server that can name sites: its
// main config, the enabled sites and the included conf.d files. ownBase
// is the file name of rpwizard's own site file for these answers.
func ScanSites(l host.Layout, server, ownBase string) []SiteFile {
	type source struct {
		dir, glob string
		before    bool // read before rpwizard's site dir
	}
	var main string
	var srcs []source
	parse := ParseNginxNames
	if server == "apache" {
		main, parse = l.ApacheMain, ParseApacheNames
		if l.ApacheConfD != l.ApacheEnabled {
			srcs = append(srcs, source{l.ApacheConfD, "*.conf", true})
		}
		srcs = append(srcs, source{l.ApacheEnabled, "*.conf", false})
	} else {
		main = l.NginxMain
		srcs = append(srcs, source{l.NginxConfD, "*.conf", true})
		glob := "*.conf"
		if l.SitesLinked("nginx") {
			glob = "*" // Debian's nginx.conf includes sites-enabled/*
		}
		if l.NginxEnabled != l.NginxConfD {
			srcs = append(srcs, source{l.NginxEnabled, glob, false})
		}
	}
	var out []SiteFile
	if data, err := os.ReadFile(main); err == nil {
		out = append(out, SiteFile{Path: main, Names: parse(data), Main: true, Before: true})
	}
	seen := map[string]bool{}
	for _, s := range srcs {
		files, _ := filepath.Glob(filepath.Join(s.dir, s.glob))
		sort.Strings(files)
		for _, f := range files {
			if seen[f] || strings.HasPrefix(filepath.Base(f), ".") {
				continue
			}
			seen[f] = true
			data, err := readSite(l, f)
			if err != nil {
				continue
			}
			sf := SiteFile{Path: f, Names: parse(data), Before: s.before || filepath.Base(f) < ownBase,
				Managed: bytes.Contains(firstLines(data, 3), []byte("Managed by rpwizard"))}
			if target, err := os.Readlink(f); err == nil {
				sf.Link = target
			}
			out = append(out, sf)
		}
	}
	return out
}

// readSite reads a site file through its link; on a fake root an
// absolute link target is taken under the root.
func readSite(l host.Layout, f string) ([]byte, error) {
	p := f
	if target, err := os.Readlink(f); err == nil && filepath.IsAbs(target) && l.Root != "/" && l.Root != "" {
		p = filepath.Join(l.Root, target)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a file", f)
	}
	return os.ReadFile(p)
}

func firstLines(data []byte, n int) []byte {
	end := 0
	for i := 0; i < n && end < len(data); i++ {
		j := bytes.IndexByte(data[end:], '\n')
		if j < 0 {
			return data
		}
		end += j + 1
	}
	return data[:end]
}

// notNames are server names that serve no real site.
var notNames = map[string]bool{"_": true, "": true, "localhost": true, `""`: true}

// ownSiteBase is the file name of rpwizard's site for the answers.
func ownSiteBase(siteName string) string { return "rpwizard-" + siteName + ".conf" }

func checkSites(ctx context.Context, in *Input) []Finding {
	a, l := in.Answers, in.Host.Layout
	if p := in.proxy(); !p.Installed() && !exists(p.Paths().MainConfig) {
		return one(OK, "no "+p.Title()+" config yet", "")
	}
	own := ownSiteBase(a.SiteName())
	ours := map[string]bool{}
	for _, n := range a.Names() {
		ours[n] = true
	}
	var out []Finding
	conflicts := 0
	for _, sf := range ScanSites(l, a.Server, own) {
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
				if a.Server == "apache" && strings.ContainsAny(n, "*?") {
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
					Msg: fmt.Sprintf("%s answers for %s and Apache reads it before rpwizard's site, so it would catch those requests", shown, andList(wild)),
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
			changes, where, err := takeOver(l, a.Server, sf)
			if err != nil {
				out = append(out, Finding{Severity: Block, Msg: fmt.Sprintf("cannot take over %s: %v", shown, err), Fix: "disable that site yourself"})
				continue
			}
			out = append(out, Finding{Severity: OK,
				Msg:     fmt.Sprintf("%s was served by %s, %s: rpwizard takes it over (take_over) and disables it: %s", names, shown, by, where),
				Changes: changes})
		}
	}
	if conflicts == 0 && len(out) == 0 {
		return one(OK, "no other config serves "+andList(a.Names()), "")
	}
	return out
}

func mainConfig(l host.Layout, server string) string {
	if server == "apache" {
		return l.ApacheMain
	}
	return l.NginxMain
}

// takeOver plans disabling a foreign site file: its sites-enabled link is
// removed; a file is renamed to NAME.rpwizard-disabled (a WriteFile and a
// Remove, both journalled), next to it or — where every file of the
// directory is read (Debian's nginx sites-enabled) — in sites-available.
func takeOver(l host.Layout, server string, sf SiteFile) ([]installer.Change, string, error) {
	why := "take over: disable " + filepath.Base(sf.Path) + " (take_over)"
	dir := filepath.Dir(sf.Path)
	if sf.Link != "" && l.SitesLinked(server) {
		return []installer.Change{{Kind: installer.Remove, Path: sf.Path, Why: why}},
			"its link " + shortPath(l, sf.Path) + " is removed (" + sf.Link + " stays)", nil
	}
	dest := sf.Path + DisabledSuffix
	if server == "nginx" && l.SitesLinked("nginx") && dir == l.NginxEnabled {
		dest = filepath.Join(l.NginxAvailable, filepath.Base(sf.Path)+DisabledSuffix)
	}
	if exists(dest) {
		return nil, "", fmt.Errorf("%s exists already", shortPath(l, dest))
	}
	moved := "renamed to " + shortPath(l, dest)
	if sf.Link != "" {
		return []installer.Change{
			{Kind: installer.Symlink, Path: dest, Target: sf.Link, Why: why + " (keep the link)"},
			{Kind: installer.Remove, Path: sf.Path, Why: why},
		}, moved, nil
	}
	fi, err := os.Stat(sf.Path)
	if err != nil {
		return nil, "", err
	}
	data, err := os.ReadFile(sf.Path)
	if err != nil {
		return nil, "", err
	}
	return []installer.Change{
		{Kind: installer.WriteFile, Path: dest, Data: data, Mode: fi.Mode().Perm() & fs.ModePerm, Why: why + " (keep a copy)"},
		{Kind: installer.Remove, Path: sf.Path, Why: why},
	}, moved, nil
}
