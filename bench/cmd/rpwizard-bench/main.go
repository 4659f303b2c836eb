// Command rpwizard-bench measures rpwizard side by side with what a user
// would otherwise do, on loopback, in one run (issue #7):
//
//  1. time to HTTPS: `rpwizard --answers` (ACME HTTP-01 against Pebble)
//     from a fresh /etc until its self-test passed, against `certbot
//     --nginx|--apache --redirect --hsts` from the vendor's HTTP-only
//     config until a WebSocket echoes through the proxy; A B A B …;
//  2. proxy throughput with wrk (64 connections, keep-alive and
//     `Connection: close`) through rpwizard's nginx and Apache configs, the
//     vendors' configs as written, the vendor nginx config with upstream
//     keepalive added by hand, and the backend alone;
//  3. WebSocket capacity: 1k, 5k, 10k, 20k WebSockets opened and held;
//  4. self-test and `rpwizard --version` times, and testssl.sh findings;
//  5. WebSockets held through renewals (`rpwizard renew --force` against
//     Pebble, three in a row), WebSockets that join after them, and the
//     server processes of older generations that are left (issue #12).
//
// It writes docs/benchmarks.md and docs/benchmarks.png. It needs root and
// owns nginx, Apache, ports 80/443 and their configs while it runs, in
// sections of a few minutes under the host lock the tests share
// (/run/lock/rpwizard-tests.lock), restoring /etc after each. Missing
// Debian packages (certbot and its plugins, testssl.sh, wrk, pebble) are
// installed first.
//
//	sudo go run ./bench/cmd/rpwizard-bench            # from the repository root
//	sudo go run ./bench/cmd/rpwizard-bench -only tput -rounds 5
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type bench struct {
	ctx      context.Context
	dir      string // scratch directory
	self     string // this binary (backend and WebSocket client modes)
	rpwizard string // the rpwizard binary under test
	ca       *labCA
	snapshot string
	start    time.Time

	// flags
	rounds, tputRounds, versionRounds int
	wrkDur, hold                      time.Duration
	levels, apacheLevels              []int
	nginxWS, apacheWS                 int
	renewHeld, renewLate, renewalsN   int
	renewCompare                      bool
	only                              map[string]bool
	out                               string
	certbot                           bool
	retryAfter                        bool
	testssl                           bool
	compare, compareLabel             string

	res results
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6s] %s\n", time.Since(b.start).Round(time.Second), fmt.Sprintf(format, args...))
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "backend":
			os.Exit(runBackend(os.Args[2:]))
		case "wsclient":
			os.Exit(runWSClient(os.Args[2:]))
		case "wshold":
			os.Exit(runWSHold(os.Args[2:]))
		}
	}
	os.Exit(run())
}

