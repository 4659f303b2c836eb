package installer

import (
	"context"
	"errors"
	"fmt"
	"github.com/rpwizard/rpwizard/host"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// commitRun applies changes in one committed transaction under state.
func commitRun(t *testing.T, state string, s *Server, changes ...Change) {
	t.Helper()
	tx, err := Begin(context.Background(), state, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if err := tx.Apply(context.Background(), c); err != nil {
			tx.Rollback()
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func diffSums(a, b map[string]string) []string {
	var d []string
	for p, v := range a {
		if b[p] != v {
			d = append(d, fmt.Sprintf("%s: %q -> %q", p, v, b[p]))
		}
	}
	for p, v := range b {
		if _, ok := a[p]; !ok {
			d = append(d, fmt.Sprintf("%s: new %q", p, v))
		}
	}
	sort.Strings(d)
	return d
}

func TestPlanUndoShowsTheLastRunAndChangesNothing(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "state")
	etc := filepath.Join(root, "etc")
	conf := filepath.Join(etc, "site.conf")
	link := filepath.Join(etc, "enabled", "site.conf")
	key := filepath.Join(etc, "ssl", "key.pem")
	os.MkdirAll(filepath.Dir(link), 0o755)
	os.MkdirAll(filepath.Dir(key), 0o700)
	os.WriteFile(conf, []byte("listen 80;\nserver_name old;\n"), 0o644)
	os.Symlink("../other.conf", link)
	os.WriteFile(key, []byte("-----BEGIN PRIVATE KEY-----\nold\n-----END PRIVATE KEY-----\n"), 0o600)
	s := fakeServer(root)

	// An earlier run, then the last one.
	commitRun(t, state, s, Change{Kind: WriteFile, Path: filepath.Join(etc, "first.conf"), Data: []byte("first\n"), Mode: 0o644})
	commitRun(t, state, s,
		Change{Kind: WriteFile, Path: conf, Data: []byte("listen 443 ssl;\nserver_name new;\n"), Mode: 0o644},
		Change{Kind: Symlink, Path: link, Target: "../site.conf"},
		Change{Kind: WriteFile, Path: key, Data: []byte("-----BEGIN PRIVATE KEY-----\nnew\n-----END PRIVATE KEY-----\n"), Mode: 0o600, Secret: true},
		Change{Kind: WriteFile, Path: filepath.Join(etc, "new", "added.conf"), Data: []byte("added line\n"), Mode: 0o644},
		Change{Kind: Run, Argv: []string{"true"}, Undo: []string{"echo", "undo-it"}},
	)
	// No run holds the lock now, and a dry run must not make one.
	os.Remove(filepath.Join(state, "lock"))
	before := treeSums(t, root)

	p, err := PlanUndo(state, s)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffSums(before, treeSums(t, root)); len(d) > 0 {
		t.Fatalf("PlanUndo changed the host:\n%s", strings.Join(d, "\n"))
	}
	out := p.Render()
	want := []string{
		"would undo the last run of nginx: " + p.Run.ID,
		"run echo undo-it",
		"restore " + conf + " (0644) from its backup",
		"-listen 443 ssl;", "+listen 80;", "-server_name new;", "+server_name old;",
		"link " + link + " -> ../other.conf again (now -> ../site.conf)",
		"restore " + key + " (0600) from its backup (secret: not shown)",
		"remove the directory " + filepath.Join(etc, "new") + " and all in it (the run created it)",
		"no reload: nginx is not running",
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("plan lacks %q:\n%s", w, out)
		}
	}
	for _, secret := range []string{"new\n-----END", "old\n-----END", "first.conf"} {
		if strings.Contains(out, secret) {
			t.Errorf("plan shows %q:\n%s", secret, out)
		}
	}
	if len(p.Interrupted) != 0 {
		t.Errorf("interrupted runs: %+v", p.Interrupted)
	}

	// The plan is what Undo then does.
	dir, err := Undo(context.Background(), state, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if dir != p.Run.Dir {
		t.Errorf("Undo restored %s, the plan said %s", dir, p.Run.Dir)
	}
	if b, _ := os.ReadFile(conf); string(b) != "listen 80;\nserver_name old;\n" {
		t.Errorf("not restored: %q", b)
	}
	if _, err := os.Stat(filepath.Join(etc, "new")); err == nil {
		t.Error("the created directory is still there")
	}
}

func TestPlanUndoOfACreatedFileShowsItsRemoval(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "state")
	f := filepath.Join(root, "created.conf")
	s := fakeServer(root)
	commitRun(t, state, s, Change{Kind: WriteFile, Path: f, Data: []byte("made by the run\n"), Mode: 0o644})
	p, err := PlanUndo(state, s)
	if err != nil {
		t.Fatal(err)
	}
	out := p.Render()
	for _, w := range []string{"remove " + f + " (the run created it)", "-made by the run", "+++ /dev/null"} {
		if !strings.Contains(out, w) {
			t.Errorf("plan lacks %q:\n%s", w, out)
		}
	}
}

func TestPlanUndoRefusesAsUndoWould(t *testing.T) {
	t.Run("no run", func(t *testing.T) {
		root := t.TempDir()
		if _, err := PlanUndo(filepath.Join(root, "state"), fakeServer(root)); err == nil || !strings.Contains(err.Error(), "no run to undo") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("another server's run", func(t *testing.T) {
		root := t.TempDir()
		state := filepath.Join(root, "state")
		commitRun(t, state, fakeServer(root), Change{Kind: WriteFile, Path: filepath.Join(root, "x"), Data: []byte("x"), Mode: 0o644})
		apache := &Server{Name: "apache", PIDFile: host.Debian(root).ApachePIDFile}
		if _, err := PlanUndo(state, apache); err == nil || !strings.Contains(err.Error(), "changed nginx, not apache") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("locked", func(t *testing.T) {
		root := t.TempDir()
		state := filepath.Join(root, "state")
		commitRun(t, state, fakeServer(root), Change{Kind: WriteFile, Path: filepath.Join(root, "x"), Data: []byte("x"), Mode: 0o644})
		tx, err := Begin(context.Background(), state, fakeServer(root), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Commit()
		if _, err := PlanUndo(state, fakeServer(root)); !errors.Is(err, ErrLocked) {
			t.Errorf("err = %v, want ErrLocked", err)
		}
	})
}

func TestPlanUndoNamesAnInterruptedRun(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "state")
	s := fakeServer(root)
	commitRun(t, state, s, Change{Kind: WriteFile, Path: filepath.Join(root, "a.conf"), Data: []byte("a\n"), Mode: 0o644})
	half := filepath.Join(root, "half.conf")
	tx, err := Begin(context.Background(), state, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(context.Background(), Change{Kind: WriteFile, Path: half, Data: []byte("half\n"), Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	tx.release() // killed half-way
	before := treeSums(t, root)
	p, err := PlanUndo(state, s)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffSums(before, treeSums(t, root)); len(d) > 0 {
		t.Fatalf("PlanUndo changed the host:\n%s", strings.Join(d, "\n"))
	}
	out := p.Render()
	for _, w := range []string{"an earlier run was interrupted (" + tx.journal.ID + ")", "remove " + half, "would undo the last run of nginx"} {
		if !strings.Contains(out, w) {
			t.Errorf("plan lacks %q:\n%s", w, out)
		}
	}
}

func TestFileDiffHidesSecretsAndBinaries(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string, mode fs.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(data), mode)
		os.Chmod(p, mode)
		return p
	}
	tests := []struct {
		name       string
		cur        string
		curMode    fs.FileMode
		backup     string
		backupMode fs.FileMode
		note       string
	}{
		{"root-only now", "a\n", 0o600, "b\n", 0o644, "(secret: not shown)"},
		{"root-only before", "a\n", 0o644, "b\n", 0o600, "(secret: not shown)"},
		{"a key in a world-readable file", "-----BEGIN EC PRIVATE KEY-----\n", 0o644, "b\n", 0o644, "(secret: not shown)"},
		{"binary", "a\x00b", 0o644, "b\n", 0o644, "(binary: no diff shown)"},
		{"too big", strings.Repeat("x", maxDiffSize+1), 0o644, "b\n", 0o644, "(larger than 1 MiB: no diff shown)"},
		{"same", "same\n", 0o644, "same\n", 0o644, "(its content is already the backup's)"},
		{"text", "now\n", 0o644, "before\n", 0o644, ""},
	}
	for i, tt := range tests {
		cur := write(fmt.Sprintf("cur%d", i), tt.cur, tt.curMode)
		backup := write(fmt.Sprintf("bak%d", i), tt.backup, 0o600)
		d, note := fileDiff(cur, tt.curMode, backup, tt.backupMode, true)
		if note != tt.note {
			t.Errorf("%s: note %q, want %q", tt.name, note, tt.note)
		}
		if tt.note != "" && d != "" {
			t.Errorf("%s: diff shown:\n%s", tt.name, d)
		}
		if tt.note == "" && (!strings.Contains(d, "-now") || !strings.Contains(d, "+before")) {
			t.Errorf("%s: diff:\n%s", tt.name, d)
		}
	}
}

// treeSums: see host.TreeSums.
func treeSums(t *testing.T, dirs ...string) map[string]string {
	t.Helper()
	return host.TreeSums(dirs...)
}
