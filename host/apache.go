package host

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

var reLoadModule = regexp.MustCompile(`^\s*LoadModule\s+(\w+)_module\s`)

// ApacheLoaded lists the modules the Apache config loads: on Debian the
// links in mods-enabled (*.load), on the RHEL family the LoadModule lines
// of conf.modules.d/*.conf (and of the main config).
func (l Layout) ApacheLoaded() map[string]bool { return l.ApacheLoadedWithout("") }

// ApacheLoadedWithout is ApacheLoaded not counting the file skip (on the
// RHEL family, rpwizard's own ApacheModuleConf, so that rewriting it does
// not drop lines it holds itself).
func (l Layout) ApacheLoadedWithout(skip string) map[string]bool {
	loaded := map[string]bool{}
	if l.ApacheModsEnable != "" {
		links, _ := filepath.Glob(filepath.Join(l.ApacheModsEnable, "*.load"))
		for _, f := range links {
			if _, err := os.Stat(f); err == nil { // a dangling link loads nothing
				loaded[strings.TrimSuffix(filepath.Base(f), ".load")] = true
			}
		}
		return loaded
	}
	files, _ := filepath.Glob(filepath.Join(l.ApacheModulesD, "*.conf"))
	sort.Strings(files)
	for _, f := range append(files, l.ApacheMain) {
		if f == skip {
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if m := reLoadModule.FindStringSubmatch(sc.Text()); m != nil {
				loaded[m[1]] = true
			}
		}
		fh.Close()
	}
	return loaded
}

// ApacheAvailableModule reports whether a module can be enabled: Debian's
// mods-available/NAME.load, or the shared object on the RHEL family.
func (l Layout) ApacheAvailableModule(mod string) bool {
	p := l.ApacheModuleFile(mod)
	if l.ApacheModsAvail != "" {
		p = filepath.Join(l.ApacheModsAvail, mod+".load")
	}
	_, err := os.Stat(p)
	return err == nil
}
