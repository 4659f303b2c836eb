package wizard

import (
	"bufio"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/rpwizard/rpwizard/answers"
)

// Each Read gives at most one line, so a new bufio.Scanner per prompt
// (as huh's accessible mode makes) gets exactly one answer.
func TestLineReaderOneLinePerScanner(t *testing.T) {
	lr := newLineReader(strings.NewReader("one\ntwo\n\nlast"))
	var got []string
	for i := 0; i < 4; i++ {
		sc := bufio.NewScanner(lr)
		if !sc.Scan() {
			t.Fatalf("scan %d failed", i)
		}
		got = append(got, sc.Text())
	}
	if want := []string{"one", "two", "", "last"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	select {
	case <-lr.Ended():
		t.Fatal("Ended before any prompt ran out of input")
	default:
	}
	go bufio.NewScanner(lr).Scan() // blocks for good
	select {
	case <-lr.Ended():
	case <-time.After(2 * time.Second):
		t.Fatal("Ended not closed when the input ran out")
	}
}

func TestLineWriter(t *testing.T) {
	var lines []string
	w := newLineWriter(func(l string) { lines = append(lines, l) })
	w.Write([]byte("2026/11/23 [INFO] a\r\nb"))
	w.Write([]byte("c\nd"))
	w.Flush()
	if want := []string{"2026/11/23 [INFO] a", "bc", "d"}; !reflect.DeepEqual(lines, want) {
		t.Errorf("got %q, want %q", lines, want)
	}
}

func TestListenerOn(t *testing.T) {
	ap := netip.MustParseAddrPort
	l, ok := listenerOn([]netip.AddrPort{ap("[::]:9000"), ap("127.0.0.1:8000")}, 9000)
	if !ok || l.Upstream != "127.0.0.1:9000" || !l.AllInterfaces {
		t.Errorf("all interfaces: %+v %v", l, ok)
	}
	l, ok = listenerOn([]netip.AddrPort{ap("[::1]:8000"), ap("127.0.0.1:8000")}, 8000)
	if !ok || l.Upstream != "127.0.0.1:8000" || l.AllInterfaces {
		t.Errorf("loopback: %+v %v", l, ok)
	}
	if _, ok := listenerOn([]netip.AddrPort{ap("127.0.0.1:8000")}, 9000); ok {
		t.Error("found a listener on a port nobody listens on")
	}
}

func TestSaveAnswers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc", "rpwizard")
	path := filepath.Join(dir, "answers.yaml")
	a := &answers.Answers{App: "jatos", Server: "nginx", Domain: "wiz.test", TLS: answers.TLS{Mode: "self-signed"}}
	if err := a.Validate([]string{"nginx"}); err != nil {
		t.Fatal(err)
	}
	if err := SaveAnswers(path, a); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	back, err := answers.Load(path, []string{"nginx", "apache"})
	if err != nil || !reflect.DeepEqual(back, a) {
		t.Errorf("loaded back %+v, %v", back, err)
	}
	for _, bad := range []string{"", "answers.yaml", dir} {
		if SaveAnswers(bad, a) == nil {
			t.Errorf("saved to %q", bad)
		}
	}
}

// Under NO_COLOR the wizard's own styles use no colour, only bold and
// reverse video; the accessible styles use nothing at all.
func TestPlainStylesHaveNoColour(t *testing.T) {
	st := NewStyles(true)
	b := newFakeBackend(t)
	p, _ := b.Plan(t.Context(), &answers.Answers{App: "jatos", Server: "nginx", Domain: "wiz.test", Upstream: "127.0.0.1:9000", BasePath: "/", TLS: answers.TLS{Mode: "self-signed"}})
	out := renderPlan(p, st) + titleBar(st, "x", 80) + st.OK.Render("✓") + st.Fail.Render("✗")
	if colourSGR(NewStyles(false).OK.Render("✓")) == "" {
		t.Fatal("colourSGR finds no colour in coloured styles")
	}
	if c := colourSGR(out); c != "" {
		t.Errorf("colour escape %q under NO_COLOR", c)
	}
	if s := renderPlan(p, Styles{}); strings.Contains(s, "\x1b") {
		t.Error("accessible plan contains escape codes")
	}
}

func TestWrapText(t *testing.T) {
	in := "  - write /etc/nginx/sites-available/rpwizard-wiz.test.conf (0644)  # the site of a very long app name\n" +
		"    +MIIBqzCCAVKgAwIBAgIQX5BI/VuokOULl0vn2KSejjAKBggqhkjOPQQDAjAyMR0wGwYDVQQKExRycHdpemFyZCBzZWxm\nshort"
	out := wrapText(in, 40)
	for _, l := range strings.Split(out, "\n") {
		if ansi.StringWidth(l) > 40 {
			t.Errorf("line wider than 40: %q", l)
		}
	}
	if !strings.Contains(out, "\n    ") || !strings.Contains(out, "\n    + ") || !strings.HasSuffix(out, "\nshort") {
		t.Errorf("no hanging indent, or the diff line's marker is lost:\n%s", out)
	}
	unwrapped := strings.ReplaceAll(out, "\n    + ", "\n")
	if strings.ReplaceAll(strings.ReplaceAll(unwrapped, "\n", ""), " ", "") != strings.ReplaceAll(strings.ReplaceAll(in, "\n", ""), " ", "") {
		t.Error("wrapping lost or changed text")
	}
}

// colourSGR returns the first SGR sequence in s that sets a colour.
func colourSGR(s string) string {
	for _, m := range regexp.MustCompile(`\x1b\[([0-9;:]*)m`).FindAllStringSubmatch(s, -1) {
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
			n, _ := strconv.Atoi(p)
			if (n >= 30 && n <= 38) || (n >= 40 && n <= 48) || (n >= 90 && n <= 97) || (n >= 100 && n <= 107) {
				return m[0]
			}
		}
	}
	return ""
}

// A wrapped diff line keeps its marker, so that a continuation of an
// added line cannot be read as context.
func TestWrapKeepsDiffMarkers(t *testing.T) {
	var b strings.Builder
	writeDiff(&b, "--- a\n+++ b\n@@ -1 +1 @@\n-"+strings.Repeat("old ", 20)+"\n+"+strings.Repeat("new ", 20)+"\n "+strings.Repeat("same ", 20)+"\n", Styles{})
	out := wrapText(b.String(), 40)
	var got []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "old") || strings.Contains(l, "new") || strings.Contains(l, "same") {
			got = append(got, strings.TrimSpace(l)[:1])
		}
	}
	want := []string{"-", "-", "-", "+", "+", "+", "s", "s", "s", "s"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("first characters %q, want %q:\n%s", got, want, out)
	}
}