func intList(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

func run() int {
	b := &bench{start: time.Now(), only: map[string]bool{}}
	var levels, apacheLevels, only string
	flag.IntVar(&b.rounds, "rounds", 5, "rounds of each whole-process time (time to HTTPS, self-test)")
	flag.IntVar(&b.tputRounds, "tput-rounds", 3, "rounds of each wrk measurement (configs in alternation)")
	flag.IntVar(&b.versionRounds, "version-rounds", 20, "runs of rpwizard --version")
	flag.DurationVar(&b.wrkDur, "wrk-duration", 5*time.Second, "length of one wrk run")
	flag.DurationVar(&b.hold, "hold", 30*time.Second, "how long WebSockets are held open")
	flag.StringVar(&levels, "ws-levels", "1000,5000,10000,20000", "concurrent WebSockets per level (nginx)")
	flag.StringVar(&apacheLevels, "apache-ws-levels", "1000,5000", "concurrent WebSockets per level (Apache: one thread per WebSocket, and kernel.pid_max bounds threads)")
	flag.IntVar(&b.nginxWS, "nginx-expected-websockets", 20000, "expected_websockets of rpwizard's nginx site in the WebSocket figure")
	flag.IntVar(&b.apacheWS, "apache-expected-websockets", 5000, "expected_websockets of rpwizard's Apache site in the WebSocket figure")
	flag.IntVar(&b.renewHeld, "renewal-held", 1500, "renewal figure: WebSockets opened before the first renewal and held through all of them")
	flag.IntVar(&b.renewLate, "renewal-late", 1500, "renewal figure: WebSockets opened after the first renewal (the site's expected_websockets is held + late)")
	flag.BoolVar(&b.renewCompare, "renewal-compare", true, "renewal figure: also Apache with sessions that came and went, with rpwizard's ServerLimit and with one cut to MaxRequestWorkers / ThreadsPerChild")
	flag.IntVar(&b.renewalsN, "renewals", 3, "renewal figure: renewals in a row (rpwizard renew --force against Pebble)")
	flag.StringVar(&only, "only", "", "run only these figures (comma-separated: https, tput, ws, selftest, testssl, renewal; report: rewrite the report from its stored data); the others are kept from -out if there")
	flag.StringVar(&b.out, "out", "docs/benchmarks.md", "the report to write (the chart goes next to it as .png)")
	flag.BoolVar(&b.certbot, "certbot", true, "time certbot too")
	flag.BoolVar(&b.retryAfter, "retry-after", true, "also time against Pebble 2.10 with Retry-After: 1 (built from the module cache)")
	flag.BoolVar(&b.testssl, "testssl", true, "run testssl.sh against the generated configs")
	flag.StringVar(&b.compare, "compare", "", "throughput: also measure the configs this other rpwizard `BINARY` writes (e.g. built before a template change)")
	flag.StringVar(&b.compareLabel, "compare-label", "before tuning", "throughput: name of the -compare configs")
	flag.Parse()
	b.levels, b.apacheLevels = intList(levels), intList(apacheLevels)
	for _, o := range strings.Split(only, ",") {
		if o = strings.TrimSpace(o); o != "" {
			b.only[o] = true
		}
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "rpwizard-bench: needs root (it runs nginx, Apache and certbot, binds 80/443, writes /etc and restores it)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	b.ctx = ctx
	if err := b.main(); err != nil {
		b.logf("FAILED: %v", err)
		return 1
	}
	b.logf("wrote %s in %s", b.out, time.Since(b.start).Round(time.Second))
	return 0
}

func (b *bench) want(fig string) bool { return len(b.only) == 0 || b.only[fig] }

func (b *bench) main() error {
	var err error
	b.dir, err = os.MkdirTemp("", "rpwizard-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(b.dir)
	os.Chmod(b.dir, 0o755) // nginx and Apache read the lab certificate here
	if b.self, err = os.Executable(); err != nil {
		return err
	}
	raiseNofile()
	if err := b.ensurePackages(); err != nil {
		return err
	}
	b.rpwizard = filepath.Join(b.dir, "rpwizard")
	b.logf("building rpwizard")
	if out, err := exec.Command("go", "build", "-o", b.rpwizard, "github.com/rpwizard/rpwizard").CombinedOutput(); err != nil {
		return fmt.Errorf("build rpwizard (run the bench from the repository): %v\n%s", err, out)
	}
	if b.ca, err = newLabCA(filepath.Join(b.dir, "lab")); err != nil {
		return err
	}
	b.res.load(b.out)
	ran := false
	for _, f := range []string{"https", "tput", "ws", "selftest", "testssl", "renewal"} {
		ran = ran || b.want(f)
	}
	if ran {
		b.res.Machine, b.res.Date = machine(), ""
	}
	figures := []struct {
		name string
		run  func() error
	}{
		{"https", b.timeToHTTPS},
		{"tput", b.throughputFigure},
		{"ws", b.websockets},
		{"selftest", b.selfTestTimes},
		{"testssl", b.runTestssl},
		{"renewal", b.renewals},
	}
	for _, f := range figures {
		if !b.want(f.name) || (f.name == "testssl" && !b.testssl) {
			continue
		}
		if err := f.run(); err != nil {
			return err
		}
		if b.res.Runs == nil {
			b.res.Runs = map[string]string{}
		}
		b.res.Runs[f.name] = fmt.Sprintf("rpwizard %s, %s", b.res.Machine.Rpwizard, time.Now().UTC().Format("2006-01-02 15:04 MST"))
	}
	if ran && len(b.only) == 0 {
		b.res.Took = time.Since(b.start).Round(time.Second).String()
	}
	return b.res.write(b.out)
}
