package preflight

import (
	"testing"

	"github.com/rpwizard/rpwizard/answers"
)

func TestCheckConnections(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		expected int
		sev      Severity
		msg, fix string
	}{
		{"not set", debianNginx, 0, OK,
			"nginx allows about 768 simultaneous WebSockets (worker_connections 768 × 2 worker processes ÷ 2: each proxied WebSocket holds 2 connections); set expected_websockets to check your number", ""},
		{"enough", debianNginx, 500, OK,
			"nginx allows about 768 simultaneous WebSockets (worker_connections 768 × 2 worker processes ÷ 2: each proxied WebSocket holds 2 connections): enough for expected_websockets 500 with a fifth to spare", ""},
		{"enough without a fifth to spare", debianNginx, 700, OK,
			"nginx allows about 768 simultaneous WebSockets (worker_connections 768 × 2 worker processes ÷ 2: each proxied WebSocket holds 2 connections); expected_websockets 700 with a fifth to spare needs worker_connections 896: the server limits step raises it", ""},
		{"too few", debianNginx, 5000, OK,
			"nginx allows about 768 simultaneous WebSockets (worker_connections 768 × 2 worker processes ÷ 2: each proxied WebSocket holds 2 connections); expected_websockets 5000 with a fifth to spare needs worker_connections 6016: the server limits step raises it", ""},
		{"too few, one worker", with(debianNginx, map[string]string{"etc/nginx/nginx.conf": "worker_processes 1;\nevents { worker_connections 256; }\n"}), 1000, OK,
			"nginx allows about 128 simultaneous WebSockets (worker_connections 256 × 1 worker processes ÷ 2: each proxied WebSocket holds 2 connections); expected_websockets 1000 with a fifth to spare needs worker_connections 2432: the server limits step raises it", ""},
		{"in an included file", with(debianNginx, map[string]string{"etc/nginx/nginx.conf": "worker_processes 2;\nevents { include /etc/nginx/events.d/*.conf; }\n",
			"etc/nginx/events.d/wc.conf": "worker_connections 1024;\n"}), 5000, OK,
			"nginx allows about 1024 simultaneous WebSockets (worker_connections 1024, set in /etc/nginx/events.d/wc.conf line 1 × 2 worker processes ÷ 2: each proxied WebSocket holds 2 connections); expected_websockets 5000 with a fifth to spare needs worker_connections 6016: the server limits step raises it", ""},
		{"in a file rpwizard does not edit", with(debianNginx, map[string]string{"etc/nginx/nginx.conf": "worker_processes 2;\nevents { include /etc/nginx/events.d/*.conf; }\n",
			"etc/nginx/events.d/wc.conf": "->/usr/share/tune/wc.conf", "usr/share/tune/wc.conf": "worker_connections 1024;\n"}), 5000, Warn,
			"nginx allows about 1024 simultaneous WebSockets (worker_connections 1024, set in /etc/nginx/events.d/wc.conf line 1 × 2 worker processes ÷ 2: each proxied WebSocket holds 2 connections); expected_websockets 5000 with a fifth to spare needs worker_connections 6016",
			"rpwizard does not raise it (/etc/nginx/events.d/wc.conf (a link to /usr/share/tune/wc.conf) is outside /etc/nginx, so rpwizard does not edit it); set it yourself"},
		{"nginx to be installed", without(debianNginx, "usr/sbin/nginx", "etc/nginx/nginx.conf"), 100, Skip, "nginx.conf does not exist yet: worker_connections not checked", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInput(t, fakeHost(t, tt.files), "nginx", func(a *answers.Answers) { a.ExpectedWebSockets, a.InstallMissing = tt.expected, true })
			f := only(t, checkConnections(ctx, in))
			expect(t, f, tt.sev, tt.msg, tt.fix)
			if f.Fixes != nil {
				t.Errorf("unexpected fixes %v", f.Fixes)
			}
		})
	}
}

