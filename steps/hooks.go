package steps

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/rpwizard/rpwizard/notify"
)

// HookTimeout bounds each deploy hook.
const HookTimeout = 5 * time.Minute

// RunDeployHooks runs the site's hooks.deploy commands, in order, after a
// renewed certificate is served: no shell, no PATH lookup, the argument
// list as given, with RPWIZARD_DOMAIN, RPWIZARD_NAMES, RPWIZARD_CERT_FILE
// and RPWIZARD_KEY_FILE in a minimal environment. The program is checked
// again (root-owned, not writable by others) right before it runs. The
// first failure stops the rest and is returned; its output goes to e.Log.
func (e *Env) RunDeployHooks(ctx context.Context) error {
	cert, key := e.CertPaths()
	for i, argv := range e.Answers.Hooks.Deploy {
		if p := notify.CommandProblem(argv); p != "" {
			return fmt.Errorf("hooks.deploy[%d] not run: %s", i, p)
		}
		cctx, cancel := context.WithTimeout(ctx, HookTimeout)
		cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
			"RPWIZARD_DOMAIN=" + e.Answers.Domain, "RPWIZARD_NAMES=" + strings.Join(e.Answers.Names(), " "),
			"RPWIZARD_CERT_FILE=" + cert, "RPWIZARD_KEY_FILE=" + key}
		out, err := cmd.CombinedOutput()
		cancel()
		if len(out) > 0 {
			fmt.Fprintf(e.Log, "hooks.deploy[%d] %s:\n%s", i, argv[0], out)
		}
		if err != nil {
			return fmt.Errorf("hooks.deploy[%d] %s failed: %v: %s", i, argv[0], err, lastLine(string(out)))
		}
		fmt.Fprintf(e.Log, "hooks.deploy[%d] %s: done\n", i, argv[0])
	}
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
