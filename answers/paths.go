package answers

import (
	"fmt"
	"net"
	"net/netip"
	"path"
	"strings"

	"github.com/rpwizard/rpwizard/profile"
)

// ProbePath is the location of rpwizard's self-test probe in every site;
// no admin path may take it.
const ProbePath = "/.well-known/rpwizard/probe"

// cleanURLPath resolves dot segments and merges repeated slashes, as the
// servers do before they match locations ("/x/../admin" is "/admin"). A
// trailing slash, or a trailing dot segment, stays a trailing slash.
func cleanURLPath(p string) string {
	c := path.Clean(p)
	if c != "/" && (strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")) {
		c += "/"
	}
	return c
}

// validateAdminPaths normalises restrict.admin_paths and refuses those
// that cannot be a location of their own: the whole site, one given twice,
// one the profile has already, and the self-test probe's.
func (a *Answers) validateAdminPaths(c *checker, p profile.Profile, known bool) {
	r := &a.Restrict
	prefix := strings.TrimSuffix(a.BasePath, "/")
	taken := map[string]string{} // full location → who has it
	if known {
		for _, l := range p.Locations {
			if l.Match != profile.Prefix {
				continue
			}
			full := prefix + l.Path
			if l.Path == "/" {
				full = a.BasePath
			}
			taken[full] = "a location of the " + p.Title + " profile already"
		}
	}
	for i, ap := range r.AdminPaths {
		key := fmt.Sprintf("restrict.admin_paths[%d]", i)
		if !rePath.MatchString(ap) {
			c.add(key, ap, "not an admin path", "a URL path below the site such as /admin, of letters, digits and . _ @ + - /")
			continue
		}
		clean := cleanURLPath(ap)
		if clean == "/" {
			c.add(key, ap, "that is the whole site, not an admin path", "a URL path below the site such as /admin, or restrict.site_networks for the whole site")
			continue
		}
		r.AdminPaths[i] = clean
		full := prefix + clean
		if strings.HasPrefix(full, ProbePath) {
			c.add(key, ap, "reserved for rpwizard's self-test probe", "a path of the app itself")
			continue
		}
		if who, ok := taken[full]; ok {
			c.add(key, ap, "given twice: "+who+" (the server refuses a duplicate location)", "each path once")
			continue
		}
		taken[full] = fmt.Sprintf("the same as restrict.admin_paths[%d]", i)
	}
}

// isThisHost reports whether ip is loopback, unspecified or an address of
// one of this host's interfaces.
func isThisHost(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if x, ok := netip.AddrFromSlice(n.IP); ok && x.Unmap() == ip {
				return true
			}
		}
	}
	return false
}
