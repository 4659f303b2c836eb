package selftest

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// checkStreaming fetches a slow answer from the probe (a line every
// streamGap) and times the lines as they arrive. A proxy that buffers
// responses hands them over all at once at the end: JupyterHub's spawn
// progress then sits at 0 and jumps to done, server-sent events arrive
// late. The probe location is proxied like the app's locations, so this
// tests the app's buffering settings. It asks over HTTP/1.1: over HTTP/2,
// nginx 1.22 passed each line on at once even with proxy_buffering on, so
// only HTTP/1.1 clients (curl, scripts, a load balancer in front) see the
// difference.
func (r *runner) checkStreaming(ctx context.Context) Check {
	if c, ok := r.needProbe(); !ok {
		return c
	}
	if !r.t.Streaming {
		return Check{Status: Skip, Detail: "not needed: the app does not stream its answers"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.httpsURL(ProbePath+"?stream=1&rpwizard="+nonce()), nil)
	if err != nil {
		return Check{Status: Fail, Detail: err.Error()}
	}
	start := time.Now()
	resp, err := r.lo1.Do(req)
	if err != nil {
		return Check{Status: Fail, Detail: fmt.Sprintf("GET %s: %v", ProbePath, unwrapURLError(err)),
			Cause: "The probe location does not answer a streamed request.",
			Fix:   probeLogFix}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get(ProbeHeader) != "1" {
		return Check{Status: Fail, Detail: fmt.Sprintf("probe answered %s", statusText(resp.StatusCode)),
			Cause: "The streamed request did not reach the probe.", Fix: probeLogFix}
	}
	var at []time.Duration
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "chunk ") {
			at = append(at, time.Since(start))
		}
	}
	if err := sc.Err(); err != nil {
		return Check{Status: Fail, Detail: fmt.Sprintf("reading the streamed answer: %v", err),
			Cause: "The proxy cut the streamed answer off.", Fix: probeLogFix}
	}
	if len(at) != streamChunks {
		return Check{Status: Fail, Detail: fmt.Sprintf("%d of %d lines arrived", len(at), streamChunks),
			Cause: "The proxy changed the streamed answer.", Fix: probeLogFix}
	}
	spread := at[len(at)-1] - at[0]
	sent := time.Duration(streamChunks-1) * streamGap
	detail := fmt.Sprintf("%d lines sent %v apart arrived at %s", streamChunks, streamGap, durations(at))
	if spread < sent/2 {
		return Check{Status: Fail, Detail: detail + ": held back and delivered at once",
			Cause: "The proxy buffers the app's answers until they are complete: JupyterHub's spawn progress sits at 0 and then jumps to done, and server-sent events and long downloads arrive late.",
			Fix: r.fix("Add proxy_buffering off; to the app's locations (and to the probe location).",
				"Add flushpackets=on to the ProxyPass lines of the app (and of the probe).")}
	}
	return Check{Status: Pass, Detail: detail}
}

// durations prints arrival times in milliseconds: "2, 253, 504 ms".
func durations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprint(d.Milliseconds())
	}
	return strings.Join(parts, ", ") + " ms"
}

// probeLogFix is the advice when the probe location answers oddly.
const probeLogFix = "Read the proxy's error log for " + ProbePath + "."
