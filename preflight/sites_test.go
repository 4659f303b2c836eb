package preflight

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/answers"
)

// changes are a take-over fix in short form, the changes the preflight
// step plans from it, for comparisons.
func changes(t *testing.T, f Fix, root string) []string {
	o := f.TakeOver
	if o == nil {
		return nil
	}
	p, dest := strings.TrimPrefix(o.Path, root), strings.TrimPrefix(o.Dest, root)
	switch {
	case o.Dest == "":
		return []string{"remove " + p}
	case o.Link != "":
		return []string{"link " + dest + " -> " + o.Link, "remove " + p}
	}
	data, err := os.ReadFile(o.Path)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"write " + dest + " = " + strings.SplitN(string(data), "\n", 2)[0], "remove " + p}
}

func TestCheckSites(t *testing.T) {
	foreignNginx := "server {\n    listen 80;\n    server_name jatos.example.org;\n    root /var/www/jatos;\n}\n"
	foreignApache := "<VirtualHost *:80>\n    ServerName jatos.example.org\n</VirtualHost>\n"
	ours := "# Managed by rpwizard for jatos.example.org (JATOS on 127.0.0.1:9000).\nserver { server_name jatos.example.org; }\n"
	otherRpwizard := "# Managed by rpwizard for other.example.org (JATOS on 127.0.0.1:9001).\nserver { server_name other.example.org jatos.example.org; }\n"
	debianApache := with(debianNginx, map[string]string{"usr/sbin/apache2": "Server version: Apache/2.4.62 (Debian)",
		"etc/apache2/apache2.conf": "IncludeOptional conf-enabled/*.conf\nIncludeOptional sites-enabled/*.conf\n"})
	tests := []struct {
		name     string
		files    map[string]string
		server   string
		takeOver bool
		aliases  []string
		want     []Finding // Fixes compared through changes
		changes  []string
		removed  []string // files that must be untouched
	}{
		{"nothing else", debianNginx, "nginx", false, nil, []Finding{{Severity: OK, Msg: "no other config serves jatos.example.org"}}, nil, nil},
		{"rpwizard's own file", with(debianNginx, map[string]string{"etc/nginx/sites-available/rpwizard-jatos.example.org.conf": ours,
			"etc/nginx/sites-enabled/rpwizard-jatos.example.org.conf": "->/etc/nginx/sites-available/rpwizard-jatos.example.org.conf"}), "nginx", false, nil,
			[]Finding{{Severity: OK, Msg: "no other config serves jatos.example.org"}}, nil, nil},
		{"debian nginx link, refused", with(debianNginx, map[string]string{"etc/nginx/sites-available/jatos": foreignNginx,
			"etc/nginx/sites-enabled/jatos": "->/etc/nginx/sites-available/jatos"}), "nginx", false, nil,
			[]Finding{{Severity: Block, Msg: "jatos.example.org is already served by /etc/nginx/sites-enabled/jatos, which rpwizard did not write",
				Fix: "let rpwizard take it over (the file is backed up and disabled): take_over: true in the answers — or disable that site yourself"}}, nil, nil},
		{"debian nginx link, take over", with(debianNginx, map[string]string{"etc/nginx/sites-available/jatos": foreignNginx,
			"etc/nginx/sites-enabled/jatos": "->/etc/nginx/sites-available/jatos"}), "nginx", true, nil,
			[]Finding{{Severity: OK, Msg: "jatos.example.org was served by /etc/nginx/sites-enabled/jatos, which rpwizard did not write: rpwizard takes it over (take_over) and disables it: its link /etc/nginx/sites-enabled/jatos is removed (/etc/nginx/sites-available/jatos stays)"}},
			[]string{"remove /etc/nginx/sites-enabled/jatos"}, nil},
		{"debian nginx plain file in sites-enabled, take over", with(debianNginx, map[string]string{"etc/nginx/sites-enabled/jatos.conf": foreignNginx}), "nginx", true, nil,
			[]Finding{{Severity: OK, Msg: "jatos.example.org was served by /etc/nginx/sites-enabled/jatos.conf, which rpwizard did not write: rpwizard takes it over (take_over) and disables it: renamed to /etc/nginx/sites-available/jatos.conf.rpwizard-disabled"}},
			[]string{"write /etc/nginx/sites-available/jatos.conf.rpwizard-disabled = server {", "remove /etc/nginx/sites-enabled/jatos.conf"}, nil},
		{"debian nginx conf.d by an alias", with(debianNginx, map[string]string{"etc/nginx/conf.d/legacy.conf": strings.ReplaceAll(foreignNginx, "jatos.example.org", "study.example.org")}), "nginx", false,
			[]string{"study.example.org"},
			[]Finding{{Severity: Block, Msg: "study.example.org is already served by /etc/nginx/conf.d/legacy.conf, which rpwizard did not write",
				Fix: "let rpwizard take it over (the file is backed up and disabled): take_over: true in the answers — or disable that site yourself"}}, nil, nil},
		{"file serves other names too", with(debianNginx, map[string]string{"etc/nginx/sites-enabled/many": strings.ReplaceAll(foreignNginx, "jatos.example.org;", "jatos.example.org wiki.example.org _;")}), "nginx", true, nil,
			[]Finding{{Severity: Block, Msg: "jatos.example.org is already served by /etc/nginx/sites-enabled/many, which rpwizard did not write; that file also serves wiki.example.org, which taking it over would take offline",
				Fix: "move the part for jatos.example.org out of /etc/nginx/sites-enabled/many (or delete it), then run rpwizard again"}}, nil, nil},
		{"main config", with(debianNginx, map[string]string{"etc/nginx/nginx.conf": "events {}\nhttp { server { server_name jatos.example.org; } }\n"}), "nginx", true, nil,
			[]Finding{{Severity: Block, Msg: "jatos.example.org is already served by the main config /etc/nginx/nginx.conf: rpwizard does not edit it",
				Fix: "remove the server block for jatos.example.org from /etc/nginx/nginx.conf, then run rpwizard again"}}, nil, nil},
		{"another rpwizard site", with(debianNginx, map[string]string{"etc/nginx/sites-available/rpwizard-other.example.org.conf": otherRpwizard,
			"etc/nginx/sites-enabled/rpwizard-other.example.org.conf": "->/etc/nginx/sites-available/rpwizard-other.example.org.conf"}), "nginx", false, nil,
			[]Finding{{Severity: Block, Msg: "jatos.example.org is already served by /etc/nginx/sites-enabled/rpwizard-other.example.org.conf, which rpwizard wrote for another site; that file also serves other.example.org, which taking it over would take offline",
				Fix: "move the part for jatos.example.org out of /etc/nginx/sites-enabled/rpwizard-other.example.org.conf (or delete it), then run rpwizard again"}}, nil, nil},
		{"rhel nginx conf.d, take over", with(rockyHttpd, map[string]string{"usr/sbin/nginx": "nginx/1.20.1", "etc/nginx/nginx.conf": "http { include /etc/nginx/conf.d/*.conf; }\n",
			"etc/nginx/conf.d/jatos.conf": foreignNginx}), "nginx", true, nil,
			[]Finding{{Severity: OK, Msg: "jatos.example.org was served by /etc/nginx/conf.d/jatos.conf, which rpwizard did not write: rpwizard takes it over (take_over) and disables it: renamed to /etc/nginx/conf.d/jatos.conf.rpwizard-disabled"}},
			[]string{"write /etc/nginx/conf.d/jatos.conf.rpwizard-disabled = server {", "remove /etc/nginx/conf.d/jatos.conf"}, nil},
		{"rhel httpd conf.d, take over", with(rockyHttpd, map[string]string{"etc/httpd/conf.d/jatos.conf": foreignApache, "etc/httpd/conf.d/ssl.conf": "<VirtualHost _default_:443>\n#ServerName www.example.com:443\n</VirtualHost>\n"}), "apache", true, nil,
			[]Finding{{Severity: OK, Msg: "jatos.example.org was served by /etc/httpd/conf.d/jatos.conf, which rpwizard did not write: rpwizard takes it over (take_over) and disables it: renamed to /etc/httpd/conf.d/jatos.conf.rpwizard-disabled"}},
			[]string{"write /etc/httpd/conf.d/jatos.conf.rpwizard-disabled = <VirtualHost *:80>", "remove /etc/httpd/conf.d/jatos.conf"}, nil},
		{"rhel disabled copy exists", with(rockyHttpd, map[string]string{"etc/httpd/conf.d/jatos.conf": foreignApache, "etc/httpd/conf.d/jatos.conf.rpwizard-disabled": "old"}), "apache", true, nil,
			[]Finding{{Severity: Block, Msg: "cannot take over /etc/httpd/conf.d/jatos.conf: /etc/httpd/conf.d/jatos.conf.rpwizard-disabled exists already", Fix: "disable that site yourself"}}, nil, nil},
		{"debian apache link, take over", with(debianApache, map[string]string{"etc/apache2/sites-available/jatos.conf": foreignApache,
			"etc/apache2/sites-enabled/jatos.conf": "->../sites-available/jatos.conf"}), "apache", true, nil,
			[]Finding{{Severity: OK, Msg: "jatos.example.org was served by /etc/apache2/sites-enabled/jatos.conf, which rpwizard did not write: rpwizard takes it over (take_over) and disables it: its link /etc/apache2/sites-enabled/jatos.conf is removed (../sites-available/jatos.conf stays)"}},
			[]string{"remove /etc/apache2/sites-enabled/jatos.conf"}, nil},
		{"apache wildcard read first", with(debianApache, map[string]string{"etc/apache2/sites-available/000-wild.conf": "<VirtualHost *:443>\nServerName example.org\nServerAlias *.example.org\n</VirtualHost>\n",
			"etc/apache2/sites-enabled/000-wild.conf": "->../sites-available/000-wild.conf"}), "apache", false, nil,
			[]Finding{{Severity: Warn, Msg: "/etc/apache2/sites-enabled/000-wild.conf answers for jatos.example.org (matched by *.example.org) and Apache reads it before rpwizard's site, so it would catch those requests",
				Fix: "narrow its ServerAlias, or move the name to rpwizard's site"}}, nil, nil},
		{"apache wildcard read after", with(debianApache, map[string]string{"etc/apache2/sites-enabled/zzz-wild.conf": "<VirtualHost *:443>\nServerName example.org\nServerAlias *.example.org\n</VirtualHost>\n"}), "apache", false, nil,
			[]Finding{{Severity: OK, Msg: "no other config serves jatos.example.org"}}, nil, nil},
		{"server not installed, no config", without(debianNginx, "usr/sbin/nginx", "etc/nginx/nginx.conf"), "nginx", false, nil,
			[]Finding{{Severity: OK, Msg: "no nginx config yet"}}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fakeHost(t, tt.files)
			in := newInput(t, h, tt.server, func(a *answers.Answers) {
				a.TakeOver, a.Aliases, a.InstallMissing = tt.takeOver, tt.aliases, true
			})
			before := treeOf(t, h.Layout.Root)
			got := checkSites(ctx, in)
			var planned []string
			for i := range got {
				for _, f := range got[i].Fixes {
					planned = append(planned, changes(t, f, h.Layout.Root)...)
				}
				got[i].Fixes = nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("findings\n got: %+v\nwant: %+v", got, tt.want)
			}
			if !reflect.DeepEqual(planned, tt.changes) {
				t.Errorf("changes\n got: %q\nwant: %q", planned, tt.changes)
			}
			if after := treeOf(t, h.Layout.Root); after != before {
				t.Error("the check changed files")
			}
		})
	}
}

// treeOf lists every path, link target and file content under root.
func treeOf(t *testing.T, root string) string {
	var b strings.Builder
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		b.WriteString(p + " " + fi.Mode().String())
		if l, err := os.Readlink(p); err == nil {
			b.WriteString(" -> " + l)
		} else if fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			b.Write(data)
		}
		b.WriteString("\n")
		return nil
	})
	return b.String()
}
