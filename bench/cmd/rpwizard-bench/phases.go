package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// websockets holds 1k, 5k, 10k, 20k WebSockets through each config, one
// host-lock section per config. A config that held fewer than half of a
// level is not tried at the higher ones (they would only wait for
// time-outs); the report says so.
func (b *bench) websockets() error {
	b.res.WS = nil
	type cfg struct {
		pc     proxyConfig
		ws     int
		levels []int
	}
	var list []cfg
	for _, c := range proxyConfigs() {
		switch c.Name {
		case "rpwizard nginx":
			list = append(list, cfg{c, b.nginxWS, b.levels})
		case "vendor nginx (JATOS doc)":
			list = append(list, cfg{c, 0, b.levels})
		case "rpwizard Apache":
			list = append(list, cfg{c, b.apacheWS, b.apacheLevels})
		case "vendor Apache (JATOS doc)":
			list = append(list, cfg{c, 0, b.apacheLevels})
		}
	}
	for _, c := range list {
		name := c.pc.Name
		if c.ws > 0 {
			name = fmt.Sprintf("%s, expected_websockets %d", c.pc.Name, c.ws)
		}
		err := b.section("WebSockets through "+name, func(ctx context.Context) error {
			be, err := b.startBackends("127.0.0.1:9000", 2)
			if err != nil {
				return err
			}
			defer be.stop()
			if err := b.fresh(); err != nil {
				return err
			}
			if err := c.pc.setup(b, c.ws); err != nil {
				return err
			}
			stopped := false
			for _, level := range c.levels {
				if stopped {
					b.res.WS = append(b.res.WS, wsResult{Config: name, Level: level, Opened: -1})
					continue
				}
				r, err := b.wsLevel(ctx, name, level)
				if err != nil {
					return err
				}
				b.logf("   %-60s %6d: opened %6d held %6d  handshake p50 %s p99 %s ms  echo p50 %s p99 %s ms  errors %v (opening took %.1f s)",
					name, level, r.Opened, r.Held, ms(r.HandshakeP50), ms(r.P99), ms(r.EchoP50), ms(r.EchoP99), r.Errors, r.OpenSecs)
				b.res.WS = append(b.res.WS, r)
				stopped = r.Held < level/2
				// Let the proxies and the kernel forget the closed
				// connections before the next level.
				time.Sleep(2 * time.Second)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// selfTestTimes times `rpwizard selftest` on a healthy site (nginx and
// Apache) and `rpwizard --version`.
func (b *bench) selfTestTimes() error {
	b.res.SelfTest = nil
	for _, server := range []string{"nginx", "apache"} {
		err := b.section("self-test "+server, func(ctx context.Context) error {
			be, err := b.rpwizardSite(server)
			if err != nil {
				return err
			}
			defer be.stop()
			f := filepath.Join(b.dir, "answers-"+server+".yaml")
			t := timing{Name: "rpwizard selftest --hold 0 (" + server + ", healthy site)"}
			for i := 0; i < b.rounds+1; i++ {
				cmd := exec.CommandContext(ctx, b.rpwizard, "selftest", "--answers", f, "--ca-bundle", b.ca.Root, "--resolve", "127.0.0.1", "--hold", "0")
				start := time.Now()
				out, err := cmd.CombinedOutput()
				d := time.Since(start)
				if err != nil {
					t.Failed++
					b.logf("   selftest failed: %v\n%s", err, out)
					continue
				}
				if i > 0 { // the first run warms the page cache
					t.Secs = append(t.Secs, d.Seconds())
				}
			}
			t.S = summarize(t.Secs)
			b.logf("   %s: %s s", t.Name, t.S.fmtRange("%.2f"))
			b.res.SelfTest = append(b.res.SelfTest, t)
			return nil
		})
		if err != nil {
			return err
		}
	}
	t := timing{Name: "rpwizard --version"}
	for i := 0; i < b.versionRounds+1; i++ {
		start := time.Now()
		if err := exec.Command(b.rpwizard, "--version").Run(); err != nil {
			return err
		}
		if i > 0 {
			t.Secs = append(t.Secs, time.Since(start).Seconds())
		}
	}
	t.S = summarize(t.Secs)
	b.logf("   %s: %s ms", t.Name, summary{t.S.Median * 1000, t.S.Min * 1000, t.S.Max * 1000, t.S.N}.fmtRange("%.1f"))
	b.res.SelfTest = append(b.res.SelfTest, t)
	_ = os.Getpid
	return nil
}
