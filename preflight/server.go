package preflight

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/server"
)

func checkRoot(ctx context.Context, in *Input) []Finding {
	if in.Host.Fake() {
		return one(Skip, "not checked on a fake root", "")
	}
	if in.Euid == 0 {
		return one(OK, "running as root", "")
	}
	return one(Warn, "not running as root: the plan can be shown, but applying it needs root, and the programs holding ports cannot always be named",
		"run it with sudo: sudo rpwizard --answers FILE")
}

// minRelease is the oldest release of each distribution rpwizard supports
// (major version): the first whose nginx and Apache packages have what
// rpwizard's templates need.
var minRelease = map[string]int{"debian": 11, "ubuntu": 20, "rhel": 8, "rocky": 8, "almalinux": 8, "centos": 8, "ol": 8, "fedora": 38}

// testedRelease is where rpwizard's integration suite runs for real
// (./scripts/test: the Debian 12 host and a Debian 13 root); the other
// supported releases are covered by unit tests of their layout only.
var testedRelease = map[string][]string{"debian": {"12", "13"}}

func checkPlatform(ctx context.Context, in *Input) []Finding {
	h := in.Host
	l := h.Layout
	name := h.OS.PrettyName
	if name == "" {
		name = strings.TrimSpace(h.OS.ID + " " + h.OS.VersionID)
	}
	if _, ok := host.PlatformFor(h.OS); l.Platform == "" || (!ok && h.OS.ID != "") {
		var names []string
		for _, p := range host.Platforms {
			names = append(names, p.Title)
		}
		return one(Block, fmt.Sprintf("unsupported platform %q (%s)", h.OS.ID, name),
			"rpwizard knows "+andList(names)+"; on another system, write the proxy config by hand")
	}
	p := in.proxy()
	paths := p.Paths()
	sites := shortPath(l, paths.Enabled)
	if paths.SitesLinked() {
		sites = "sites-available → sites-enabled"
	}
	if m, ok := p.(server.Modular); ok {
		sites += ", " + m.ModulesHow()
	}
	desc := fmt.Sprintf("%s: %s layout (%s; %s; service %s)", name, l.Platform, l.PackageManager[0], sites, paths.Service)
	if !h.Systemd {
		desc += "; no systemd: the server is controlled by its own commands"
	}
	if min, ok := minRelease[h.OS.ID]; ok {
		major, err := strconv.Atoi(strings.SplitN(h.OS.VersionID, ".", 2)[0])
		if err == nil && major < min {
			return one(Warn, fmt.Sprintf("%s is older than the releases rpwizard supports (Debian 11+, Ubuntu 20.04+, RHEL/Rocky/Alma 8+, Fedora 38+)", name),
				"upgrade the system, or read the --dry-run plan carefully before applying it")
		}
	}
	major := strings.SplitN(h.OS.VersionID, ".", 2)[0]
	if h.OS.ID != "" && !slices.Contains(testedRelease[h.OS.ID], major) {
		desc += "; supported, but rpwizard's integration tests run on Debian 12 and 13 only: read the --dry-run plan before applying"
	}
	return one(OK, desc, "")
}

// shortPath shows a layout path without the fake root.
func shortPath(l host.Layout, p string) string {
	if l.Root == "/" || l.Root == "" {
		return p
	}
	if rel, err := filepath.Rel(l.Root, p); err == nil {
		return "/" + rel
	}
	return p
}

// consentHint tells how to let rpwizard apply a fix itself.
const consentHint = "install_missing: true in the answers (or --install-missing)"

// installFix is the install of pkgs (after fetching the package lists
// when there are none), undone by removing them on rollback.
func installFix(in *Input, why string, pkgs ...string) Fix {
	l := in.Host.Layout
	return Fix{Why: why, Install: pkgs, Refresh: l.RefreshCommand() != nil && !hasPackageLists(l)}
}

func hasPackageLists(l host.Layout) bool {
	if l.PackageLists == "" {
		return true
	}
	m, _ := filepath.Glob(filepath.Join(l.PackageLists, "*_Packages*"))
	return len(m) > 0
}

func checkServer(ctx context.Context, in *Input) []Finding {
	a, h, p := in.Answers, in.Host, in.proxy()
	if p.Installed() {
		v := p.Version()
		if v == "" {
			v = "(version unknown)"
		}
		return one(OK, fmt.Sprintf("%s %s is installed (%s)", p.Title(), v, p.Paths().Binary), "")
	}
	pkgs := p.Paths().Packages
	if !a.InstallMissing {
		return one(Block, fmt.Sprintf("%s is not installed (%s not found)", p.Title(), p.Paths().Binary),
			"install it: "+strings.Join(h.Layout.PackageManager[:2], " ")+" "+strings.Join(pkgs, " ")+" — or let rpwizard install it: "+consentHint)
	}
	fix := installFix(in, "install "+strings.Join(pkgs, " ")+" (install_missing)", pkgs...)
	fix.Server = p.Name()
	return []Finding{{Severity: OK, Msg: fmt.Sprintf("%s is not installed: rpwizard installs %s (install_missing)", p.Title(), strings.Join(pkgs, " ")),
		Fixes: []Fix{fix}}}
}

