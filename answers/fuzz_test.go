package answers

// Fuzzing. The seed corpus (the examples, the cases below and the
// findings in testdata/fuzz/FuzzLoad) runs in every `go test`. A longer
// run, one target at a time (the fuzzer uses every core):
//
//	go test -run='^$' -fuzz=FuzzLoad -fuzztime=3m ./answers/
//
// What a run found is added to testdata/fuzz/FuzzLoad and fixed; see the
// "Fuzzing" section of README.md for the runs so far.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// FuzzLoad decodes and validates arbitrary bytes. Properties:
//   - it returns within 10 s, without panicking, either answers or an *Error (exit
//     status 2), whose message is at most maxProblems+1 lines;
//   - answers that validate survive saving: Marshal, Decode, Validate and
//     Marshal again give the same file (saved answers always load again,
//     and a second run changes nothing).
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("../examples/*.yaml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"app: generic\nserver: nginx\ndomain: a.test\nupstream: 127.0.0.1:8080\nbase_path: /x/../y/./\nrestrict: {admin_networks: [10.0.0.1/8], admin_paths: [/a, /a/]}\ntls: {mode: self-signed}\n",
		"app: jupyterhub\nserver: apache\ndomain: Hub.Example.ORG.\naliases: [b.example.org]\nupstream: localhost:8000\nbase_path: /jhub/..\ntls: {mode: acme, challenge: dns-01, dns_provider: rfc2136}\n",
		"app: jatos\nserver: nginx\ndomain: a.test\nexpected_websockets: 1.5\ntls: {mode: self-signed}\n",
		"app: jatos\n---\napp: generic\n",
		"app: [jatos]\n",
		"\x00\xff",
		"a: &a [*a, *a]\nb: *a\n",
		"tls:\n  mode: existing\n  cert_file: /dev/zero\n  key_file: /dev/zero\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A hang is a finding too: the fuzzer alone would wait for ever.
		watchdog := time.AfterFunc(10*time.Second, func() {
			buf := make([]byte, 1<<20)
			panic(fmt.Sprintf("Decode+Validate of %q took over 10 s:\n%s", data, buf[:runtime.Stack(buf, true)]))
		})
		defer watchdog.Stop()
		a, lines, err := Decode("f.yaml", data)
		if err != nil {
			mustBeInvalid(t, err)
			return
		}
		err = a.Validate([]string{"nginx"})
		if err != nil {
			mustBeInvalid(t, err)
			for _, p := range err.(*Error).Problems {
				p.Line = lines.lineOf(p.Key)
			}
			return
		}
		saved, err := a.Marshal()
		if err != nil {
			t.Fatalf("valid answers do not marshal: %v", err)
		}
		b, _, err := Decode("saved.yaml", saved)
		if err != nil {
			t.Fatalf("saved answers do not decode: %v\n%s", err, saved)
		}
		if err := b.Validate([]string{"nginx"}); err != nil {
			t.Fatalf("saved answers do not validate: %v\n%s", err, saved)
		}
		again, err := b.Marshal()
		if err != nil || !bytes.Equal(saved, again) {
			t.Fatalf("saving changed the answers:\n%s\n%s", saved, again)
		}
	})
}

func mustBeInvalid(t *testing.T, err error) {
	t.Helper()
	if !IsInvalid(err) {
		t.Fatalf("not a validation error (exit 2): %T %v", err, err)
	}
	if n := strings.Count(err.Error(), "\n"); n > maxProblems+1 {
		t.Fatalf("message of %d lines", n)
	}
}
