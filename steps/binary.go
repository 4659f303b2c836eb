package steps

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
)

// The renewal timer or cron entry runs rpwizard as root twice a day, for
// years. It must name a binary that stays where it is and that only root
// can replace: one installed by the package (/usr/bin/rpwizard) or by the
// admin (/usr/local/bin/rpwizard), never the copy in a build directory, a
// home directory or /tmp that happened to run the apply. rpwizard does
// not copy itself anywhere: it refuses, and says how to install it.

// InstalledDirs are the directories from which the renewal entry may run
// rpwizard.
var InstalledDirs = []string{"/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"}

// RenewalBinaryEnv names, for tests only, the binary the renewal entry
// runs; the rule is then not applied. The integration tests set it to the
// binary they built in a temporary directory. Nothing else should.
const RenewalBinaryEnv = "RPWIZARD_TEST_RENEWAL_BINARY"

// BinaryInfo is what the rule needs to know of a file: whether it exists,
// its owner and its mode.
type BinaryInfo struct {
	Exists bool
	UID    int
	Mode   fs.FileMode
}

// StatBinary looks at path on this host (following links: a link is as
// trustworthy as what it points at, which is checked too).
func StatBinary(path string) BinaryInfo {
	fi, err := os.Stat(path)
	if err != nil {
		return BinaryInfo{}
	}
	info := BinaryInfo{Exists: true, Mode: fi.Mode()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		info.UID = int(st.Uid)
	} else {
		info.UID = -1
	}
	return info
}

// ErrNotInstalled: the running rpwizard is not installed where a renewal
// entry may run it.
var ErrNotInstalled = errors.New("rpwizard is not installed")

// RenewalBinary picks the binary the renewal entry runs, for the running
// executable exe (os.Executable, links resolved). exe itself when it is
// installed (in one of InstalledDirs, a regular executable file owned by
// root that no one else may write); else it refuses with a
// *RefusedError that says how to install rpwizard. stat looks at a path
// (StatBinary on a real host).
func RenewalBinary(exe string, stat func(string) BinaryInfo) (string, error) {
	exe = filepath.Clean(exe)
	problem := installedProblem(exe, stat)
	if problem == "" {
		return exe, nil
	}
	return "", &RefusedError{
		Check: "installed binary",
		Msg: fmt.Sprintf("the renewal timer or cron entry would run %s as root twice a day, but %s: %v, so it may move, vanish or be replaced by a non-root user",
			exe, problem, ErrNotInstalled),
		Fix: fmt.Sprintf("install the package (rpwizard_VERSION_ARCH.deb or .rpm, which puts it at /usr/bin/rpwizard), "+
			"or copy this binary: sudo install -o root -g root -m 0755 %s /usr/local/bin/rpwizard; then run /usr/local/bin/rpwizard again", exe),
	}
}

// installedProblem says why exe is not an installed binary, or "".
func installedProblem(exe string, stat func(string) BinaryInfo) string {
	dir := filepath.Dir(exe)
	ok := false
	for _, d := range InstalledDirs {
		if dir == d {
			ok = true
		}
	}
	if !ok {
		where := "it is not in " + strings.Join(InstalledDirs, ", ")
		switch {
		case strings.HasPrefix(exe, "/tmp/") || strings.HasPrefix(exe, "/var/tmp/") || strings.Contains(exe, "/go-build"):
			where = "it is in a temporary build directory"
		case strings.HasPrefix(exe, "/home/") || strings.HasPrefix(exe, "/root/"):
			where = "it is in a home directory"
		}
		return where
	}
	for _, p := range []string{exe, dir} {
		info := stat(p)
		switch {
		case !info.Exists:
			return p + " does not exist"
		case info.UID != 0:
			return p + " is not owned by root"
		case info.Mode.Perm()&0o022 != 0:
			return fmt.Sprintf("%s may be written by others than root (mode %04o)", p, info.Mode.Perm())
		}
	}
	if info := stat(exe); !info.Mode.IsRegular() || info.Mode.Perm()&0o100 == 0 {
		return exe + " is not an executable file"
	}
	return ""
}

// renewalBinaryKey carries, in a context, the binary PackageUnits writes
// into the units.
type renewalBinaryKey struct{}

// renewalBinary is the binary the renewal entry of e runs (planRenewal
// calls it): the one PackageUnits asks for, else the one the tests name in
// RenewalBinaryEnv, else the running executable if it is installed.
func renewalBinary(ctx context.Context, e *Env) (string, error) {
	if bin, ok := ctx.Value(renewalBinaryKey{}).(string); ok {
		return bin, nil
	}
	if bin := os.Getenv(RenewalBinaryEnv); bin != "" {
		if !filepath.IsAbs(bin) {
			return "", fmt.Errorf("%s=%q: not an absolute path", RenewalBinaryEnv, bin)
		}
		return bin, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the rpwizard binary: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return RenewalBinary(exe, StatBinary)
}

// PackageUnits are the renewal units an apply writes on a systemd host,
// for the rpwizard at bin (the packages ship them naming /usr/bin/rpwizard,
// see scripts/package): file name → content. They come from planRenewal
// itself, so the package's units and the ones an apply writes cannot
// drift apart.
func PackageUnits(bin string) (map[string][]byte, error) {
	root, err := os.MkdirTemp("", "rpwizard-units-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	// An empty fake root: nothing there matches yet, so every unit is
	// planned (planRenewal plans nothing for units already in place).
	e := &Env{
		Answers: &answers.Answers{TLS: answers.TLS{Mode: "acme"}},
		Host:    &host.Host{Layout: host.Debian(root), Systemd: true},
	}
	ctx := context.WithValue(context.Background(), renewalBinaryKey{}, bin)
	changes, err := planRenewal(ctx, e)
	if err != nil {
		return nil, err
	}
	units := map[string][]byte{}
	for _, c := range changes {
		if c.Kind == installer.WriteFile && filepath.Dir(c.Path) == e.Host.Layout.SystemdUnitDir {
			units[filepath.Base(c.Path)] = c.Data
		}
	}
	if len(units) == 0 {
		return nil, errors.New("the renewal step planned no systemd unit")
	}
	return units, nil
}

// UnitNames lists the keys of units, sorted.
func UnitNames(units map[string][]byte) []string {
	var names []string
	for n := range units {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
