package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// syscallCount is the proxy's system calls per proxied request: a figure
// that other load on the machine does not move at all, unlike req/s and
// CPU time, so it shows what a config change saves.
type syscallCount struct {
	PerRequest float64
	Top        []syscallRate // the most frequent, most first
}

type syscallRate struct {
	Name       string
	PerRequest float64
}

func (s syscallCount) String() string {
	if s.PerRequest == 0 {
		return "–"
	}
	var parts []string
	for _, t := range s.Top {
		parts = append(parts, fmt.Sprintf("%s %.1f", t.Name, t.PerRequest))
	}
	return fmt.Sprintf("%.1f (%s)", s.PerRequest, strings.Join(parts, ", "))
}

// countSyscalls runs strace -c on every nginx/apache2 process (all their
// threads) during a 3-second keep-alive wrk run against url. strace slows
// the proxy down many times; only the counts per request are used.
func (b *bench) countSyscalls(ctx context.Context, url string) (syscallCount, error) {
	out := filepath.Join(b.dir, "strace.txt")
	pids := proxyCPU()
	if len(pids) == 0 {
		return syscallCount{}, fmt.Errorf("strace: no nginx or apache2 process")
	}
	args := []string{"-c", "-f", "-o", out}
	for pid := range pids {
		args = append(args, "-p", strconv.Itoa(pid))
	}
	cmd := exec.CommandContext(ctx, "strace", args...)
	if err := cmd.Start(); err != nil {
		return syscallCount{}, fmt.Errorf("strace: %w", err)
	}
	time.Sleep(500 * time.Millisecond) // attached to every thread
	run, err := b.wrk(ctx, url, 3*time.Second, false)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if err != nil {
		return syscallCount{}, err
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return syscallCount{}, fmt.Errorf("strace: %w", err)
	}
	return parseStraceSummary(string(data), run.Requests)
}

// parseStraceSummary reads the table of strace -c: "% time, seconds,
// usecs/call, calls, [errors,] syscall" rows and a "total" row.
func parseStraceSummary(out string, requests int) (syscallCount, error) {
	if requests <= 0 {
		return syscallCount{}, fmt.Errorf("strace: no requests counted")
	}
	var c syscallCount
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		calls, err := strconv.Atoi(f[3])
		if err != nil {
			continue
		}
		rate := float64(calls) / float64(requests)
		if name := f[len(f)-1]; name == "total" {
			c.PerRequest = rate
		} else {
			c.Top = append(c.Top, syscallRate{name, rate})
		}
	}
	if c.PerRequest == 0 {
		return c, fmt.Errorf("strace: no total in its summary:\n%s", out)
	}
	sort.SliceStable(c.Top, func(i, j int) bool { return c.Top[i].PerRequest > c.Top[j].PerRequest })
	var top []syscallRate
	for _, t := range c.Top {
		if len(top) < 8 && t.PerRequest >= 0.05 {
			top = append(top, t)
		}
	}
	c.Top = top
	return c, nil
}
