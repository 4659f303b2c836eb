package steps

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/answers"
	"github.com/rpwizard/rpwizard/host"
)

// fakeFiles is a stat for RenewalBinary: root-owned 0755 directories, and
// the files listed.
func fakeFiles(files map[string]BinaryInfo) func(string) BinaryInfo {
	return func(p string) BinaryInfo {
		if info, ok := files[p]; ok {
			return info
		}
		for _, d := range append(InstalledDirs, "/home/u", "/opt/rpwizard") {
			if p == d {
				return BinaryInfo{Exists: true, Mode: fs.ModeDir | 0o755}
			}
		}
		return BinaryInfo{}
	}
}

func TestRenewalBinaryNeverABuildOrHomeDirectory(t *testing.T) {
	rootExe := BinaryInfo{Exists: true, Mode: 0o755}
	files := map[string]BinaryInfo{
		"/usr/bin/rpwizard":                  rootExe,
		"/usr/local/bin/rpwizard":            rootExe,
		"/usr/local/sbin/rpwizard":           {Exists: true, UID: 1000, Mode: 0o755},
		"/usr/sbin/rpwizard":                 {Exists: true, Mode: 0o775},
		"/usr/local/bin/notexec":             {Exists: true, Mode: 0o644},
		"/tmp/go-build123/b001/exe/rpwizard": rootExe,
		"/home/u/rpwizard":                   {Exists: true, UID: 1000, Mode: 0o755},
		"/root/go/bin/rpwizard":              rootExe,
		"/opt/rpwizard/rpwizard":             rootExe,
	}
	tests := []struct {
		exe, want, refusal string
	}{
		{"/usr/bin/rpwizard", "/usr/bin/rpwizard", ""},
		{"/usr/local/bin/rpwizard", "/usr/local/bin/rpwizard", ""},
		{"/usr/local/bin/../bin/rpwizard", "/usr/local/bin/rpwizard", ""},
		{"/tmp/go-build123/b001/exe/rpwizard", "", "temporary build directory"},
		{"/home/u/rpwizard", "", "home directory"},
		{"/root/go/bin/rpwizard", "", "home directory"},
		{"/opt/rpwizard/rpwizard", "", "not in /usr/bin"},
		{"/usr/local/sbin/rpwizard", "", "not owned by root"},
		{"/usr/sbin/rpwizard", "", "may be written by others than root (mode 0775)"},
		{"/usr/local/bin/notexec", "", "not an executable file"},
		{"/usr/bin/gone", "", "/usr/bin/gone does not exist"},
	}
	for _, tt := range tests {
		got, err := RenewalBinary(tt.exe, fakeFiles(files))
		if tt.refusal == "" {
			if err != nil || got != tt.want {
				t.Errorf("RenewalBinary(%s) = %q, %v; want %q", tt.exe, got, err, tt.want)
			}
			continue
		}
		var r *RefusedError
		if !errors.As(err, &r) {
			t.Errorf("RenewalBinary(%s) = %q, %v; want a refusal", tt.exe, got, err)
			continue
		}
		if got != "" || !strings.Contains(r.Msg, tt.refusal) {
			t.Errorf("RenewalBinary(%s): %q, %q; want the reason %q", tt.exe, got, r.Msg, tt.refusal)
		}
		for _, fix := range []string{"install the package", "/usr/local/bin/rpwizard", "sudo install -o root -g root -m 0755 " + tt.exe} {
			if !strings.Contains(r.Fix, fix) {
				t.Errorf("RenewalBinary(%s): fix %q does not say %q", tt.exe, r.Fix, fix)
			}
		}
	}
}

// TestPlanRenewalRefusesATestBinary: this test runs from go test's build
// directory, so an ACME site's renewal step refuses to name it, unless the
// tests' variable names the binary; a self-signed site needs no renewal.
func TestPlanRenewalRefusesATestBinary(t *testing.T) {
	t.Setenv(RenewalBinaryEnv, "")
	os.Unsetenv(RenewalBinaryEnv)
	exe, _ := os.Executable()
	if installedProblem(exe, StatBinary) == "" {
		t.Skipf("the test binary %s counts as installed", exe)
	}
	e := &Env{Answers: &answers.Answers{TLS: answers.TLS{Mode: "acme"}}, Host: &host.Host{Layout: host.Debian(t.TempDir()), Systemd: true}}
	var r *RefusedError
	if _, err := planRenewal(context.Background(), e); !errors.As(err, &r) {
		t.Fatalf("planRenewal from %s: %v, want a refusal", exe, err)
	}
	t.Setenv(RenewalBinaryEnv, "/opt/test/rpwizard")
	changes, err := planRenewal(context.Background(), e)
	if err != nil || len(changes) == 0 || !strings.Contains(string(changes[0].Data), "ExecStart=/opt/test/rpwizard renew") {
		t.Fatalf("planRenewal with %s set: %v, %v", RenewalBinaryEnv, changes, err)
	}
	e.Answers.TLS.Mode = "self-signed"
	if changes, err := planRenewal(context.Background(), e); err != nil || changes != nil {
		t.Fatalf("self-signed: %v, %v; want no renewal", changes, err)
	}
}

func TestPackageUnitsNameTheGivenBinary(t *testing.T) {
	units, err := PackageUnits("/usr/bin/rpwizard")
	if err != nil {
		t.Fatal(err)
	}
	names := UnitNames(units)
	if len(names) < 2 || units["rpwizard-renew.service"] == nil || units["rpwizard-renew.timer"] == nil {
		t.Fatalf("units %v: want rpwizard-renew.service and .timer", names)
	}
	if s := string(units["rpwizard-renew.service"]); !strings.Contains(s, "ExecStart=/usr/bin/rpwizard renew\n") {
		t.Errorf("service does not run /usr/bin/rpwizard renew:\n%s", s)
	}
	for n, data := range units {
		if strings.Contains(string(data), os.TempDir()) {
			t.Errorf("%s names the temporary root:\n%s", n, data)
		}
	}
}
