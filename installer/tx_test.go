package installer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/host"
)

// fakeServer controls no real server: its pid file does not exist.
func fakeServer(root string) *Server {
	l := host.Debian(root)
	return &Server{Name: "nginx", PIDFile: l.NginxPIDFile, TestArgv: []string{"true"}, ReloadArgv: []string{"true"}}
}

func TestTxRollbackRestoresEverything(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "state")
	existing := filepath.Join(root, "etc/site.conf")
	link := filepath.Join(root, "etc/enabled/site.conf")
	os.MkdirAll(filepath.Dir(link), 0o755)
	os.WriteFile(existing, []byte("old\n"), 0o640)
	os.Symlink("../other.conf", link)

	tx, err := Begin(context.Background(), state, fakeServer(root), nil)
	if err != nil {
		t.Fatal(err)
	}
	changes := []Change{
		{Kind: WriteFile, Path: existing, Data: []byte("new\n"), Mode: 0o644},
		{Kind: Symlink, Path: link, Target: "../site.conf"},
		{Kind: WriteFile, Path: filepath.Join(root, "etc/new/dir/key.pem"), Data: []byte("secret"), Mode: 0o600},
		{Kind: Mkdir, Path: filepath.Join(root, "var/webroot"), Mode: 0o755},
	}
	for _, c := range changes {
		if err := tx.Apply(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(existing); string(b) != "new\n" {
		t.Fatalf("not written: %q", b)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "old\n" {
		t.Errorf("content not restored: %q", b)
	}
	if fi, _ := os.Stat(existing); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode not restored: %v", fi.Mode())
	}
	if l, _ := os.Readlink(link); l != "../other.conf" {
		t.Errorf("link not restored: %q", l)
	}
	for _, p := range []string{"etc/new", "var/webroot"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s created by the run is still there", p)
		}
	}
}

func TestInterruptedRunIsRestoredByTheNext(t *testing.T) {
	root := t.TempDir()
	state := filepath.Join(root, "state")
	f := filepath.Join(root, "site.conf")
	os.WriteFile(f, []byte("old"), 0o644)
	tx, err := Begin(context.Background(), state, fakeServer(root), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(context.Background(), Change{Kind: WriteFile, Path: f, Data: []byte("half"), Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	tx.release() // the process dies: no rollback, no commit

	var log []string
	tx2, err := Begin(context.Background(), state, fakeServer(root), func(s string) { log = append(log, s) })
	if err != nil {
		t.Fatal(err)
	}
	defer tx2.Commit()
	if b, _ := os.ReadFile(f); string(b) != "old" {
		t.Errorf("interrupted change not restored: %q", b)
	}
	if len(log) == 0 || !strings.Contains(log[0], "interrupted") {
		t.Errorf("recovery not reported: %v", log)
	}
}

func TestLockStopsASecondRun(t *testing.T) {
	root := t.TempDir()
	tx, err := Begin(context.Background(), root, fakeServer(root), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Commit()
	if _, err := Begin(context.Background(), root, fakeServer(root), nil); !errors.Is(err, ErrLocked) {
		t.Errorf("second Begin = %v, want ErrLocked", err)
	}
}

func TestCancelledContextStopsApply(t *testing.T) {
	root := t.TempDir()
	tx, err := Begin(context.Background(), filepath.Join(root, "s"), fakeServer(root), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := filepath.Join(root, "x")
	if err := tx.Apply(ctx, Change{Kind: WriteFile, Path: p, Data: []byte("x"), Mode: 0o644}); err == nil {
		t.Fatal("Apply ran on a cancelled context")
	}
	if _, err := os.Stat(p); err == nil {
		t.Error("file written despite the cancellation")
	}
}

func TestNoopAndDiff(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "a.conf")
	os.WriteFile(p, []byte("one\ntwo\n"), 0o644)
	same := Change{Kind: WriteFile, Path: p, Data: []byte("one\ntwo\n"), Mode: 0o644}
	if !same.Noop() {
		t.Error("identical file is not a no-op")
	}
	if (Change{Kind: WriteFile, Path: p, Data: []byte("one\ntwo\n"), Mode: 0o600}).Noop() {
		t.Error("a mode change is a no-op")
	}
	d := Change{Kind: WriteFile, Path: p, Data: []byte("one\nthree\n"), Mode: 0o644}.Diff()
	if !strings.Contains(d, "-two") || !strings.Contains(d, "+three") {
		t.Errorf("diff:\n%s", d)
	}
	if d := (Change{Kind: WriteFile, Path: p, Data: []byte("k"), Secret: true}).Diff(); strings.Contains(d, "k\n") || !strings.Contains(d, "secret") {
		t.Errorf("secret shown: %s", d)
	}
}
