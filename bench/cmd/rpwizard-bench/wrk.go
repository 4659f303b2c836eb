package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// wrkRun is one wrk run.
type wrkRun struct {
	RPS      float64
	P50, P99 float64 // ms
	Errors   int     // socket errors and non-2xx/3xx answers
	Requests int
	// CPU is the proxy's CPU time per request (µs): user and system time
	// of every nginx or apache2 process over the run, divided by the
	// requests. Other load on the machine barely moves it, unlike req/s.
	CPU float64
}

var (
	reWrkRPS     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reWrkLatency = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	reWrkErrors  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reWrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	reWrkReqs    = regexp.MustCompile(`(\d+) requests in`)
)

// parseWrk reads wrk --latency output.
func parseWrk(out string) (wrkRun, error) {
	var r wrkRun
	m := reWrkRPS.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk output:\n%s", out)
	}
	r.RPS, _ = strconv.ParseFloat(m[1], 64)
	for _, m := range reWrkLatency.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		switch m[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if m[1] == "50" {
			r.P50 = v
		} else {
			r.P99 = v
		}
	}
	if m := reWrkErrors.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(s)
			r.Errors += n
		}
	}
	if m := reWrkNon2xx.FindStringSubmatch(out); m != nil {
		n, _ := strconv.Atoi(m[1])
		r.Errors += n
	}
	if m := reWrkReqs.FindStringSubmatch(out); m != nil {
		r.Requests, _ = strconv.Atoi(m[1])
	}
	return r, nil
}

// wrk runs wrk with 64 connections against url (Host: domain), with
// keep-alive or with `Connection: close` (a new connection, and over TLS a
// full handshake, per request).
func (b *bench) wrk(ctx context.Context, url string, d time.Duration, close bool) (wrkRun, error) {
	args := []string{"-t2", "-c64", "-d" + fmt.Sprint(int(d.Seconds())) + "s", "--latency", "--timeout", "5s", "-H", "Host: " + domain}
	if close {
		args = append(args, "-H", "Connection: close")
	}
	c0 := proxyCPU()
	out, err := exec.CommandContext(ctx, "wrk", append(args, url)...).CombinedOutput()
	c1 := proxyCPU()
	if err != nil {
		return wrkRun{}, fmt.Errorf("wrk %s: %v\n%s", url, err, out)
	}
	r, err := parseWrk(string(out))
	if r.Requests > 0 {
		var used float64
		for pid, t := range c1 {
			used += t - c0[pid] // a process started during the run counts whole
		}
		r.CPU = used * 1e6 / float64(r.Requests)
	}
	return r, err
}

// proxyCPU is the CPU time (seconds) each live nginx/apache2 process used
// so far: its user and system time and that of the children it reaped.
// Processes that end during a run (the workers of a server stopped just
// before) are left out by comparing per process.
func proxyCPU() map[int]float64 {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	out := map[int]float64{}
	for _, f := range stats {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(data)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		if comm := s[open+1 : end]; comm != "nginx" && comm != "apache2" {
			continue
		}
		fields := strings.Fields(s[end+1:])
		pid, _ := strconv.Atoi(strings.TrimSpace(s[:open]))
		// fields[0] is the state (field 3); utime..cstime are fields 14–17.
		for _, i := range []int{11, 12, 13, 14} {
			if i < len(fields) {
				v, _ := strconv.ParseFloat(fields[i], 64)
				out[pid] += v / 100 // USER_HZ
			}
		}
	}
	return out
}

// percentile of values (ms), nearest rank; NaN when empty.
func percentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return -1 // none (JSON has no NaN)
	}
	v := append([]float64(nil), values...)
	sort.Float64s(v)
	i := int(math.Ceil(p/100*float64(len(v)))) - 1
	return v[max(0, min(i, len(v)-1))]
}

// summary is the median and range of repeated measurements.
type summary struct {
	Median, Min, Max float64
	N                int
}

func summarize(values []float64) summary {
	if len(values) == 0 {
		return summary{} // N 0: shown as "–"
	}
	v := append([]float64(nil), values...)
	sort.Float64s(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return summary{Median: med, Min: v[0], Max: v[len(v)-1], N: len(v)}
}

// fmtRange prints "median (min–max)" with the given format.
func (s summary) fmtRange(format string) string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 {
		return fmt.Sprintf(format, s.Median)
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", s.Median, s.Min, s.Max)
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
