package wizard_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpwizard/rpwizard/internal/testenv"
)

// runPiped runs `rpwizard --accessible` with answers piped on standard
// input, one per line, and keeps the transcript as an artifact.
func runPiped(t *testing.T, lines ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "--accessible")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	os.WriteFile(filepath.Join(artifacts(t), "transcript.txt"), out.Bytes(), 0o644)
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	case err != nil:
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	return 0, out.String()
}

// pipedAnswers are the answers of answerQuestions, as numbers and text.
func pipedAnswers(upstream string) []string {
	return []string{
		"4",            // app: another web app
		"1",            // server: nginx
		"wiz..test",    // domain: refused
		"wiz.test",     // domain
		"www.wiz.test", // other names
		upstream,       // upstream
		"",             // base path: keep /
		"1",            // restrictions: none
		"3",            // certificate: self-signed
	}
}

// TestAccessiblePipedApplies answers through --accessible with piped
// input, applies on the real nginx, and finds the site serving HTTPS.
func TestAccessiblePipedApplies(t *testing.T) {
	ownHost(t)
	b := backend(t)
	code, out := runPiped(t, append(pipedAnswers(b.Addr),
		"1", // review: apply
		"y", // save the answers
		"",  // at /etc/rpwizard/answers.yaml
	)...)
	if code != 0 {
		t.Fatalf("exit status %d:\n%s", code, out)
	}
	for _, want := range []string{"not a valid DNS name", "== Review the plan", "done: site config", "is served at https://wiz.test/ by nginx", "Saved to /etc/rpwizard/answers.yaml"} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Error("escape codes in the accessible transcript")
	}
	// Piped answers are echoed after their prompts; errors start a line.
	for _, want := range []string{"between 1 and 4: 4\n", "Domain name wiz..test\nnot a valid DNS name", "Domain name wiz.test\n",
		"Other names (optional) www.wiz.test\n", "(host:port) " + b.Addr + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks the echoed %q", want)
		}
	}
	// The self-test once, one line per check: no table header.
	if strings.Count(out, "PASS: ") < 3 || strings.Contains(out, "CHECK") {
		t.Errorf("the self-test is not listed line by line, or a table is printed too")
	}
	checkSaved(t, "/etc/rpwizard/answers.yaml", "wiz.test")
	checkServed(t, "wiz.test", "www.wiz.test")
}

// TestAccessiblePipedQuit answers everything, quits at the review, and
// /etc is unchanged.
func TestAccessiblePipedQuit(t *testing.T) {
	ownHost(t)
	b := backend(t)
	before := treeHash(t)
	code, out := runPiped(t, append(pipedAnswers(b.Addr), "3")...) // review: quit
	if code != 0 || !strings.Contains(out, "Nothing was changed") {
		t.Fatalf("exit status %d:\n%s", code, out)
	}
	if after := treeHash(t); after != before {
		t.Error("/etc changed although the user quit at the review")
	}
}

// TestNotRootSaysSudo: without root, the wizard asks nothing and names
// the sudo command (and the dry run); with --dry-run it asks, shows the
// plan and cannot apply.
func TestNotRootSaysSudo(t *testing.T) {
	if !testenv.Integration() {
		t.Skip("builds the binary: set RPWIZARD_INTEGRATION=1")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the binary as another user")
	}
	dir, err := os.MkdirTemp("", "rpwizard-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "rpwizard")
	data, err := os.ReadFile(binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(stdin string, args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	code, out := run("4\n")
	if code != 2 || !strings.Contains(out, "needs root") || !strings.Contains(out, "sudo "+bin) || !strings.Contains(out, "--dry-run") || strings.Contains(out, "Which app") {
		t.Errorf("without root: status %d:\n%s", code, out)
	}
	code, out = run("4\n1\nwiz.test\n\n127.0.0.1:9\n\n1\n3\n2\n", "--dry-run") // review: 2 is "quit" (no "apply")
	if code != 0 || !strings.Contains(out, "Dry run: nothing is applied") || strings.Contains(out, "Apply the plan") {
		t.Errorf("dry run: status %d:\n%s", code, out)
	}
}