func checkVersion(ctx context.Context, in *Input) []Finding {
	p := in.proxy()
	v, src := p.Version(), ""
	if !p.Installed() {
		v, src = in.Host.CandidateVersion(ctx, p.Paths().Packages[0]), " (the version the package manager would install)"
	}
	if v == "" {
		return one(Skip, p.Title()+" version unknown: not checked", "")
	}
	return versionFindings(p, v, src, in.Host.Layout.Platform)
}

// versionFindings judges a server version (src says where it comes from).
func versionFindings(p server.Server, v, src, platform string) []Finding {
	j := p.JudgeVersion(v, platform)
	sev := OK
	if !j.OK {
		sev = Block
	}
	return one(sev, fmt.Sprintf("%s %s%s%s", p.Title(), v, src, j.Msg), j.Fix)
}

func checkModules(ctx context.Context, in *Input) []Finding {
	a, h, p := in.Answers, in.Host, in.proxy()
	if _, ok := p.(server.Modular); !ok {
		return nil
	}
	l := h.Layout
	if !p.Installed() {
		return one(OK, "modules come with "+strings.Join(p.Paths().Packages, " "), "")
	}
	loaded := l.ApacheLoaded()
	var missing, present, notLoaded []string
	pkgs := map[string][]string{} // package → its missing modules
	var pkgOrder []string
	for _, m := range in.ApacheModules {
		if !l.ApacheAvailableModule(m) {
			missing = append(missing, m)
			p := l.ApacheModulePackage(m)
			if pkgs[p] == nil {
				pkgOrder = append(pkgOrder, p)
			}
			pkgs[p] = append(pkgs[p], m)
			continue
		}
		present = append(present, m)
		if !loaded[m] {
			notLoaded = append(notLoaded, m)
		}
	}
	var out []Finding
	if len(missing) > 0 {
		// Modules of their own package can be installed; the others
		// belong to the server's package, which is broken.
		var installable []string
		for _, p := range pkgOrder {
			if p != l.ApachePackage {
				installable = append(installable, p)
			}
		}
		switch {
		case len(installable) < len(pkgOrder):
			where := l.ApacheModsAvail
			if where == "" {
				where = l.ApacheModulesDir
			}
			out = append(out, Finding{Severity: Block, Msg: fmt.Sprintf("Apache modules %s are missing from %s", strings.Join(pkgs[l.ApachePackage], ", "), shortPath(l, where)),
				Fix: "reinstall Apache: " + strings.Join(l.PackageManager[:2], " ") + " --reinstall " + apacheBinPackage(l)})
		case a.InstallMissing:
			out = append(out, Finding{Severity: OK, Msg: fmt.Sprintf("Apache modules %s are not installed: rpwizard installs %s (install_missing)", strings.Join(missing, ", "), strings.Join(installable, " ")),
				Fixes: []Fix{installFix(in, "install "+strings.Join(installable, " ")+" (install_missing)", installable...)}})
		case len(missing) == 1 && missing[0] == "http2":
			out = append(out, Finding{Severity: Warn, Msg: "Apache module http2 is not installed: the site is served over HTTP/1.1 only",
				Fix: "install it: " + strings.Join(l.PackageManager[:2], " ") + " " + l.ApacheModulePackage("http2") + " — or " + consentHint})
		default:
			out = append(out, Finding{Severity: Block, Msg: fmt.Sprintf("Apache modules %s are not installed", strings.Join(missing, ", ")),
				Fix: "install them: " + strings.Join(l.PackageManager[:2], " ") + " " + strings.Join(installable, " ") + " — or let rpwizard install them: " + consentHint})
		}
	}
	switch {
	case len(notLoaded) == 0:
		out = append(out, Finding{Severity: OK, Msg: "needed modules are loaded: " + strings.Join(present, ", ")})
	case l.ApacheModsAvail != "":
		out = append(out, Finding{Severity: OK, Msg: "modules to enable (a2enmod): " + strings.Join(notLoaded, ", ")})
	default:
		var lines []string
		for _, m := range notLoaded {
			lines = append(lines, l.ApacheLoadModule(m))
		}
		out = append(out, Finding{Severity: Warn, Msg: fmt.Sprintf("Apache does not load %s (%s)", strings.Join(notLoaded, ", "), shortPath(l, l.ApacheModulesD)),
			Fix: "add to " + shortPath(l, l.ApacheModuleConf) + ": " + strings.Join(lines, "; ")})
	}
	return out
}

// apacheBinPackage is the package holding Apache's standard modules.
func apacheBinPackage(l host.Layout) string {
	if l.Platform == "debian" {
		return "apache2-bin"
	}
	return l.ApachePackage
}

// exists reports whether path exists (without following a last link).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
