package main

import (
	"bytes"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// These tests run the command line up to the point where a command would
// act: every case here is refused, or is help or the version, so none
// touches the host.

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want []string // in stderr
	}{
		// A flag of another command names the command and the flag.
		{[]string{"renew", "--server", "nginx"}, []string{"rpwizard renew: ", "flag --server does not apply to renew", "see rpwizard help renew"}},
		{[]string{"renew", "--dry-run", "--server", "nginx"}, []string{"rpwizard renew: ", "--server does not apply to renew"}},
		{[]string{"undo", "--force"}, []string{"rpwizard undo: ", "flag --force does not apply to undo", "renew"}},
		{[]string{"undo", "--dry-run", "--answers", "x.yaml"}, []string{"rpwizard undo: ", "--answers does not apply to undo"}},
		{[]string{"selftest", "--dry-run"}, []string{"rpwizard selftest: ", "--dry-run does not apply to selftest"}},
		{[]string{"apply", "--answers", "x.yaml", "--all"}, []string{"rpwizard apply: ", "--all does not apply to apply", "selftest"}},
		{[]string{"--json"}, []string{"rpwizard: ", "--json applies only with --answers FILE"}},
		{[]string{"list", "--dry-run"}, []string{"rpwizard list: ", "--dry-run does not apply to list"}},
		{[]string{"list", "extra"}, []string{`rpwizard list: unexpected argument "extra"`}},
		{[]string{"status"}, []string{"rpwizard status: ", "give the site's domain"}},
		{[]string{"status", "a.test", "--dry-run"}, []string{"rpwizard status: ", "--dry-run does not apply to status"}},
		{[]string{"remove"}, []string{"rpwizard remove: ", "give the site's domain"}},
		{[]string{"remove", "a.test", "b.test"}, []string{"rpwizard remove: ", "give the site's domain"}},
		{[]string{"remove", "a.test", "--force"}, []string{"rpwizard remove: ", "--force does not apply to remove"}},
		{[]string{"history", "--dry-run"}, []string{"rpwizard history: ", "--dry-run does not apply to history"}},
		{[]string{"undo", "a", "b"}, []string{"rpwizard undo: ", "at most one RUN-ID"}},
		{[]string{"apply", "--answers", "x.yaml", "--accessible"}, []string{"rpwizard apply: ", "--accessible does not apply to apply"}},
		{[]string{"version", "--force"}, []string{"rpwizard version: ", "--force does not apply to version"}},
		{[]string{"--answers", "x.yaml", "--force"}, []string{"rpwizard: ", "--force does not apply to rpwizard without a command", "renew"}},
		{[]string{"--server", "nginx"}, []string{"rpwizard: ", "--server does not apply", "undo"}},
		{[]string{"--answers", "x.yaml", "--accessible"}, []string{"rpwizard: ", "--accessible is for the wizard"}},
		{[]string{"--take-over"}, []string{"rpwizard: ", "--take-over applies only with --answers FILE"}},
		// Unknown flags and commands, bad values, stray arguments.
		{[]string{"renew", "--bogus"}, []string{"rpwizard renew: unknown flag --bogus; see rpwizard help renew"}},
		{[]string{"bogus"}, []string{`unknown command "bogus"`, "apply", "selftest", "renew", "undo", "version", "help"}},
		{[]string{"slftest"}, []string{`unknown command "slftest"`, "did you mean selftest?"}},
		{[]string{"help", "bogus"}, []string{`rpwizard help: no help for "bogus"`, "selftest"}},
		{[]string{"selftest", "--hold", "soon"}, []string{"rpwizard selftest: ", "--hold", `"soon"`}},
		{[]string{"selftest", "--hold"}, []string{"rpwizard selftest: flag --hold needs a value"}},
		{[]string{"renew", "now"}, []string{`rpwizard renew: unexpected argument "now"`}},
		{[]string{"renew", "--no-order"}, []string{"rpwizard renew: --no-order goes with --dry-run", "see rpwizard help renew"}},
		{[]string{"apply"}, []string{"rpwizard apply: ", "--answers FILE"}},
		{[]string{"apply", "--dry-run"}, []string{"rpwizard apply: ", "--answers FILE"}},
		// The Go flag package's single-dash long flags.
		{[]string{"-answers", "x.yaml", "-dry-run"}, []string{"-answers: long flags take two dashes: --answers"}},
		{[]string{"selftest", "-hold=0"}, []string{"-hold=0: long flags take two dashes: --hold=0"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != exitUsage {
				t.Errorf("exit status %d, want %d", code, exitUsage)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout is not empty:\n%s", stdout.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if n := strings.Count(strings.TrimSpace(stderr.String()), "\n"); n != 0 {
				t.Errorf("want one line of error, got %d:\n%s", n+1, stderr.String())
			}
		})
	}
}

