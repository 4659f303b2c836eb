package preflight

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/rpwizard/rpwizard/host"
)

// semanagePackage ships semanage on the RHEL family.
const semanagePackage = "policycoreutils-python-utils"

// checkSELinux: with SELinux enforcing, httpd_t (nginx and Apache alike)
// may connect to the upstream only with httpd_can_network_connect, and —
// as the JupyterHub docs do it — the upstream's port labelled http_port_t.
// Without them the proxy answers 502 and logs "13: Permission denied".
func checkSELinux(ctx context.Context, in *Input) []Finding {
	s := in.Host.SELinux
	switch {
	case !s.Enabled:
		return one(OK, "SELinux is not enabled", "")
	case !s.Enforcing:
		return one(OK, "SELinux is permissive: denials are logged, not enforced (run rpwizard again if you switch it to enforcing)", "")
	}
	a := in.Answers
	server := in.proxy().Title()
	_, port, _ := net.SplitHostPort(a.Upstream)
	var cmds [][]string
	var undos [][]string
	var why, problems []string
	if !s.Booleans["httpd_can_network_connect"] {
		cmds = append(cmds, []string{"setsebool", "-P", "httpd_can_network_connect", "1"})
		undos = append(undos, []string{"setsebool", "-P", "httpd_can_network_connect", "0"})
		why = append(why, "let the proxy connect to "+a.Upstream+" (SELinux boolean httpd_can_network_connect)")
		problems = append(problems, "httpd_can_network_connect is off")
	}
	var portTypes []string
	var pnum int
	fmt.Sscan(port, &pnum)
	if pnum > 0 {
		portTypes = in.Host.PortTypes(ctx, pnum)
	}
	labelled := false
	for _, t := range portTypes {
		if t == "http_port_t" {
			labelled = true
		}
	}
	var needSemanage bool
	if pnum > 0 && !labelled {
		op, undo := "-a", []string{"semanage", "port", "-d", "-p", "tcp", port}
		if len(portTypes) > 0 {
			// Defined with another type: -a would fail with "already defined".
			op = "-m"
			if local := s.LocalPorts; local != nil && localType(local, pnum) != "" {
				undo = []string{"semanage", "port", "-m", "-t", localType(local, pnum), "-p", "tcp", port}
			}
		}
		cmds = append(cmds, []string{"semanage", "port", op, "-t", "http_port_t", "-p", "tcp", port})
		undos = append(undos, undo)
		why = append(why, "label the upstream port "+port+" http_port_t")
		label := "not labelled http_port_t"
		if len(portTypes) > 0 {
			label = "labelled " + strings.Join(portTypes, ", ") + ", not http_port_t"
		}
		problems = append(problems, fmt.Sprintf("port %s is %s", port, label))
		needSemanage = !exists(filepath.Join(in.Host.Layout.Root, "usr/sbin/semanage"))
	}
	if len(cmds) == 0 {
		return one(OK, fmt.Sprintf("SELinux is enforcing; httpd_can_network_connect is on and port %s is labelled http_port_t", port), "")
	}
	var fix []string
	if needSemanage {
		fix = append(fix, strings.Join(in.Host.Layout.PackageManager[:2], " ")+" "+semanagePackage)
	}
	for _, c := range cmds {
		fix = append(fix, strings.Join(c, " "))
	}
	msg := fmt.Sprintf("SELinux is enforcing and %s: %s would be denied connecting to %s (502 Bad Gateway, \"13: Permission denied\" in its error log)",
		andList(problems), server, a.Upstream)
	if !a.InstallMissing {
		return one(Block, msg, strings.Join(fix, " && ")+" — or let rpwizard do it: "+consentHint)
	}
	var fixes []Fix
	if needSemanage {
		// No undo: the tool may stay, and the undos below need it (the
		// journal runs undos in the order the changes were applied).
		install := installFix(in, "install semanage (install_missing)", semanagePackage)
		install.Keep = true
		fixes = append(fixes, install)
	}
	for i, c := range cmds {
		fixes = append(fixes, Fix{Argv: c, Undo: undos[i], Why: why[i] + " (install_missing)"})
	}
	return []Finding{{Severity: OK, Msg: "SELinux is enforcing and " + andList(problems) + ": rpwizard fixes it (install_missing)", Fixes: fixes}}
}

func localType(local map[string][]host.PortRange, p int) string {
	for t, rs := range local {
		for _, r := range rs {
			if r.Has(p) {
				return t
			}
		}
	}
	return ""
}
