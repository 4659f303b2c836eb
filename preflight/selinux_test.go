package preflight

import (
	"reflect"
	"testing"

	"github.com/rpwizard/rpwizard/answers"
)

func TestCheckSELinux(t *testing.T) {
	enforcing := with(rockyHttpd, map[string]string{
		"sys/fs/selinux/enforce":                            "1",
		"sys/fs/selinux/booleans/httpd_can_network_connect": "0 0",
		"usr/sbin/semanage":                                 "",
	})
	tests := []struct {
		name     string
		files    map[string]string
		upstream string
		consent  bool
		sev      Severity
		msg, fix string
		runs     []string
	}{
		{"debian, no selinux", debianNginx, "127.0.0.1:9000", false, OK, "SELinux is not enabled", "", nil},
		{"permissive", with(enforcing, map[string]string{"sys/fs/selinux/enforce": "0"}), "127.0.0.1:9000", false, OK,
			"SELinux is permissive: denials are logged, not enforced (run rpwizard again if you switch it to enforcing)", "", nil},
		{"enforcing, all set", with(enforcing, map[string]string{"sys/fs/selinux/booleans/httpd_can_network_connect": "1 1"}), "127.0.0.1:9000", false, OK,
			"SELinux is enforcing; httpd_can_network_connect is on and port 9000 is labelled http_port_t", "", nil},
		{"boolean off, no consent", enforcing, "127.0.0.1:9000", false, Block,
			"SELinux is enforcing and httpd_can_network_connect is off: Apache would be denied connecting to 127.0.0.1:9000 (502 Bad Gateway, \"13: Permission denied\" in its error log)",
			"setsebool -P httpd_can_network_connect 1 — or let rpwizard do it: install_missing: true in the answers (or --install-missing)", nil},
		{"boolean off, consent", enforcing, "127.0.0.1:9000", true, OK,
			"SELinux is enforcing and httpd_can_network_connect is off: rpwizard fixes it (install_missing)", "",
			[]string{"setsebool -P httpd_can_network_connect 1 | undo: setsebool -P httpd_can_network_connect 0"}},
		{"port 8000 is soundd_port_t, no consent", enforcing, "127.0.0.1:8000", false, Block,
			"SELinux is enforcing and httpd_can_network_connect is off and port 8000 is labelled soundd_port_t, not http_port_t: Apache would be denied connecting to 127.0.0.1:8000 (502 Bad Gateway, \"13: Permission denied\" in its error log)",
			"setsebool -P httpd_can_network_connect 1 && semanage port -m -t http_port_t -p tcp 8000 — or let rpwizard do it: install_missing: true in the answers (or --install-missing)", nil},
		{"port 8000 labelled locally", with(enforcing, map[string]string{"var/lib/selinux/targeted/active/ports.local": "portcon tcp 8000 system_u:object_r:http_port_t:s0\n",
			"sys/fs/selinux/booleans/httpd_can_network_connect": "1 1"}), "127.0.0.1:8000", false, OK,
			"SELinux is enforcing; httpd_can_network_connect is on and port 8000 is labelled http_port_t", "", nil},
		{"unlabelled port, consent", with(enforcing, map[string]string{"sys/fs/selinux/booleans/httpd_can_network_connect": "1 1"}), "127.0.0.1:5555", true, OK,
			"SELinux is enforcing and port 5555 is not labelled http_port_t: rpwizard fixes it (install_missing)", "",
			[]string{"semanage port -a -t http_port_t -p tcp 5555 | undo: semanage port -d -p tcp 5555"}},
		{"semanage missing, consent", without(enforcing, "usr/sbin/semanage"), "127.0.0.1:61000", true, OK,
			"SELinux is enforcing and httpd_can_network_connect is off and port 61000 is not labelled http_port_t: rpwizard fixes it (install_missing)", "",
			[]string{"dnf install -y policycoreutils-python-utils",
				"setsebool -P httpd_can_network_connect 1 | undo: setsebool -P httpd_can_network_connect 0",
				"semanage port -a -t http_port_t -p tcp 61000 | undo: semanage port -d -p tcp 61000"}},
		{"semanage missing, no consent", without(enforcing, "usr/sbin/semanage"), "127.0.0.1:61000", false, Block,
			"SELinux is enforcing and httpd_can_network_connect is off and port 61000 is not labelled http_port_t: Apache would be denied connecting to 127.0.0.1:61000 (502 Bad Gateway, \"13: Permission denied\" in its error log)",
			"dnf install policycoreutils-python-utils && setsebool -P httpd_can_network_connect 1 && semanage port -a -t http_port_t -p tcp 61000 — or let rpwizard do it: install_missing: true in the answers (or --install-missing)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := "apache"
			if _, ok := tt.files["usr/sbin/httpd"]; !ok {
				server = "nginx"
			}
			in := newInput(t, fakeHost(t, tt.files), server, func(a *answers.Answers) {
				a.App, a.Upstream, a.InstallMissing = "generic", tt.upstream, tt.consent
			})
			f := only(t, checkSELinux(ctx, in))
			expect(t, f, tt.sev, tt.msg, tt.fix)
			if got := argvs(f, in.Host.Layout); !reflect.DeepEqual(got, tt.runs) {
				t.Errorf("runs\n got: %q\nwant: %q", got, tt.runs)
			}
		})
	}
}
