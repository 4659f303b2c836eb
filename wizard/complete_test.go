package wizard

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// completionTree makes a directory to complete in:
//
//	certs/site.pem certs/site.key certs/site-old.pem certs/other.crt
//	certs/.hidden.pem certs/private/ certs/link -> private
//	many/ with 300 files, huge/ with 5000
func completionTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	certs := filepath.Join(root, "certs")
	for _, d := range []string{filepath.Join(certs, "private"), filepath.Join(root, "many"), filepath.Join(root, "huge")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"site.pem", "site.key", "site-old.pem", "other.crt", ".hidden.pem", "private/site.key", "säte.pem", "säule.pem"} {
		if err := os.WriteFile(filepath.Join(certs, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("private", filepath.Join(certs, "link")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		os.WriteFile(filepath.Join(root, "many", fmt.Sprintf("f%03d.pem", i)), nil, 0o644)
	}
	for i := 0; i < 5000; i++ {
		os.WriteFile(filepath.Join(root, "huge", fmt.Sprintf("g%04d", i)), nil, 0o644)
	}
	return root
}

// Tab completes a path as a shell does: the names of its directory that
// begin with the last element, directories with a slash, the part they
// share first; hidden names only for a dot; never more than completeMax
// names, however big the directory.
func TestCompletePath(t *testing.T) {
	root := completionTree(t)
	c := root + "/certs/"
	for _, tc := range []struct {
		typed string
		want  []string // nil: none
	}{
		{"", nil},
		{"certs/site", nil}, // relative: the answers want an absolute path
		{c + "si", []string{c + "site", c + "site-old.pem", c + "site.key", c + "site.pem"}}, // the shared part first, as tab does
		{c + "site", []string{c + "site-old.pem", c + "site.key", c + "site.pem"}},
		{c + "site.", []string{c + "site.key", c + "site.pem"}},
		{c + "site.p", []string{c + "site.pem"}},
		{c + "site.pem", []string{c + "site.pem"}},
		{c + "o", []string{c + "other.crt"}},
		{c + "p", []string{c + "private/"}},
		{c + "li", []string{c + "link/"}}, // a link to a directory is one
		{c + "private/", []string{c + "private/site.key"}},
		{c + ".", []string{c + ".hidden.pem"}},
		{c + "x", []string{}},
		{c + "s\u00e4", []string{c + "s\u00e4te.pem", c + "s\u00e4ule.pem"}},
		{root + "/nowhere/x", nil},
		{c + "site.pem/x", nil}, // a file is no directory
	} {
		t.Run(strings.TrimPrefix(tc.typed, root), func(t *testing.T) {
			got, _ := completePath(t.Context(), tc.typed)
			if tc.want == nil {
				if len(got) != 0 {
					t.Errorf("got %q, want none", got)
				}
				return
			}
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	t.Run("listing without a prefix hides dot files", func(t *testing.T) {
		got, _ := completePath(t.Context(), c)
		for _, g := range got {
			if strings.Contains(g, ".hidden") {
				t.Errorf("a hidden name is offered: %q", got)
			}
		}
		if len(got) != 8 {
			t.Errorf("got %d names, want the 8 visible ones: %q", len(got), got)
		}
	})
	for _, dir := range []string{"many", "huge"} {
		t.Run("bounded in "+dir, func(t *testing.T) {
			start := time.Now()
			got, err := completePath(t.Context(), root+"/"+dir+"/")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) > completeMax+1 || len(got) < completeMax {
				t.Errorf("%d completions, want %d (and the shared part)", len(got), completeMax)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if got, err := completePath(ctx, root+"/huge/g"); err == nil || len(got) != 0 {
			t.Errorf("a cancelled completion gave %d names, %v", len(got), err)
		}
	})
}

func TestCommonPrefix(t *testing.T) {
	for _, c := range []struct {
		list []string
		want string
	}{
		{[]string{"/a/site.pem", "/a/site.key"}, "/a/site."},
		{[]string{"/a/x"}, "/a/x"},
		{[]string{"/a/s\u00e4te", "/a/s\u00e5le"}, "/a/s"}, // ä and å share their first byte
	} {
		if got := commonPrefix(c.list); got != c.want {
			t.Errorf("commonPrefix(%q) = %q, want %q", c.list, got, c.want)
		}
	}
}

// In the wizard, tab on the certificate field completes what is typed
// (and does not leave the field); enter then goes on. The directory is
// read in the background.
func TestModelTabCompletesPath(t *testing.T) {
	root := completionTree(t)
	b := newFakeBackend(t)
	m, p := startModel(t, b, nil)
	for _, k := range [][]string{
		{"enter"}, {"end", "enter"}, {"home", "enter"}, {"wiz.test", "enter", "enter"},
		{"127.0.0.1:9", "enter"}, {"enter"}, {"home", "enter"}, {"home", "down", "enter"},
	} {
		p.keys(k...)
	}
	onPage(t, m, p, "existing")
	p.keys(root + "/ce")
	p.until("the completion", 5*time.Second, func() bool { return strings.Contains(plain(m.render()), "tab complete") })
	p.keys("tab")
	if m.s.CertFile != root+"/certs/" {
		t.Fatalf("tab completed %q to %q, want the directory", root+"/ce", m.s.CertFile)
	}
	p.keys("si")
	p.until("the completion in certs/", 5*time.Second, func() bool { return strings.Contains(plain(m.render()), "tab complete") })
	p.keys("tab") // the part site, site-old.pem, site.key and site.pem share
	if m.s.CertFile != root+"/certs/site" {
		t.Fatalf("tab completed to %q, want …/certs/site", m.s.CertFile)
	}
	p.keys(".p")
	p.until("the one completion", 5*time.Second, func() bool { return strings.Contains(plain(m.render()), "tab complete") })
	keepScreen(t, "completion", m.render())
	fits(t, m.render(), 80, 24)
	p.keys("tab")
	if m.s.CertFile != root+"/certs/site.pem" || !focused(m, "Certificate file") {
		t.Fatalf("after tab: %q, focus elsewhere:\n%s", m.s.CertFile, plain(m.render()))
	}
	p.keys("tab") // nothing left to complete: tab stays in the field
	if !focused(m, "Certificate file") {
		t.Errorf("tab with nothing to complete left the field:\n%s", plain(m.render()))
	}
}

// focused reports whether the focused field of the page is titled title.
func focused(m *model, title string) bool {
	for _, l := range strings.Split(plain(m.form.View()), "\n") {
		if strings.Contains(l, title) {
			return strings.HasPrefix(strings.TrimSpace(l), "┃")
		}
	}
	return false
}

// A tab pressed before the directory is read completes once it is: a
// fast typist's tab is not lost.
func TestModelEarlyTab(t *testing.T) {
	root := completionTree(t)
	b := newFakeBackend(t)
	m, p := startModel(t, b, nil)
	for _, k := range [][]string{
		{"enter"}, {"end", "enter"}, {"home", "enter"}, {"wiz.test", "enter", "enter"},
		{"127.0.0.1:9", "enter"}, {"enter"}, {"home", "enter"}, {"home", "down", "enter"},
	} {
		p.keys(k...)
	}
	onPage(t, m, p, "existing")
	// Typed and tabbed in one go, before any completion arrives.
	for _, r := range root + "/certs/o" {
		p.handle(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	p.handle(namedKeys["tab"])
	p.until("the held tab", 5*time.Second, func() bool { return m.s.CertFile == root+"/certs/other.crt" })
	if !focused(m, "Certificate file") {
		t.Errorf("the tab left the field:\n%s", plain(m.render()))
	}
}

// The help line of a path field names each key once, as on other pages.
func TestPathFieldHelpLine(t *testing.T) {
	b := newFakeBackend(t)
	m, p := startModel(t, b, nil)
	for _, k := range [][]string{
		{"enter"}, {"end", "enter"}, {"home", "enter"}, {"wiz.test", "enter", "enter"},
		{"127.0.0.1:9", "enter"}, {"enter"}, {"home", "enter"}, {"home", "down", "enter"},
	} {
		p.keys(k...)
	}
	onPage(t, m, p, "existing")
	if help := plain(m.helpLine()); strings.Count(help, "enter") != 1 {
		t.Errorf("help line %q", strings.TrimSpace(help))
	}
	p.keys("/")
	p.until("the completion of /", 5*time.Second, func() bool { return strings.Contains(plain(m.helpLine()), "tab complete") })
	if help := plain(m.helpLine()); strings.Count(help, "enter") != 1 || strings.Count(help, "tab") != 2 {
		t.Errorf("help line %q, want shift+tab back, tab complete, enter next", strings.TrimSpace(help))
	}
}
