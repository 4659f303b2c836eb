package preflight

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/rpwizard/rpwizard/host"
)

// fakeProc builds a /proc with net/tcp and processes holding sockets.
func fakeProc(t *testing.T, tcp string, procs map[int][3]string) string {
	t.Helper()
	root := t.TempDir()
	writeTree(t, root, map[string]string{"net/tcp": tcp})
	for pid, p := range procs { // comm, cmdline (NUL-separated), socket inode
		dir := filepath.Join(root, strconv.Itoa(pid))
		writeTree(t, dir, map[string]string{"comm": p[0] + "\n", "cmdline": p[1]})
		os.MkdirAll(filepath.Join(dir, "fd"), 0o755)
		os.Symlink("/dev/null", filepath.Join(dir, "fd", "0"))
		os.Symlink("socket:["+p[2]+"]", filepath.Join(dir, "fd", "6"))
	}
	return root
}

func TestReadListeners(t *testing.T) {
	tcp := "header\n   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1\n" +
		"   1: 00000000:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1\n" +
		"   2: 0100007F:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1\n"
	proc := fakeProc(t, tcp, map[int][3]string{
		700: {"apache2", "/usr/sbin/apache2\x00-k\x00start\x00", "111"},
		701: {"apache2", "/usr/sbin/apache2\x00-k\x00start\x00", "111"}, // a child sharing it
		900: {"integration.tes", "/tmp/go-build1/b001/integration.test\x00-test.v\x00", "222"},
	})
	got, err := ReadListeners(proc, 80, 443)
	if err != nil {
		t.Fatal(err)
	}
	want := []Listener{
		{Addr: netip.MustParseAddr("0.0.0.0"), Port: 80, Inode: 111, Pid: 700, Program: "apache2", Cmdline: "/usr/sbin/apache2 -k start"},
		{Addr: netip.MustParseAddr("0.0.0.0"), Port: 443, Inode: 222, Pid: 900, Program: "integration.test", Cmdline: "/tmp/go-build1/b001/integration.test -test.v"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("listeners\n got: %+v\nwant: %+v", got, want)
	}
	if w := got[0].Who(); w != "apache2 (pid 700: /usr/sbin/apache2 -k start)" {
		t.Errorf("who %q", w)
	}
	if !host.ProgramRunning(proc, "integration.tes") || host.ProgramRunning(proc, "firewalld") {
		t.Error("ProgramRunning")
	}
	if _, err := ReadListeners(t.TempDir()); err == nil {
		t.Error("no /proc/net/tcp: want an error")
	}
}

func TestCheckPorts(t *testing.T) {
	any4, any6 := netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("::")
	nginx80 := []Listener{{Addr: any4, Port: 80, Inode: 1, Pid: 500, Program: "nginx", Cmdline: "nginx: master process /usr/sbin/nginx"},
		{Addr: any6, Port: 80, Inode: 2, Pid: 500, Program: "nginx", Cmdline: "nginx: master process /usr/sbin/nginx"}}
	apache := []Listener{{Addr: any6, Port: 80, Inode: 3, Pid: 10844, Program: "apache2", Cmdline: "/usr/sbin/apache2 -k start"},
		{Addr: any6, Port: 443, Inode: 4, Pid: 10844, Program: "apache2", Cmdline: "/usr/sbin/apache2 -k start"}}
	tests := []struct {
		name      string
		server    string
		listeners []Listener
		euid      int
		systemd   bool
		noNginx   bool
		want      []Finding
	}{
		{"free", "nginx", nil, 0, false, false, []Finding{{Severity: OK, Msg: "ports 80 and 443 are free"}}},
		{"held by the chosen server", "nginx", nginx80, 0, false, false, []Finding{{Severity: OK,
			Msg: "held by the chosen server: port 80 by nginx (pid 500: nginx: master process /usr/sbin/nginx)"}}},
		{"apache holds both, nginx chosen", "nginx", apache, 0, false, false, []Finding{{Severity: Block,
			Msg: "ports 80 and 443 held by apache2 (pid 10844: /usr/sbin/apache2 -k start), not by nginx: nginx could not listen there",
			Fix: "stop it (/usr/sbin/apache2ctl stop), or set server: apache to let Apache serve the site"}}},
		{"apache holds both, systemd", "nginx", apache, 0, true, false, []Finding{{Severity: Block,
			Msg: "ports 80 and 443 held by apache2 (pid 10844: /usr/sbin/apache2 -k start), not by nginx: nginx could not listen there",
			Fix: "systemctl disable --now apache2, or set server: apache to let Apache serve the site"}}},
		{"nginx holds 80, apache chosen", "apache", nginx80, 0, true, false, []Finding{{Severity: Block,
			Msg: "port 80 held by nginx (pid 500: nginx: master process /usr/sbin/nginx), not by Apache: Apache could not listen there",
			Fix: "systemctl disable --now nginx, or set server: nginx to let nginx serve the site"}}},
		{"nginx process but nginx not installed here", "nginx", nginx80, 0, false, true, []Finding{{Severity: Block,
			Msg: "port 80 held by nginx (pid 500: nginx: master process /usr/sbin/nginx), not by nginx: nginx could not listen there",
			Fix: "stop it (/usr/sbin/nginx -s quit), or set server: nginx to let nginx serve the site"}}},
		{"another program", "nginx", []Listener{{Addr: any4, Port: 80, Inode: 9, Pid: 4321, Program: "python3", Cmdline: "python3 -m http.server 80"}}, 0, false, false,
			[]Finding{{Severity: Block, Msg: "port 80 held by python3 (pid 4321: python3 -m http.server 80), not by nginx: nginx could not listen there",
				Fix: "stop python3 (pid 4321) or move it to other ports, then run rpwizard again"}}},
		{"docker", "nginx", []Listener{{Addr: any4, Port: 443, Inode: 9, Pid: 77, Program: "docker-proxy", Cmdline: "/usr/bin/docker-proxy -proto tcp"}}, 0, false, false,
			[]Finding{{Severity: Block, Msg: "port 443 held by docker-proxy (pid 77: /usr/bin/docker-proxy -proto tcp), not by nginx: nginx could not listen there",
				Fix: "a Docker container publishes port 443: stop it, or publish it on other ports"}}},
		{"unknown as root", "nginx", []Listener{{Addr: any4, Port: 80, Inode: 31337}}, 0, false, false,
			[]Finding{{Severity: Block, Msg: "port 80 held by a program rpwizard cannot name (socket inode 31337), not by nginx: nginx could not listen there",
				Fix: "find it with `ss -ltnp 'sport = :80'` and stop it, then run rpwizard again"}}},
		{"unknown, not root", "nginx", []Listener{{Addr: any4, Port: 80, Inode: 31337}, {Addr: any6, Port: 80, Inode: 31338}, {Addr: any4, Port: 443, Inode: 31339}}, 1000, false, false,
			[]Finding{{Severity: Warn, Msg: "ports 80 and 443 in use, by a program that only root can name", Fix: "run rpwizard as root to see which program holds it"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &host.Host{Layout: host.Debian("/"), Systemd: tt.systemd, Installed: []string{"nginx", "apache"}}
			if tt.noNginx {
				h.Installed = []string{"apache"}
			}
			in := newInput(t, h, tt.server, nil)
			in.Live, in.Listeners, in.Euid = true, tt.listeners, tt.euid
			got := checkPorts(ctx, in)
			for i := range got {
				got[i].Check = ""
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("findings\n got: %+v\nwant: %+v", got, tt.want)
			}
		})
	}
	t.Run("fake root", func(t *testing.T) {
		in := newInput(t, fakeHost(t, debianNginx), "nginx", nil)
		expect(t, only(t, checkPorts(ctx, in)), Skip, "ports 80 and 443 not checked on a fake root", "")
	})
}
