package main

import (
	"context"
	"fmt"
	"time"
)

// proxyConfig is one contestant of the throughput and WebSocket figures:
// how to put it in place on a fresh host.
type proxyConfig struct {
	Name   string
	Server string // nginx, apache, or "" for the backend alone
	URL    string
	setup  func(b *bench, expectedWS int) error
}

func proxyConfigs() []proxyConfig {
	rp := func(server string) func(b *bench, ws int) error {
		return func(b *bench, ws int) error {
			if err := startServer(server); err != nil {
				return err
			}
			return b.applyRpwizard(server, ws)
		}
	}
	vendor := func(server string, conf func(*labCA) string) func(b *bench, ws int) error {
		return func(b *bench, ws int) error {
			if err := installVendor(server, conf(b.ca)); err != nil {
				return err
			}
			return startServer(server)
		}
	}
	list := []proxyConfig{
		{Name: "backend alone (no proxy, no TLS)", URL: "http://127.0.0.1:9000/", setup: func(*bench, int) error { return nil }},
		{Name: "rpwizard nginx", Server: "nginx", URL: "https://127.0.0.1/", setup: rp("nginx")},
		{Name: "vendor nginx (JATOS doc)", Server: "nginx", URL: "https://127.0.0.1/", setup: vendor("nginx", func(ca *labCA) string { return vendorNginxConf(ca, false) })},
		{Name: "vendor nginx + upstream keepalive by hand", Server: "nginx", URL: "https://127.0.0.1/", setup: vendor("nginx", func(ca *labCA) string { return vendorNginxConf(ca, true) })},
		{Name: "rpwizard Apache", Server: "apache", URL: "https://127.0.0.1/", setup: rp("apache")},
		{Name: "vendor Apache (JATOS doc)", Server: "apache", URL: "https://127.0.0.1/", setup: vendor("apache", vendorApacheConf)},
	}
	return list
}

// compareConfigs are rpwizard's configs as another rpwizard binary writes
// them (-compare BIN: the templates before a tuning change), measured in
// the same alternation as the rest.
func compareConfigs(bin, label string) []proxyConfig {
	var out []proxyConfig
	for _, server := range []string{"nginx", "apache"} {
		name := map[string]string{"nginx": "rpwizard nginx", "apache": "rpwizard Apache"}[server] + " (" + label + ")"
		out = append(out, proxyConfig{Name: name, Server: server, URL: "https://127.0.0.1/", setup: func(b *bench, ws int) error {
			if err := startServer(server); err != nil {
				return err
			}
			saved := b.rpwizard
			b.rpwizard = bin
			defer func() { b.rpwizard = saved }()
			return b.applyRpwizard(server, ws)
		}})
	}
	return out
}

// tputResult collects the rounds of one config.
type tputResult struct {
	Config             string
	KA, Close          []wrkRun
	KARPS, CloseRPS    summary
	KAP50, KAP99       summary
	CloseP50, CloseP99 summary
	KACPU, CloseCPU    summary
	Errors             int
	Syscalls           syscallCount // round 1, keep-alive, under strace
}

func (r *tputResult) finish() {
	var a, b, c, d, e, f, g, h []float64
	for _, w := range r.KA {
		a, c, d = append(a, w.RPS), append(c, w.P50), append(d, w.P99)
		if w.CPU > 0 {
			g = append(g, w.CPU)
		}
		r.Errors += w.Errors
	}
	for _, w := range r.Close {
		b, e, f = append(b, w.RPS), append(e, w.P50), append(f, w.P99)
		if w.CPU > 0 {
			h = append(h, w.CPU)
		}
		r.Errors += w.Errors
	}
	r.KACPU, r.CloseCPU = summarize(g), summarize(h)
	r.KARPS, r.CloseRPS, r.KAP50, r.KAP99, r.CloseP50, r.CloseP99 = summarize(a), summarize(b), summarize(c), summarize(d), summarize(e), summarize(f)
}

// throughputFigure measures the throughput figure: nginx's configs, then
// Apache's.
func (b *bench) throughputFigure() error {
	b.res.Tput = nil
	for _, s := range []string{"nginx", "apache"} {
		r, err := b.throughput(s)
		if err != nil {
			return err
		}
		b.res.Tput = append(b.res.Tput, r...)
	}
	return nil
}

// throughput measures every config of server ("nginx" takes the backend
// alone too) in alternation: round 1 A B C, round 2 A B C, … Each config
// is put in place on a fresh host before its runs.
func (b *bench) throughput(server string) ([]*tputResult, error) {
	var configs []proxyConfig
	all := proxyConfigs()
	if b.compare != "" {
		all = append(all, compareConfigs(b.compare, b.compareLabel)...)
	}
	for _, c := range all {
		if c.Server == server || (server == "nginx" && c.Server == "") {
			configs = append(configs, c)
		}
	}
	results := make([]*tputResult, len(configs))
	for i, c := range configs {
		results[i] = &tputResult{Config: c.Name}
	}
	err := b.section("throughput "+server, func(ctx context.Context) error {
		be, err := b.startBackends("127.0.0.1:9000", 1)
		if err != nil {
			return err
		}
		defer be.stop()
		for round := 1; round <= b.tputRounds; round++ {
			for i, c := range configs {
				if err := b.fresh(); err != nil {
					return err
				}
				if err := c.setup(b, 0); err != nil {
					return fmt.Errorf("%s: %w", c.Name, err)
				}
				// Warm up: connections, TLS caches, the backend's pools.
				if _, err := b.wrk(ctx, c.URL, time.Second, false); err != nil {
					return fmt.Errorf("%s: %w", c.Name, err)
				}
				ka, err := b.wrk(ctx, c.URL, b.wrkDur, false)
				if err != nil {
					return err
				}
				cl, err := b.wrk(ctx, c.URL, b.wrkDur, true)
				if err != nil {
					return err
				}
				results[i].KA = append(results[i].KA, ka)
				results[i].Close = append(results[i].Close, cl)
				if round == 1 && c.Server != "" {
					if results[i].Syscalls, err = b.countSyscalls(ctx, c.URL); err != nil {
						return fmt.Errorf("%s: %w", c.Name, err)
					}
					b.logf("   %-45s system calls per request: %s", c.Name, results[i].Syscalls)
				}
				b.logf("   round %d %-45s keep-alive %8.0f req/s p50 %6.2f ms p99 %6.2f ms %5.0f µs CPU/req | close %7.0f req/s p99 %6.2f ms %5.0f µs CPU/req | errors %d",
					round, c.Name, ka.RPS, ka.P50, ka.P99, ka.CPU, cl.RPS, cl.P99, cl.CPU, ka.Errors+cl.Errors)
			}
		}
		return nil
	})
	for _, r := range results {
		r.finish()
	}
	return results, err
}
