package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The embedded vendor configs are cut verbatim from the documents in
// ../shared/seeds (skipped where shared/ is not beside the repository).
func TestVendorConfigsAreTheSeeds(t *testing.T) {
	for file, conf := range map[string]string{"000_616d932e90e864c5.txt": vendorNginx, "001_9848ea84ae763c01.txt": vendorApache} {
		data, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "seeds", file))
		if err != nil {
			t.Skipf("seeds not here: %v", err)
		}
		if !strings.Contains(string(data)+"\n", conf) {
			t.Errorf("vendor/%s is not a verbatim part of %s", file, file)
		}
	}
}

func TestVendorVariants(t *testing.T) {
	ca := &labCA{Cert: "/lab/cert.pem", Key: "/lab/key.pem"}
	n := vendorNginxConf(ca, false)
	if !strings.Contains(n, "ssl_certificate /lab/cert.pem;") || !strings.Contains(n, "server_name jatos.test;") || strings.Contains(n, "keepalive 32") {
		t.Errorf("vendor nginx:\n%s", n)
	}
	k := vendorNginxConf(ca, true)
	if !strings.Contains(k, "server 127.0.0.1:9000;\nkeepalive 32;\n") || !strings.Contains(k, "proxy_http_version 1.1;\nproxy_set_header Connection \"\";\n") {
		t.Errorf("vendor nginx with keepalive:\n%s", k)
	}
	h := vendorNginxHTTPOnly()
	if strings.Contains(h, "ssl") || strings.Contains(h, "rewrite ^") || !strings.Contains(h, "listen 80;") || !strings.Contains(h, "proxy_pass http://jatos-backend;") {
		t.Errorf("vendor nginx HTTP only:\n%s", h)
	}
	a := vendorApacheHTTPOnly()
	if strings.Contains(a, "SSL") || strings.Contains(a, "*:443") || strings.Contains(a, "Redirect") || !strings.Contains(a, "RewriteRule /(.*) ws://localhost:9000/$1 [P,L]") {
		t.Errorf("vendor Apache HTTP only:\n%s", a)
	}
}

func TestParseWrk(t *testing.T) {
	out := `Running 5s test @ https://127.0.0.1/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.50ms    4.20ms  60.00ms   80.00%
    Req/Sec     3.80k   300.00     4.50k    70.00%
  Latency Distribution
     50%  750.00us
     75%    9.00ms
     90%   12.00ms
     99%    1.20s
  37812 requests in 5.00s, 30.00MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 2
Requests/sec:   7562.40
Transfer/sec:      6.00MB
`
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.RPS != 7562.40 || r.P50 != 0.75 || r.P99 != 1200 || r.Errors != 6 || r.Requests != 37812 {
		t.Errorf("%+v", r)
	}
}

func TestStats(t *testing.T) {
	s := summarize([]float64{3, 1, 2, 10})
	if s.Median != 2.5 || s.Min != 1 || s.Max != 10 || s.N != 4 {
		t.Errorf("%+v", s)
	}
	if got := s.fmtRange("%.1f"); got != "2.5 (1.0–10.0)" {
		t.Errorf("fmtRange %q", got)
	}
	if p := percentile([]float64{5, 1, 4, 2, 3}, 99); p != 5 {
		t.Errorf("p99 %v", p)
	}
	if p := percentile([]float64{5, 1, 4, 2, 3}, 50); p != 3 {
		t.Errorf("p50 %v", p)
	}
	if percentile(nil, 50) >= 0 || ms(percentile(nil, 50)) != "–" || summarize(nil).fmtRange("%.0f") != "–" {
		t.Error("empty percentile or summary")
	}
}

func TestReportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	r := results{Machine: machineInfo{Cores: 2}, HTTPS: []httpsResult{
		{CA: "ca", Server: "nginx", Contestant: "rpwizard --answers", S: summarize([]float64{2, 3})},
		{CA: "ca", Server: "nginx", Contestant: "certbot --nginx", S: summarize([]float64{7, 8})},
	}, Tput: []*tputResult{{Config: "rpwizard nginx", KARPS: summarize([]float64{100})}, {Config: "vendor nginx + upstream keepalive by hand", KARPS: summarize([]float64{80})}}}
	path := filepath.Join(dir, "benchmarks.md")
	if err := r.write(path); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(path)
	for _, want := range []string{"| time to verified HTTPS, nginx, ca: ≤ 0.8× certbot | 2.50 s vs 7.50 s = 0.33× | **met** |", "![chart](benchmarks.png)", "= 1.25×"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	var back results
	back.load(path)
	if len(back.HTTPS) != 2 || back.Tput[0].KARPS.Median != 100 {
		t.Errorf("data did not survive: %+v", back)
	}
	img, err := os.ReadFile(filepath.Join(dir, "benchmarks.png"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(img)); err != nil {
		t.Errorf("chart: %v", err)
	}
}

func TestParseStraceSummary(t *testing.T) {
	out := `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 90.62   37.314842        1809     20000      2872 futex
  3.47    1.427603         130     10000      5482 read
  1.56    0.642970         117      5000           writev
  0.01    0.000100          10        10           accept4
------ ----------- ----------- --------- --------- ----------------
100.00   41.177583         785     35010      8354 total
`
	c, err := parseStraceSummary(out, 5000)
	if err != nil {
		t.Fatal(err)
	}
	if c.PerRequest != 7.002 || len(c.Top) != 3 || c.Top[0].Name != "futex" || c.Top[0].PerRequest != 4 || c.Top[2].Name != "writev" {
		t.Errorf("got %+v", c)
	}
	if got, want := c.String(), "7.0 (futex 4.0, read 2.0, writev 1.0)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if _, err := parseStraceSummary("strace: attach: ptrace(PTRACE_SEIZE, 1): Operation not permitted\n", 100); err == nil {
		t.Error("no table: want an error")
	}
}

func TestYesMedian(t *testing.T) {
	apart, wide := summary{Median: 14, Min: 13, Max: 15, N: 5}, summary{Median: 14, Min: 9, Max: 19, N: 5}
	base := summary{Median: 12, Min: 11, Max: 12.5, N: 5}
	for _, tc := range []struct {
		ok   bool
		a    summary
		want string
	}{
		{true, apart, "**met**"},
		{true, wide, "**met** by the medians, within the noise"},
		{false, wide, "**not met**"},
	} {
		if got := yesMedian(tc.ok, tc.a, base); got != tc.want {
			t.Errorf("yesMedian(%v, %+v) = %q, want %q", tc.ok, tc.a, got, tc.want)
		}
	}
	if got := overlap(wide, base); got != "; ranges 9–19 and 11–12 overlap" {
		t.Errorf("overlap = %q", got)
	}
}

func TestRenewalReport(t *testing.T) {
	ok := renewalResult{Server: "nginx", Held: 10, Late: 10, HeldOpened: 10, LateOpened: 10, Limits: "worker_shutdown_timeout 1h",
		Rounds: []renewalRound{{N: 1, HeldAlive: 10, LateAlive: 10, Old: 2}, {N: 2, HeldAlive: 10, LateAlive: 10, Old: 4}}}
	dropped := ok
	dropped.Server = "apache"
	dropped.Rounds = []renewalRound{{N: 1, HeldAlive: 9, LateAlive: 10}}
	room := renewalResult{Server: "apache", Churn: true, Variant: "churn", Held: 10, Late: 10, HeldOpened: 10, LateOpened: 10, Limits: "ServerLimit 114",
		Rounds: []renewalRound{{N: 1, HeldAlive: 10, LateAlive: 10, Old: 7}}}
	noRoom := renewalResult{Server: "apache", Churn: true, NoRoom: true, Variant: "churn, no room", Held: 10, Late: 10, HeldOpened: 10, LateOpened: 4,
		Limits: "ServerLimit 57", Err: "renewal 2 failed: the CA could not reach it",
		Rounds: []renewalRound{{N: 1, HeldAlive: 10, LateAlive: 4}, {N: 2, HeldAlive: 10, LateAlive: 4, Err: "the CA could not reach it"}}}
	if !ok.met() || dropped.met() || noRoom.met() {
		t.Errorf("met: %v %v %v", ok.met(), dropped.met(), noRoom.met())
	}
	r := &results{Renewal: []renewalResult{ok, dropped, room, noRoom}}
	var b strings.Builder
	r.targets(&b)
	r.renewalSection(&b)
	out := b.String()
	for _, want := range []string{
		"| renewals (issue #12), nginx: no held WebSocket dropped, every late one got in | held 10 of 10 alive after 2 renewals; late 10 of 10 in, 10 alive | **met** |",
		"| renewals (issue #12), apache: no held WebSocket dropped, every late one got in | held 9 of 10 alive after 1 renewal; late 10 of 10 in, 10 alive | **not met** |",
		"## 6. Live sessions through renewals",
		"| 2 | **failed** after 0.0 s: the CA could not reach it | 10 / 10 | 4 / 4 |",
		"With rpwizard's limits (ServerLimit 114) 10 of 10 late WebSockets got in; with ServerLimit cut to MaxRequestWorkers / ThreadsPerChild (ServerLimit 57) 4 did, and renewal 2 then failed (the CA could not reach it)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks\n%s\nin:\n%s", want, out)
		}
	}
	if strings.Contains(out, "renewals (issue #12), apache, churn") {
		t.Error("a variant became a target")
	}
}
