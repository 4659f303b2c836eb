package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixture is the content of testdata/name (the steps' tests read these
// files too).
func fixture(name string) string {
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return string(data)
}

const debianNginxMain = "user www-data;\nworker_processes auto;\npid /run/nginx.pid;\n\nevents {\n\tworker_connections 768;\n\t# multi_accept on;\n}\n\nhttp {\n}\n"

func TestParseNginxLimits(t *testing.T) {
	tests := []struct {
		conf      string
		want      NginxLimits
		workers   int // with 4 CPUs
		websocket int
	}{
		{debianNginxMain, NginxLimits{WorkerProcesses: "auto", WorkerConnections: 768}, 4, 1536},
		{"worker_processes 2;\n#worker_connections 4096;\nevents {}\n", NginxLimits{WorkerProcesses: "2"}, 2, 512},
		{"worker_rlimit_nofile 65535;\nevents { worker_connections 10240; }\n", NginxLimits{WorkerConnections: 10240, RlimitNofile: 65535}, 1, 5120},
	}
	for _, tt := range tests {
		got := ParseNginxLimits([]byte(tt.conf))
		if got != tt.want {
			t.Errorf("%q: %+v, want %+v", tt.conf, got, tt.want)
		}
		if got.Workers(4) != tt.workers || got.WebSockets(4) != tt.websocket {
			t.Errorf("%q: workers %d websockets %d", tt.conf, got.Workers(4), got.WebSockets(4))
		}
	}
	if n := NeededConnections(5000, 2); n != 6016 {
		t.Errorf("needed %d", n)
	}
}

// Debian 12's nginx.conf, abridged (the directives that matter and a few
// that must stay untouched).
var debianNginxConf = fixture("debian12-nginx.conf")

func TestNginxLimitsFor(t *testing.T) {
	tests := []struct {
		name       string
		conf       string
		want, ncpu int
		out        string // "" = unchanged
		wc, rlimit int
	}{
		{name: "debian default, 12000 on 2 CPUs", conf: debianNginxConf, want: 12000, ncpu: 2, wc: 14400, rlimit: 28800,
			out: strings.Replace(strings.Replace(debianNginxConf, "worker_connections 768;", "worker_connections 14400;", 1),
				"events {", "worker_rlimit_nofile 28800;\nevents {", 1)},
		{name: "few enough already", conf: debianNginxConf, want: 300, ncpu: 2, wc: 768},
		{name: "missing directive goes first into events", conf: "worker_processes 4;\nevents {\n}\nhttp {}\n", want: 10000, ncpu: 2,
			wc: 6016, rlimit: 12032, out: "worker_processes 4;\nworker_rlimit_nofile 12032;\nevents {\n\tworker_connections 6016;\n}\nhttp {}\n"},
		{name: "commented directives are not edited", conf: "#worker_rlimit_nofile 10;\nevents {\n    # worker_connections 99999;\n    worker_connections 512;\n}\n",
			want: 1000, ncpu: 1, wc: 2432, rlimit: 4864,
			out: "#worker_rlimit_nofile 10;\nworker_rlimit_nofile 4864;\nevents {\n    # worker_connections 99999;\n    worker_connections 2432;\n}\n"},
		{name: "one-line events block", conf: "events { worker_connections 1024; }\n", want: 5000, ncpu: 1,
			wc: 12032, rlimit: 24064, out: "worker_rlimit_nofile 24064;\nevents { worker_connections 12032; }\n"},
		{name: "enough connections but the inherited descriptor limit", conf: "worker_processes 1;\nevents {\n    worker_connections 65535;\n}\n",
			want: 10000, ncpu: 2, wc: 65535, rlimit: 131070,
			out: "worker_processes 1;\nworker_rlimit_nofile 131070;\nevents {\n    worker_connections 65535;\n}\n"},
		{name: "descriptor limit raised in place, never lowered", conf: "worker_processes auto;\nworker_rlimit_nofile 100000;\nevents {\n worker_connections 768;\n}\n",
			want: 20000, ncpu: 2, wc: 24000, rlimit: 100000, out: "worker_processes auto;\nworker_rlimit_nofile 100000;\nevents {\n worker_connections 24000;\n}\n"},
		{name: "low descriptor limit raised in place", conf: "worker_processes 2;\nworker_rlimit_nofile 2048;\nevents {\n worker_connections 768;\n}\n",
			want: 20000, ncpu: 8, wc: 24000, rlimit: 48000, out: "worker_processes 2;\nworker_rlimit_nofile 48000;\nevents {\n worker_connections 24000;\n}\n"},
		{name: "vendor JATOS config is enough", conf: "worker_processes auto;\nworker_rlimit_nofile 65535;\nevents {\nmulti_accept on;\nworker_connections 65535;\n}\n",
			want: 20000, ncpu: 2, wc: 65535, rlimit: 65535},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, l, err := NginxLimitsFor([]byte(tt.conf), tt.want, tt.ncpu)
			if err != nil {
				t.Fatal(err)
			}
			if l.Connections != tt.wc || l.RlimitNofile != tt.rlimit {
				t.Errorf("limits %+v, want worker_connections %d, worker_rlimit_nofile %d", l, tt.wc, tt.rlimit)
			}
			if tt.out == "" {
				if out != nil {
					t.Errorf("changed:\n%s", out)
				}
				return
			}
			if string(out) != tt.out {
				t.Errorf("got:\n%s\nwant:\n%s", out, tt.out)
			}
			// Preflight then finds enough, and a second pass changes nothing.
			if got := ParseNginxLimits(out).WebSockets(tt.ncpu); got < tt.want {
				t.Errorf("preflight counts %d WebSockets after the edit, want ≥ %d", got, tt.want)
			}
			if again, _, _ := NginxLimitsFor(out, tt.want, tt.ncpu); again != nil {
				t.Errorf("second pass changed it again:\n%s", again)
			}
		})
	}
	if _, _, err := NginxLimitsFor([]byte("http {}\n"), 5000, 2); err == nil {
		t.Error("no events block: want an error")
	}
}