func TestCheckApacheConnections(t *testing.T) {
	debianApache := with(debianNginx, map[string]string{"usr/sbin/apache2": "Server version: Apache/2.4.62 (Debian)",
		"etc/apache2/apache2.conf":                  "Timeout 300\nIncludeOptional mods-enabled/*.load\nIncludeOptional mods-enabled/*.conf\n",
		"etc/apache2/mods-available/mpm_event.load": "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n",
		"etc/apache2/mods-available/mpm_event.conf": "<IfModule mpm_event_module>\n\tThreadsPerChild 25\n\tMaxRequestWorkers 150\n</IfModule>\n",
		"etc/apache2/mods-enabled/mpm_event.load":   "->../mods-available/mpm_event.load",
		"etc/apache2/mods-enabled/mpm_event.conf":   "->../mods-available/mpm_event.conf"})
	rockyPrefork := with(rockyHttpd, map[string]string{"etc/httpd/conf.modules.d/00-mpm.conf": "#LoadModule mpm_event_module modules/mod_mpm_event.so\nLoadModule mpm_prefork_module modules/mod_mpm_prefork.so\n"})
	tests := []struct {
		name     string
		files    map[string]string
		expected int
		sev      Severity
		msg, fix string
	}{
		{"debian default, not set", debianApache, 0, OK,
			"Apache allows about 150 simultaneous WebSockets (MaxRequestWorkers 150, set in /etc/apache2/mods-enabled/mpm_event.conf; event MPM: each proxied WebSocket holds a worker); set expected_websockets to check your number", ""},
		{"debian, enough", debianApache, 100, OK,
			"Apache allows about 150 simultaneous WebSockets (MaxRequestWorkers 150, set in /etc/apache2/mods-enabled/mpm_event.conf; event MPM: each proxied WebSocket holds a worker): enough for expected_websockets 100 with a fifth and 25 threads to spare", ""},
		{"debian, enough without spare", debianApache, 150, OK,
			"Apache allows about 150 simultaneous WebSockets (MaxRequestWorkers 150, set in /etc/apache2/mods-enabled/mpm_event.conf; event MPM: each proxied WebSocket holds a worker); expected_websockets 150 with a fifth and 25 threads to spare needs MaxRequestWorkers 205: the server limits step raises the MPM's limits", ""},
		{"debian, too few", debianApache, 1000, OK,
			"Apache allows about 150 simultaneous WebSockets (MaxRequestWorkers 150, set in /etc/apache2/mods-enabled/mpm_event.conf; event MPM: each proxied WebSocket holds a worker); expected_websockets 1000 with a fifth and 25 threads to spare needs MaxRequestWorkers 1225: the server limits step raises the MPM's limits", ""},
		{"rocky prefork default, too few", rockyPrefork, 300, OK,
			"Apache allows about 256 simultaneous WebSockets (MaxRequestWorkers 256, default; prefork MPM: each proxied WebSocket holds a worker); expected_websockets 300 with a fifth and 25 threads to spare needs MaxRequestWorkers 385: rpwizard raises the limits of the event MPM only", ""},
		{"debian, threads enough but no room for a reload's old processes",
			with(debianApache, map[string]string{"etc/apache2/mods-available/mpm_event.conf": "<IfModule mpm_event_module>\n\tThreadsPerChild 25\n\tMaxRequestWorkers 400\n</IfModule>\n"}), 300, OK,
			"Apache allows about 400 simultaneous WebSockets (MaxRequestWorkers 400, set in /etc/apache2/mods-enabled/mpm_event.conf; event MPM: each proxied WebSocket holds a worker), but ServerLimit 16 leaves no room for the processes a graceful restart (a renewal) leaves holding WebSockets; expected_websockets 300 with room for a reload's old processes to spare needs ServerLimit 32: the server limits step raises it (and restarts Apache once)", ""},
		{"apache to be installed", without(debianApache, "usr/sbin/apache2"), 10, Skip, "Apache is not installed yet: MaxRequestWorkers not checked", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInput(t, fakeHost(t, tt.files), "apache", func(a *answers.Answers) { a.ExpectedWebSockets, a.InstallMissing = tt.expected, true })
			expect(t, only(t, checkConnections(ctx, in)), tt.sev, tt.msg, tt.fix)
		})
	}
}
