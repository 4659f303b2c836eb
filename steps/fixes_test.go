package steps

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/host"
	"github.com/rpwizard/rpwizard/installer"
	"github.com/rpwizard/rpwizard/preflight"
)

// TestFixChanges: each consented fix preflight describes becomes the
// changes the transaction journals.
func TestFixChanges(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "jatos.conf")
	if err := os.WriteFile(site, []byte("server {\n}\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	l := host.Debian("/")
	tests := []struct {
		name string
		fix  preflight.Fix
		want []string
	}{
		{"install", preflight.Fix{Why: "install nginx", Install: []string{"nginx"}, Server: "nginx"},
			[]string{"run " + strings.Join(l.InstallCommand("nginx"), " ") + " | undo " + strings.Join(l.RemoveCommand("nginx"), " ")}},
		{"install after a refresh, kept", preflight.Fix{Why: "install semanage", Install: []string{"x"}, Refresh: true, Keep: true},
			[]string{"run " + strings.Join(l.RefreshCommand(), " "), "run " + strings.Join(l.InstallCommand("x"), " ")}},
		{"command", preflight.Fix{Why: "label", Argv: []string{"setsebool", "-P", "b", "1"}, Undo: []string{"setsebool", "-P", "b", "0"}},
			[]string{"run setsebool -P b 1 | undo setsebool -P b 0"}},
		{"take over a link", preflight.Fix{Why: "w", TakeOver: &preflight.TakeOver{Path: "/e/sites-enabled/a", Link: "../sites-available/a"}},
			[]string{"remove /e/sites-enabled/a"}},
		{"take over a link in conf.d", preflight.Fix{Why: "w", TakeOver: &preflight.TakeOver{Path: "/e/conf.d/a", Link: "/srv/a", Dest: "/e/conf.d/a.rpwizard-disabled"}},
			[]string{"link /e/conf.d/a.rpwizard-disabled -> /srv/a", "remove /e/conf.d/a"}},
		{"take over a file", preflight.Fix{Why: "w", TakeOver: &preflight.TakeOver{Path: site, Dest: site + ".rpwizard-disabled"}},
			[]string{"write " + site + ".rpwizard-disabled 0640 server {\n}\n", "remove " + site}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes, err := fixChanges(l, tt.fix)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range changes {
				switch c.Kind {
				case installer.Run:
					s := "run " + strings.Join(c.Argv, " ")
					if c.Undo != nil {
						s += " | undo " + strings.Join(c.Undo, " ")
					}
					got = append(got, s)
				case installer.Remove:
					got = append(got, "remove "+c.Path)
				case installer.Symlink:
					got = append(got, "link "+c.Path+" -> "+c.Target)
				case installer.WriteFile:
					got = append(got, fmt.Sprintf("write %s %04o %s", c.Path, c.Mode, c.Data))
				}
				if !strings.HasPrefix(c.Why, tt.fix.Why) && c.Why != "fetch the package lists (there are none)" {
					t.Errorf("why %q", c.Why)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("changes\n got %q\nwant %q", got, tt.want)
			}
		})
	}
	if _, err := fixChanges(l, preflight.Fix{TakeOver: &preflight.TakeOver{Path: filepath.Join(dir, "gone"), Dest: filepath.Join(dir, "gone.x")}}); err == nil {
		t.Error("a file gone since preflight: want an error")
	}
}
