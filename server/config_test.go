package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/host"
)

func TestNames(t *testing.T) {
	tests := []struct {
		name  string
		parse func([]byte) []Name
		conf  string
		want  []string
	}{
		{"nginx", nginxNames, "server {\n  listen 80;\n  server_name Jatos.Example.org\n      www.example.org \"quoted.example.org\";\n  # server_name commented.example.org;\n}\nserver { server_name _; }\n",
			[]string{"jatos.example.org", "www.example.org", "quoted.example.org", "_"}},
		// A "#" in a quoted value is no comment: the line goes on.
		{"nginx quoted #", nginxNames, "server {\n  add_header X-Note \"a # b\"; server_name a.example.org;\n  return 200 'x#y'; server_name b.example.org; # c.example.org\n}\n",
			[]string{"a.example.org", "b.example.org"}},
		{"nginx # inside a word", nginxNames, "server { server_name a.example.org; set $x a#b; server_name ${host}b.example.org; }\n",
			[]string{"a.example.org", "${host}b.example.org"}},
		{"apache", apacheNames, "<VirtualHost *:443>\n    ServerName https://Jatos.Example.org:443\n    ServerAlias a.example.org *.b.example.org\n    #ServerName commented.example.org\n</VirtualHost>\n",
			[]string{"jatos.example.org", "a.example.org", "*.b.example.org"}},
		{"apache quoted # and continuation", apacheNames, "Header set X-Note \"a # b\"\nServerName a.example.org\nServerAlias b.example.org \\\n    c.example.org\n",
			[]string{"a.example.org", "b.example.org", "c.example.org"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, n := range tt.parse([]byte(tt.conf)) {
				got = append(got, n.Name)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("names %q, want %q", got, tt.want)
			}
		})
	}
	if got := nginxNames([]byte("http {\n\n  server_name a.test\n     b.test;\n}\n")); !reflect.DeepEqual(got, []Name{{"a.test", 3}, {"b.test", 4}}) {
		t.Errorf("lines %v", got)
	}
}

func TestNginxTokens(t *testing.T) {
	var got []string
	for _, tok := range nginxTokens([]byte("a \"b;c\" 'd\\'e' f#g; # h\n${x}{ }")) {
		got = append(got, tok.Text)
	}
	if want := []string{"a", "b;c", "d'e", "f#g", ";", "${x}", "{", "}"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tokens %q, want %q", got, want)
	}
}

func TestSplitNginxDump(t *testing.T) {
	out := "# configuration file /etc/nginx/nginx.conf:\nevents {}\nhttp { include /etc/nginx/vhosts/*.conf; }\n\n# configuration file /etc/nginx/vhosts/a.conf:\nserver { server_name a.test; }\n"
	files := splitNginxDump([]byte(out))
	if len(files) != 2 || files[0].Path != "/etc/nginx/nginx.conf" || string(files[0].Data) != "events {}\nhttp { include /etc/nginx/vhosts/*.conf; }\n" ||
		files[1].Path != "/etc/nginx/vhosts/a.conf" || string(files[1].Data) != "server { server_name a.test; }" {
		t.Errorf("files %+v", files)
	}
}