func TestHelpGoesToStdout(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"Usage:", "rpwizard [command]", "apply", "selftest", "renew", "undo", "list", "status", "remove", "history", "version", "--answers FILE", "--dry-run"}},
		{[]string{"help", "remove"}, []string{"rpwizard remove DOMAIN", "--delete-certs", "--revoke", "--dry-run", "undo RUN-ID"}},
		{[]string{"help", "list"}, []string{"rpwizard list", "--json", "due when N days"}},
		{[]string{"status", "--help"}, []string{"rpwizard status DOMAIN", "--hold"}},
		{[]string{"help", "history"}, []string{"rpwizard history", "--files"}},
		{[]string{"help", "undo"}, []string{"undo [RUN-ID]", "names that run"}},
		{[]string{"--help"}, []string{"Usage:", "rpwizard [command]"}},
		{[]string{"-h"}, []string{"Usage:", "rpwizard [command]"}},
		{[]string{"help", "selftest"}, []string{"rpwizard selftest", "--hold duration", "--resolve IP", "--json"}},
		{[]string{"selftest", "--help"}, []string{"rpwizard selftest", "--hold duration"}},
		{[]string{"help", "renew"}, []string{"rpwizard renew", "--force", "--dry-run", "--no-order", "the CA is not contacted", "letsencrypt-staging", "tls.staging", "exits 1 if any test order failed"}},
		{[]string{"renew", "-h"}, []string{"rpwizard renew", "--force"}},
		{[]string{"undo", "--help"}, []string{"rpwizard undo", "--server nginx", "--dry-run"}},
		{[]string{"help", "apply"}, []string{"rpwizard apply --answers FILE", "--take-over"}},
		{[]string{"help", "help"}, []string{"rpwizard help [command]"}},
		{[]string{"help", "version"}, []string{"rpwizard version"}},
		{[]string{"completion", "--help"}, []string{"bash", "zsh", "fish"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != exitOK {
				t.Errorf("exit status %d, want 0; stderr:\n%s", code, stderr.String())
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr is not empty:\n%s", stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}

// TestEachCommandHasOnlyItsFlags pins every command's flag set: a flag
// added to the wrong command, or shared by accident, fails here.
func TestEachCommandHasOnlyItsFlags(t *testing.T) {
	want := map[string][]string{
		"rpwizard":   {"accessible", "answers", "ca-bundle", "dry-run", "help", "install-missing", "json", "take-over", "version"},
		"apply":      {"answers", "dry-run", "help", "install-missing", "json", "take-over"},
		"selftest":   {"all", "answers", "app", "ca-bundle", "domain", "help", "hold", "json", "resolve"},
		"renew":      {"answers", "dry-run", "force", "help", "json", "no-order"},
		"notify":     {"help", "test", "unit"},
		"list":       {"help", "json", "offline"},
		"status":     {"help", "hold", "json", "offline"},
		"remove":     {"delete-certs", "dry-run", "help", "json", "revoke"},
		"history":    {"files", "help", "json"},
		"undo":       {"dry-run", "help", "server"},
		"version":    {"help"},
		"help":       {"help"},
		"man":        {"help"},
		"completion": {"help"},
		"try":        {"dry-run", "help", "server"},
		"units":      {"binary", "help"},
	}
	status := 0
	root := newRootCmd(&status)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	seen := map[string]bool{}
	for _, c := range append(root.Commands(), root) {
		name := c.Name()
		seen[name] = true
		c.InitDefaultHelpFlag()
		var got []string
		c.LocalFlags().VisitAll(func(f *pflag.Flag) { got = append(got, f.Name) })
		sort.Strings(got)
		w, ok := want[name]
		if !ok {
			t.Errorf("command %s is not in this test: its flags are %v", name, got)
			continue
		}
		if strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("%s: flags %v, want %v", name, got, w)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("no command %s", name)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitOK {
			t.Fatalf("%v: exit status %d; stderr:\n%s", args, code, stderr.String())
		}
		out := stdout.String()
		for _, w := range []string{"rpwizard ", runtime.Version(), "\nlego v5."} {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", args, w, out)
			}
		}
		if strings.Contains(out, "rpwizard dev\n") {
			t.Errorf("%v: still the placeholder version:\n%s", args, out)
		}
	}
}

func TestFormatVersion(t *testing.T) {
	deps := []*debug.Module{{Path: "github.com/spf13/cobra", Version: "v1.10.2"}, {Path: legoModule, Version: "v4.35.2"}}
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name     string
		override string
		bi       *debug.BuildInfo
		first    string // the first line
		lego     string
	}{
		{"tagged module", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}, Deps: deps}, "rpwizard v1.2.0", "lego v4.35.2"},
		{"pseudo-version, dirty", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261201094045-d27287eef8bb+dirty"}, Deps: deps}, "rpwizard v0.0.0-20261201094045-d27287eef8bb+dirty", "lego v4.35.2"},
		{"revision only", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Deps: deps, Settings: vcs("d27287eef8bb095f916a946c685d0056de620704", "false")}, "rpwizard d27287eef8bb", "lego v4.35.2"},
		{"revision, dirty", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Deps: deps, Settings: vcs("d27287eef8bb095f916a946c685d0056de620704", "true")}, "rpwizard d27287eef8bb-dirty", "lego v4.35.2"},
		{"-X main.version wins", "1.3.0", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}, Deps: deps}, "rpwizard 1.3.0", "lego v4.35.2"},
		{"no VCS", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "rpwizard (devel)", "lego unknown"},
		{"no build info", "", nil, "rpwizard (devel)", "lego unknown"},
		{"lego replaced", "", &debug.BuildInfo{GoVersion: "go1.26.8", Deps: []*debug.Module{{Path: legoModule, Version: "v4.35.2", Replace: &debug.Module{Path: "../lego", Version: ""}}}}, "rpwizard (devel)", "lego v4.35.2 => ../lego"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := strings.Split(strings.TrimSuffix(formatVersion(tt.override, tt.bi), "\n"), "\n")
			if len(lines) != 3 {
				t.Fatalf("want 3 lines, got %q", lines)
			}
			if lines[0] != tt.first {
				t.Errorf("first line %q, want %q", lines[0], tt.first)
			}
			if !strings.HasPrefix(lines[1], "go1.") || !strings.Contains(lines[1], runtime.GOOS+"/"+runtime.GOARCH) {
				t.Errorf("Go line %q", lines[1])
			}
			if strings.TrimSpace(lines[2]) != tt.lego {
				t.Errorf("lego line %q, want %q", lines[2], tt.lego)
			}
		})
	}
}

func TestCheckDashes(t *testing.T) {
	status := 0
	root := newRootCmd(&status)
	tests := []struct {
		args []string
		bad  string // "" if fine
	}{
		{[]string{"--answers", "x.yaml", "--dry-run"}, ""},
		{[]string{"-h"}, ""},
		{[]string{"selftest", "--hold=0", "--resolve", "127.0.0.1"}, ""},
		{[]string{"--answers", "-odd-but-a-file.yaml"}, ""},
		{[]string{"--", "-answers"}, ""},
		{[]string{"-answers", "x.yaml"}, "-answers"},
		{[]string{"undo", "-server", "nginx"}, "-server"},
		{[]string{"selftest", "-hold=65s"}, "-hold=65s"},
		{[]string{"-version"}, "-version"},
		{[]string{"renew", "-dry-run"}, "-dry-run"},
	}
	for _, tt := range tests {
		err := checkDashes(root, tt.args)
		switch {
		case tt.bad == "" && err != nil:
			t.Errorf("%v: %v", tt.args, err)
		case tt.bad != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.bad+": long flags take two dashes: -"+tt.bad)):
			t.Errorf("%v: got %v, want the error about %s", tt.args, err, tt.bad)
		}
	}
}