// Debian 12's mods-available/mpm_event.conf.
var debianMPMEvent = fixture("debian12-mpm_event.conf")

func TestApacheEventLimitsFor(t *testing.T) {
	tests := []struct {
		name    string
		conf    string
		want    int
		out     string
		lim     ApacheRaise
		restart bool
	}{
		{name: "debian default, 2000", conf: debianMPMEvent, want: 2000,
			lim: ApacheRaise{ServerLimit: 76, ThreadLimit: 64, ThreadsPerChild: 64, MaxRequestWorkers: 2432, Restart: true},
			out: strings.NewReplacer("StartServers            2", "ServerLimit             76\nStartServers            2",
				"ThreadsPerChild         25", "ThreadsPerChild         64", "MaxRequestWorkers       150", "MaxRequestWorkers       2432").Replace(debianMPMEvent)},
		{name: "debian default already enough for 100", conf: debianMPMEvent, want: 100,
			lim: ApacheRaise{ServerLimit: 16, ThreadLimit: 64, ThreadsPerChild: 25, MaxRequestWorkers: 150}},
		{name: "within ServerLimit with room for a reload: no restart", conf: debianMPMEvent, want: 300,
			lim: ApacheRaise{ServerLimit: 16, ThreadLimit: 64, ThreadsPerChild: 64, MaxRequestWorkers: 448},
			out: strings.NewReplacer("ThreadsPerChild         25", "ThreadsPerChild         64", "MaxRequestWorkers       150", "MaxRequestWorkers       448").Replace(debianMPMEvent)},
		{name: "500 needs ServerLimit 20: 10 processes and 10 old ones", conf: debianMPMEvent, want: 500,
			lim: ApacheRaise{ServerLimit: 20, ThreadLimit: 64, ThreadsPerChild: 64, MaxRequestWorkers: 640, Restart: true},
			out: strings.NewReplacer("StartServers            2", "ServerLimit             20\nStartServers            2",
				"ThreadsPerChild         25", "ThreadsPerChild         64", "MaxRequestWorkers       150", "MaxRequestWorkers       640").Replace(debianMPMEvent)},
		{name: "enough threads, but no room for a reload's old processes", conf: "ServerLimit 16\nThreadsPerChild 25\nMaxRequestWorkers 400\n", want: 300,
			lim: ApacheRaise{ServerLimit: 32, ThreadLimit: 64, ThreadsPerChild: 25, MaxRequestWorkers: 400, Restart: true},
			out: "ServerLimit 32\nThreadsPerChild 25\nMaxRequestWorkers 400\n"},
		{name: "old Debian file with IfModule and MaxClients", want: 5000,
			conf: "<IfModule mpm_event_module>\n\tStartServers\t\t\t 2\n\tThreadLimit\t\t\t 64\n\tThreadsPerChild\t\t 25\n\tMaxClients\t\t  150\n</IfModule>\n",
			lim:  ApacheRaise{ServerLimit: 190, ThreadLimit: 64, ThreadsPerChild: 64, MaxRequestWorkers: 6080, Restart: true},
			out:  "<IfModule mpm_event_module>\n\tServerLimit             190\n\tStartServers\t\t\t 2\n\tThreadLimit\t\t\t 64\n\tThreadsPerChild\t\t 64\n\tMaxClients\t\t  6080\n</IfModule>\n"},
		{name: "empty own file (RHEL)", conf: "# Managed by rpwizard\n<IfModule mpm_event_module>\n</IfModule>\n", want: 2000,
			lim: ApacheRaise{ServerLimit: 76, ThreadLimit: 64, ThreadsPerChild: 64, MaxRequestWorkers: 2432, Restart: true},
			out: "# Managed by rpwizard\n<IfModule mpm_event_module>\nServerLimit             76\nThreadsPerChild         64\nMaxRequestWorkers       2432\n</IfModule>\n"},
		{name: "low ThreadLimit is kept", conf: "ThreadLimit 32\nThreadsPerChild 16\nMaxRequestWorkers 256\nServerLimit 16\n", want: 1000,
			lim: ApacheRaise{ServerLimit: 78, ThreadLimit: 32, ThreadsPerChild: 32, MaxRequestWorkers: 1248, Restart: true},
			out: "ThreadLimit 32\nThreadsPerChild 32\nMaxRequestWorkers 1248\nServerLimit 78\n"},
		{name: "commented directives are ignored", conf: "#ServerLimit 1000\n# MaxRequestWorkers 64000\nMaxRequestWorkers 150\n", want: 1000,
			lim: ApacheRaise{ServerLimit: 40, ThreadLimit: 64, ThreadsPerChild: 64, MaxRequestWorkers: 1280, Restart: true},
			out: "#ServerLimit 1000\n# MaxRequestWorkers 64000\nServerLimit             40\nThreadsPerChild         64\nMaxRequestWorkers 1280\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, lim := ApacheEventLimitsFor([]byte(tt.conf), tt.want)
			if lim != tt.lim {
				t.Errorf("limits %+v, want %+v", lim, tt.lim)
			}
			if tt.out == "" {
				if out != nil {
					t.Errorf("changed:\n%s", out)
				}
				return
			}
			if string(out) != tt.out {
				t.Errorf("got:\n%s\nwant:\n%s", out, tt.out)
			}
			if lim.MaxRequestWorkers < ApacheThreadsFor(tt.want) || lim.MaxRequestWorkers%lim.ThreadsPerChild != 0 ||
				lim.MaxRequestWorkers > lim.ServerLimit*lim.ThreadsPerChild || lim.ServerLimit < 2*ApacheActiveProcesses(lim.MaxRequestWorkers, lim.ThreadsPerChild) {
				t.Errorf("inconsistent limits %+v for %d", lim, tt.want)
			}
			if again, _ := ApacheEventLimitsFor(out, tt.want); again != nil {
				t.Errorf("second pass changed it again:\n%s", again)
			}
		})
	}
}