// writeTree writes files under root; a content "->T" is a link to T.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(c, "->"); ok {
			err = os.Symlink(target, full)
		} else {
			err = os.WriteFile(full, []byte(c), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadConfig: the files a server reads and the names in them, from
// its own dump where it gives one, or by following the includes.
func TestReadConfig(t *testing.T) {
	debianNginx := map[string]string{
		"etc/nginx/nginx.conf":              "events {}\nhttp {\n\tinclude /etc/nginx/conf.d/*.conf;\n\tinclude /etc/nginx/sites-enabled/*;\n\tinclude vhosts/*.conf;\n}\n",
		"etc/nginx/sites-available/default": "server { server_name _; }\n",
		"etc/nginx/sites-enabled/default":   "->/etc/nginx/sites-available/default",
		"etc/nginx/sites-enabled/.hidden":   "server { server_name hidden.test; }\n",
		"etc/nginx/vhosts/app.conf":         "server {\n  server_name app.test; # not.test\n  include snippets/x.conf;\n}\n",
		"etc/nginx/snippets/x.conf":         "server_name deep.test;\n",
	}
	debianApache := map[string]string{
		"etc/apache2/apache2.conf":                   "IncludeOptional conf-enabled/*.conf\nIncludeOptional sites-enabled/*.conf\nInclude /etc/apache2/vhosts\n",
		"etc/apache2/sites-enabled/000-default.conf": "<VirtualHost *:80>\nServerName default.test\n</VirtualHost>\n",
		"etc/apache2/vhosts/app.conf":                "<VirtualHost *:80>\n  ServerName app.test\n  ServerAlias \"www.app.test\"\n</VirtualHost>\n",
	}
	rhelApache := map[string]string{
		"etc/httpd/conf/httpd.conf":  "ServerRoot \"/etc/httpd\"\nInclude conf.modules.d/*.conf\nIncludeOptional conf.d/*.conf\nIncludeOptional /srv/sites/*.conf\n",
		"etc/httpd/conf.d/ssl.conf":  "<VirtualHost _default_:443>\n#ServerName www.example.com:443\n</VirtualHost>\n",
		"srv/sites/app.conf":         "<VirtualHost *:80>\nServerName App.Test:80\n</VirtualHost>\n",
		"etc/httpd/conf.modules.d/x": "not included: no .conf",
	}
	tests := []struct {
		name, server string
		layout       func(string) host.Layout
		files        map[string]string
		dump         string // what the runner answers ("" : no runner)
		source       string
		want         []string // file: names
		reads        map[string]bool
	}{
		{"debian nginx, files", "nginx", host.Debian, debianNginx, "", "the files",
			[]string{"/etc/nginx/nginx.conf:", "/etc/nginx/sites-enabled/default: _", "/etc/nginx/vhosts/app.conf: app.test", "/etc/nginx/snippets/x.conf: deep.test"},
			map[string]bool{"/etc/nginx/sites-enabled/x.rpwizard-disabled": true, "/etc/nginx/vhosts/x.conf.rpwizard-disabled": false, "/etc/nginx/sites-available/x": false}},
		{"debian nginx, nginx -T", "nginx", host.Debian, debianNginx,
			"# configuration file /etc/nginx/nginx.conf:\nevents {}\nhttp { include /etc/nginx/extra/*.conf; }\n\n# configuration file /etc/nginx/extra/a.conf:\nserver { server_name dumped.test; }\n\n",
			"nginx -T", []string{"/etc/nginx/nginx.conf:", "/etc/nginx/extra/a.conf: dumped.test"}, map[string]bool{"/etc/nginx/extra/b.conf": true}},
		{"nginx refuses to dump", "nginx", host.Debian, debianNginx, "error", "the files",
			[]string{"/etc/nginx/nginx.conf:", "/etc/nginx/sites-enabled/default: _", "/etc/nginx/vhosts/app.conf: app.test", "/etc/nginx/snippets/x.conf: deep.test"}, nil},
		{"debian apache, files", "apache", host.Debian, debianApache, "", "the files",
			[]string{"/etc/apache2/apache2.conf:", "/etc/apache2/sites-enabled/000-default.conf: default.test", "/etc/apache2/vhosts/app.conf: app.test www.app.test"},
			map[string]bool{"/etc/apache2/sites-enabled/x.conf.rpwizard-disabled": false, "/etc/apache2/vhosts/x": true}},
		{"debian apache, DUMP_INCLUDES", "apache", host.Debian, debianApache,
			"Included configuration files:\n  (*) /etc/apache2/apache2.conf\n    (3) /etc/apache2/vhosts/app.conf\n", "apachectl -t -D DUMP_INCLUDES",
			[]string{"/etc/apache2/apache2.conf:", "/etc/apache2/vhosts/app.conf: app.test www.app.test"}, nil},
		{"rhel apache, files", "apache", host.RHEL, rhelApache, "", "the files",
			[]string{"/etc/httpd/conf/httpd.conf:", "/etc/httpd/conf.d/ssl.conf:", "/srv/sites/app.conf: app.test"},
			map[string]bool{"/etc/httpd/conf.d/a.conf.rpwizard-disabled": false, "/etc/httpd/conf.d/a.conf": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tt.files)
			h := &host.Host{Layout: tt.layout(root)}
			if tt.dump != "" {
				h.Run = func(ctx context.Context, argv ...string) ([]byte, error) {
					if tt.dump == "error" {
						return nil, errors.New("nginx: [emerg] unexpected end of file")
					}
					return []byte(tt.dump), nil
				}
			}
			c, err := Must(h, tt.server).ReadConfig(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range c.Files {
				got = append(got, strings.TrimSpace(strings.TrimPrefix(f.Path, root)+": "+strings.Join(f.NameList(), " ")))
			}
			if c.Source != tt.source || !reflect.DeepEqual(got, tt.want) || !c.Files[0].Main {
				t.Errorf("%s:\n got %q\nwant %q", c.Source, got, tt.want)
			}
			for p, want := range tt.reads {
				if c.Reads(filepath.Join(root, p)) != want {
					t.Errorf("reads %s: %v", p, !want)
				}
			}
			if c.WildcardsInOrder != (tt.server == "apache") {
				t.Errorf("wildcards in order: %v", c.WildcardsInOrder)
			}
		})
	}
}
