package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/selftest"
	"github.com/rpwizard/rpwizard/steps"
)

// allHold is the idle-WebSocket hold of `selftest --all` unless --hold is
// given: short, so that a monitoring check of many sites stays quick. The
// full hold, which proves the proxy's idle timeouts were raised past the
// servers' default 60 s, is --hold 65s.
const allHold = 5 * time.Second

// runSelfTestAll is `rpwizard selftest --all`: the self-test of every site
// rpwizard manages (their answers are kept in /etc/rpwizard/sites/), one
// after the other (they share the probe socket). It prints one line per
// site, or with --json one object (selftest.WriteAllJSON), and exits with
// the worst verdict: 130 stopped > 1 proxy fault > 2 a site's saved answers
// do not load > 3 app down > 0.
func runSelfTestAll(ctx context.Context, o options, stdout, stderr io.Writer) int {
	if o.answersFile != "" || o.domain != "" {
		fmt.Fprintln(stderr, "rpwizard selftest: --all tests every site rpwizard manages; give either --all or --answers FILE / --domain NAME")
		return exitUsage
	}
	h, err := host.Detect(ctx, "/")
	if err != nil {
		return fail(stderr, err)
	}
	hold := allHold
	if o.holdSet {
		hold = o.hold
	}
	files, err := filepath.Glob(filepath.Join(h.Layout.ConfigDir, "sites", "*.yaml"))
	if err != nil {
		return fail(stderr, fmt.Errorf("list the sites in %s: %w", h.Layout.ConfigDir, err))
	}
	var results []selftest.Result
	for _, f := range files {
		res, ok := selfTestSite(ctx, h, f, hold, o)
		if !ok {
			continue
		}
		results = append(results, res)
		storeResult(stderr, h.Layout.StateDir, res)
	}
	if o.jsonOut {
		if err := selftest.WriteAllJSON(stdout, time.Now(), results); err != nil {
			fmt.Fprintln(stderr, "rpwizard:", err)
			return exitFailed
		}
	} else if len(results) == 0 {
		fmt.Fprintln(stdout, "no sites set up by rpwizard on this host")
	} else if err := selftest.WriteAllText(stdout, results); err != nil {
		fmt.Fprintln(stderr, "rpwizard:", err)
		return exitFailed
	}
	return selftest.WorstOf(results).ExitCode()
}

// selfTestSite tests the site whose saved answers are in file. ok is false
// when the file went away meanwhile. A file that does not load is a result
// with Err set (exit status 2 for that site); a run stopped before this
// site is an interrupted result without checks.
func selfTestSite(ctx context.Context, h *host.Host, file string, hold time.Duration, o options) (res selftest.Result, ok bool) {
	name := strings.TrimSuffix(filepath.Base(file), ".yaml")
	res = selftest.Result{Domain: name, Time: time.Now(), Source: selftest.SourceAll}
	if ctx.Err() != nil {
		res.Report = selftest.Report{Target: name, Interrupted: true}
		return res, true
	}
	a, err := answers.Load(file, h.Installed)
	if errors.Is(err, fs.ErrNotExist) {
		return res, false
	}
	if err != nil {
		res.Err = fmt.Sprintf("its saved answers %s do not load (%v); fix them, or apply the site again with rpwizard --answers FILE", file, err)
		return res, true
	}
	t := steps.NewEnv(a, h).SelfTestTarget(hold)
	t.Connect = o.resolve // "" tests the name as the world resolves it
	if o.caBundle != "" {
		t.CABundle = o.caBundle
	}
	res.Domain = a.Domain
	res.Report = selftest.Run(ctx, t)
	return res, true
}

// storeResult keeps res for later commands; failing to is a warning, never
// a change of the verdict.
func storeResult(stderr io.Writer, stateDir string, res selftest.Result) {
	if stateDir == "" {
		return
	}
	if err := selftest.SaveResult(stateDir, res); err != nil {
		fmt.Fprintf(stderr, "rpwizard: warning: %v (the self-test's verdict stands)\n", err)
	}
}

// hostStateDir is this host's state directory, or "" when the platform is
// not recognised (the result is then not stored).
func hostStateDir() string {
	osr, err := host.ReadOSRelease("/")
	if err != nil {
		return ""
	}
	l, err := host.LayoutFor(osr, "/")
	if err != nil {
		return ""
	}
	return l.StateDir
}
