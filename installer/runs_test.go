package installer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOverlaps(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"/etc/x.conf", "/etc/x.conf", true},
		{"/etc/rpwizard/certs", "/etc/rpwizard/certs/a.test/fullchain.pem", true},
		{"/etc/rpwizard/certs/a.test/fullchain.pem", "/etc/rpwizard/certs", true},
		{"/etc/rpwizard/certs/a.test", "/etc/rpwizard/certs/a.test2", false},
		{"/etc/x.conf", "/etc/y.conf", false},
	}
	for _, tt := range tests {
		if got := overlaps(tt.a, tt.b); got != tt.want {
			t.Errorf("overlaps(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestRunSites(t *testing.T) {
	tests := []struct {
		name string
		j    journal
		want string
	}{
		{"apply", journal{Entries: []entry{{Path: "/etc/nginx/conf.d/rpwizard.conf"}, {Path: "/etc/nginx/sites-available/rpwizard-a.test.conf"}, {Path: "/etc/rpwizard/sites/a.test.yaml"}}}, "a.test"},
		{"renewal", journal{Entries: []entry{{Path: "/etc/rpwizard/certs/b.test/privkey.pem"}, {Path: "/etc/rpwizard/certs/b.test/fullchain.pem"}}}, "b.test"},
		{"wildcard", journal{Entries: []entry{{Path: "/etc/rpwizard/certs/_.c.test"}}}, "*.c.test"},
		{"two sites", journal{Entries: []entry{{Path: "/etc/rpwizard/sites/z.test.yaml"}, {Path: "/etc/apache2/sites-enabled/rpwizard-a.test.conf"}}}, "a.test z.test"},
		{"only watched", journal{Entries: []entry{{Path: "/etc/cron.d/rpwizard"}}, Sites: []Site{{Name: "d.test"}, {Name: "www.d.test", Alias: true}, {Name: "gone.test", Removed: true}}}, "d.test"},
		{"nothing", journal{}, ""},
	}
	for _, tt := range tests {
		if got := strings.Join(runSites(tt.j), " "); got != tt.want {
			t.Errorf("%s: sites %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestUndoRun: undo RUN-ID puts back one run, and refuses, touching
// nothing, an unknown id, a run a later run overlaps (naming it), a run
// whose files were changed since, and a run already undone.
func TestUndoRun(t *testing.T) {
	root := t.TempDir()
	s := fakeServer(root)
	state := filepath.Join(root, "var/lib/rpwizard")
	etc := filepath.Join(root, "etc/x")
	os.MkdirAll(etc, 0o755)
	f := func(n string) string { return filepath.Join(etc, n) }
	os.WriteFile(f("shared"), []byte("original\n"), 0o644)
	w := func(n, data string) Change {
		return Change{Kind: WriteFile, Path: f(n), Data: []byte(data), Mode: 0o644}
	}
	commitRun(t, state, s, w("a", "a\n"), w("shared", "by A\n"))
	commitRun(t, state, s, w("shared", "by B\n"))
	commitRun(t, state, s, w("c", "c\n"))
	runs := Runs(state)
	if len(runs) != 3 {
		t.Fatalf("%d runs, want 3", len(runs))
	}
	a, b, c := runs[0].ID, runs[1].ID, runs[2].ID
	if got := runs[0].Files; len(got) != 2 || got[0].Change != "created" || got[1].Change != "changed" {
		t.Errorf("run A files %+v", got)
	}
	ctx := context.Background()
	before := treeSums(t, etc, state)

	_, err := UndoRun(ctx, state, "20990101T000000.000000000Z", s, nil)
	var unknown *UnknownRunError
	if !errors.As(err, &unknown) || len(unknown.Known) != 3 || !strings.Contains(err.Error(), c) {
		t.Errorf("unknown id: %v", err)
	}
	_, err = UndoRun(ctx, state, a, s, nil)
	var conflict *RunConflictError
	if !errors.As(err, &conflict) || conflict.Later != b || !strings.Contains(err.Error(), f("shared")) {
		t.Errorf("undo of A under B: %v, want a conflict naming %s", err, b)
	}
	if _, err := PlanUndoRun(state, a, s); !errors.As(err, &conflict) {
		t.Errorf("plan of A under B: %v, want the conflict", err)
	}
	os.WriteFile(f("c"), []byte("edited by hand\n"), 0o644)
	_, err = UndoRun(ctx, state, c, s, nil)
	var changed *RunChangedError
	if !errors.As(err, &changed) || len(changed.Paths) != 1 || changed.Paths[0] != f("c") {
		t.Errorf("undo of an edited run: %v", err)
	}
	os.WriteFile(f("c"), []byte("c\n"), 0o644)
	if d := diffSums(before, treeSums(t, etc, state)); len(d) > 0 {
		t.Fatalf("refused undos changed files:\n%s", strings.Join(d, "\n"))
	}

	// C does not overlap A or B: it goes back alone.
	p, err := PlanUndoRun(state, c, s)
	if err != nil || !strings.Contains(p.RenderRun(), "would undo run "+c) || !strings.Contains(p.RenderRun(), "remove "+f("c")) {
		t.Fatalf("plan of C: %v\n%v", err, p)
	}
	if _, err := UndoRun(ctx, state, c, s, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f("c")); err == nil {
		t.Error("undo of C left its file")
	}
	if _, err := UndoRun(ctx, state, c, s, nil); !errors.As(err, new(*RunStateError)) {
		t.Errorf("second undo of C: %v", err)
	}
	// Once B is undone, A can be.
	if _, err := UndoRun(ctx, state, b, s, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := UndoRun(ctx, state, a, s, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(f("shared")); string(got) != "original\n" {
		t.Errorf("shared is %q after undoing B and A", got)
	}
	for _, r := range Runs(state) {
		if r.State != "undone" {
			t.Errorf("run %s is %s", r.ID, r.State)
		}
	}
}

func TestGeneratedWriteFile(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "key.pem")
	n := 0
	c := Change{Kind: WriteFile, Path: p, Mode: 0o600, Generate: func() ([]byte, error) { n++; return []byte("made\n"), nil }}
	if c.Noop() || !c.Touches() || !strings.Contains(c.Diff(), "made when applied") {
		t.Errorf("a generated file: noop %v, touches %v, diff %q", c.Noop(), c.Touches(), c.Diff())
	}
	if n != 0 {
		t.Fatal("planning generated the data")
	}
	commitRun(t, filepath.Join(root, "state"), fakeServer(root), c)
	if got, _ := os.ReadFile(p); string(got) != "made\n" || n != 1 {
		t.Errorf("file %q, generated %d times", got, n)
	}
}
