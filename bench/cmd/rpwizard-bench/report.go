package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// results are everything the report shows. They are kept, as JSON, in a
// comment at the end of the report, so that `-only` reruns one figure and
// keeps the others.
type results struct {
	Machine machineInfo
	Date    string
	Took    string
	// Runs says, per figure (https, tput, ws, selftest, testssl, renewal), which
	// rpwizard and when: -only reruns replace some figures and keep others.
	Runs     map[string]string
	HTTPS    []httpsResult
	Tput     []*tputResult
	WS       []wsResult
	SelfTest []timing
	TLS      []tlsResult
	Renewal  []renewalResult `json:",omitempty"`
}

type machineInfo struct {
	Cores                                        int
	CPU, Kernel, OS, Nginx, Apache, Certbot, Go  string
	Pebble, Wrk, Testssl, OpenSSL, Rpwizard, Mem string
}

// timing is a whole-process time measured in rounds.
type timing struct {
	Name   string
	Secs   []float64
	Failed int
	S      summary
}

func first(out []byte) string {
	s := strings.TrimSpace(string(out))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func cmdOut(argv ...string) string {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "?"
	}
	return first(out)
}

func dpkgVersion(pkg string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", pkg).Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

func machine() machineInfo {
	m := machineInfo{Cores: runtime.NumCPU(), Kernel: cmdOut("uname", "-r"), Go: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if mm := regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`).FindSubmatch(data); mm != nil {
			m.CPU = string(mm[1])
		}
	}
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		if mm := regexp.MustCompile(`(?m)^PRETTY_NAME="?([^"\n]+)`).FindSubmatch(data); mm != nil {
			m.OS = string(mm[1])
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		fmt.Sscanf(strings.TrimPrefix(first(data), "MemTotal:"), "%d", &kb)
		m.Mem = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
	}
	m.Nginx = strings.TrimPrefix(cmdOut("nginx", "-v"), "nginx version: ")
	m.Apache = strings.TrimPrefix(cmdOut("apache2", "-v"), "Server version: ")
	m.Certbot = cmdOut("certbot", "--version")
	m.Pebble = "Debian pebble " + dpkgVersion("pebble")
	m.Wrk = "wrk " + dpkgVersion("wrk")
	m.Testssl = "testssl.sh " + dpkgVersion("testssl.sh")
	m.OpenSSL = cmdOut("openssl", "version")
	m.Rpwizard = strings.TrimSpace(cmdOut("git", "describe", "--always", "--dirty"))
	return m
}

const dataMarker = "<!-- rpwizard-bench data: "

func (r *results) load(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	i := bytes.Index(data, []byte(dataMarker))
	if i < 0 {
		return
	}
	rest := data[i+len(dataMarker):]
	j := bytes.Index(rest, []byte(" -->"))
	if j < 0 {
		return
	}
	json.Unmarshal(rest[:j], r)
}

func (r *results) write(path string) error {
	if r.Date == "" {
		r.Date = time.Now().UTC().Format("2006-01-02 15:04 MST")
	}
	png := strings.TrimSuffix(path, filepath.Ext(path)) + ".png"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(png, r.chart(), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	r.markdown(&b, filepath.Base(png))
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store the results: %w", err)
	}
	fmt.Fprintf(&b, "\n%s%s -->\n", dataMarker, data)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func (r *results) findTiming(list []timing, name string) *timing {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

func (r *results) tput(name string) *tputResult {
	for _, t := range r.Tput {
		if t.Config == name {
			return t
		}
	}
	return nil
}

func ms(v float64) string {
	if math.IsNaN(v) || v < 0 {
		return "–"
	}
	if v < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}