func TestNginxShutdownFor(t *testing.T) {
	six := ShutdownTimeout{D: 6 * time.Hour, Why: "jupyterhub: notebooks"}
	ours := "worker_shutdown_timeout 6h; # rpwizard: jupyterhub: notebooks\n"
	tests := []struct {
		name  string
		conf  string
		s     ShutdownTimeout
		out   string // "" = unchanged
		have  NginxShutdown
		isErr bool
	}{
		{name: "debian: added before events", conf: debianNginxConf, s: six,
			out: strings.Replace(debianNginxConf, "events {", ours+"events {", 1)},
		{name: "ours already", conf: "worker_processes 2;\n" + ours + "events {\n}\n", s: six, have: NginxShutdown{Value: "6h"}},
		{name: "ours updated in place, indent kept", conf: "  worker_shutdown_timeout 1h; # rpwizard: jatos: studies\nevents {}\n", s: six,
			out: "  " + ours + "events {}\n", have: NginxShutdown{Value: "1h"}},
		{name: "the admin's own value is kept", conf: "worker_shutdown_timeout 30m;  # ops: short\nevents {}\n", s: six,
			have: NginxShutdown{Value: "30m", Admin: true}},
		{name: "the admin's larger value is kept too", conf: "worker_shutdown_timeout 2d;\nevents {}\n", s: six,
			have: NginxShutdown{Value: "2d", Admin: true}},
		{name: "a commented directive is not a setting", conf: "#worker_shutdown_timeout 10s;\nevents {}\n", s: six,
			out: "#worker_shutdown_timeout 10s;\n" + ours + "events {}\n"},
		{name: "not inside http", conf: "events {}\nhttp {\n}\n", s: ShutdownTimeout{D: 90 * time.Minute, Why: "x\ny"},
			out: "worker_shutdown_timeout 90m; # rpwizard: x y\nevents {}\nhttp {\n}\n"},
		{name: "no events block", conf: "http {}\n", s: six, isErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, have, err := NginxShutdownFor([]byte(tt.conf), tt.s)
			if (err != nil) != tt.isErr {
				t.Fatalf("err %v", err)
			}
			if have != tt.have {
				t.Errorf("have %+v, want %+v", have, tt.have)
			}
			if tt.out == "" {
				if out != nil {
					t.Errorf("changed:\n%s", out)
				}
				return
			}
			if string(out) != tt.out {
				t.Errorf("got:\n%s\nwant:\n%s", out, tt.out)
			}
			if again, _, _ := NginxShutdownFor(out, tt.s); again != nil {
				t.Errorf("second pass changed it again:\n%s", again)
			}
			// The limits edit and this one compose, in either order.
			if raised, _, err := NginxLimitsFor(out, 5000, 2); err != nil || raised != nil && ParseNginxLimits(raised).WebSockets(2) < 5000 {
				t.Errorf("limits after the shutdown edit: %v", err)
			}
		})
	}
}

func TestNginxDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{6 * time.Hour: "6h", 90 * time.Minute: "90m", 45 * time.Second: "45s", 1500 * time.Millisecond: "2s"} {
		if got := NginxDuration(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}
