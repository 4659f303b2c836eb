package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpwizard/rpwizard/internal/testenv"
	"github.com/rpwizard/rpwizard/internal/testpebble"
)

// startWithoutSites empties the owned host of rpwizard's sites, runs and
// certificates, whatever an earlier test left (ownHost restores them).
func startWithoutSites(t *testing.T) {
	t.Helper()
	for _, p := range []string{"/etc/rpwizard", "/var/lib/rpwizard", "/etc/cron.d/rpwizard"} {
		os.RemoveAll(p)
	}
	for _, pattern := range []string{"/etc/nginx/sites-*/rpwizard-*", "/etc/apache2/sites-*/rpwizard-*"} {
		old, _ := filepath.Glob(pattern)
		for _, p := range old {
			os.Remove(p)
		}
	}
}

// fileHashes fingerprints each path (content, mode, link target).
func fileHashes(t *testing.T, paths ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		v := fi.Mode().String()
		if l, err := os.Readlink(p); err == nil {
			v += " -> " + l
		} else {
			data, _ := os.ReadFile(p)
			sum := sha256.Sum256(data)
			v += " " + hex.EncodeToString(sum[:])
		}
		out[p] = v
	}
	return out
}

func sameHashes(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for p, v := range before {
		if after[p] != v {
			t.Errorf("%s: %s changed: %s -> %s", what, p, v, after[p])
		}
	}
}

// siteFiles are the files of an applied self-signed site.
func siteFiles(server, domain string) []string {
	dir := "/etc/nginx"
	if server == "apache" {
		dir = "/etc/apache2"
	}
	return []string{
		dir + "/sites-available/rpwizard-" + domain + ".conf",
		dir + "/sites-enabled/rpwizard-" + domain + ".conf",
		"/etc/rpwizard/sites/" + domain + ".yaml",
		"/etc/rpwizard/certs/" + domain + "/fullchain.pem",
		"/etc/rpwizard/certs/" + domain + "/privkey.pem",
	}
}

type listJSON struct {
	Schema int `json:"schema"`
	Sites  []struct {
		Domain      string `json:"domain"`
		App         string `json:"app"`
		Server      string `json:"server"`
		Upstream    string `json:"upstream"`
		Problem     string `json:"problem"`
		Certificate *struct {
			Source   string `json:"source"`
			NotAfter string `json:"not_after"`
		} `json:"certificate"`
		Renewal *struct {
			Managed bool   `json:"managed"`
			Summary string `json:"summary"`
		} `json:"renewal"`
		LastTest *struct {
			Verdict string `json:"verdict"`
			Time    string `json:"time"`
		} `json:"last_selftest"`
	} `json:"sites"`
}

type historyJSON struct {
	Schema int `json:"schema"`
	Runs   []struct {
		ID       string   `json:"id"`
		State    string   `json:"state"`
		Server   string   `json:"server"`
		What     string   `json:"what"`
		Sites    []string `json:"sites"`
		Undoable bool     `json:"undoable"`
		Files    []struct {
			Path, Change string
		} `json:"files"`
	} `json:"runs"`
}

func mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := rpwizard(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("rpwizard %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// refused runs rpwizard, which must exit 2 naming want, and change no
// byte under the managed trees nor reload the server.
func refused(t *testing.T, want string, args ...string) {
	t.Helper()
	before := testenv.TreeHash(t, managedTrees...)
	pids := serverPIDs(t)
	r := rpwizard(t, nil, args...)
	if r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("rpwizard %s: exit %d, want 2 with %q\n%s%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	if testenv.TreeHash(t, managedTrees...) != before {
		t.Errorf("rpwizard %s changed files", strings.Join(args, " "))
	}
	if serverPIDs(t) != pids {
		t.Errorf("rpwizard %s reloaded the server", strings.Join(args, " "))
	}
}

// TestSitesListRemoveUndo, on nginx and Apache: two sites are applied and
// listed (text and JSON); status runs and stores a self-test; remove
// --dry-run changes no byte and prints the same plan twice; remove takes
// one site away while every file of the other and the certificate it
// serves stay byte-identical; history shows the runs; undo RUN-ID of the
// remove brings the site back; bad input (an unknown domain or run, a run
// a later run overlaps, a run whose files were changed since) exits 2 and
// touches nothing.
func TestSitesListRemoveUndo(t *testing.T) {
	for _, server := range []string{"nginx", "apache"} {
		t.Run(server, func(t *testing.T) {
			ownHost(t)
			startWithoutSites(t)
			backend(t, "127.0.0.1:9000")
			backend(t, "127.0.0.1:8000")
			mustApply(t, appCases[0].answers(server))
			mustApply(t, appCases[1].answers(server))

			// list, text and JSON.
			r := mustRun(t, "list")
			for _, w := range []string{"jatos.test", "hub.test", "app:", "JATOS", "server:      " + server, "127.0.0.1:8000, under /jhub/", "self-signed, expires", "by the next apply from", "self-test:"} {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("list lacks %q:\n%s", w, r.stdout)
				}
			}
			if strings.Contains(r.stdout, "none stored yet") {
				t.Errorf("list shows no self-test after an apply ran one:\n%s", r.stdout)
			}
			var l listJSON
			r = mustRun(t, "list", "--json")
			if err := json.Unmarshal([]byte(r.stdout), &l); err != nil || l.Schema != 1 || len(l.Sites) != 2 {
				t.Fatalf("list --json: %v\n%s", err, r.stdout)
			}
			if s := l.Sites[0]; s.Domain != "hub.test" || s.App != "jupyterhub" || s.Server != server || s.Upstream != "127.0.0.1:8000" ||
				s.Certificate == nil || s.Certificate.Source != "self-signed" || s.Certificate.NotAfter == "" ||
				s.Renewal == nil || s.Renewal.Managed || s.LastTest == nil || s.LastTest.Verdict != "ok" {
				t.Errorf("list --json, first site: %+v\n%s", s, r.stdout)
			}

			// status: a quick self-test, stored.
			r = mustRun(t, "status", "hub.test", "--json", "--hold", "1s")
			var st struct {
				Schema   int `json:"schema"`
				Site     struct{ Domain string }
				SelfTest struct{ Verdict, Source string } `json:"selftest"`
				ExitCode int                              `json:"exit_code"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.Site.Domain != "hub.test" || st.SelfTest.Verdict != "ok" {
				t.Errorf("status --json: %v %+v\n%s", err, st, r.stdout)
			}
			if got := readStored(t, "hub.test"); got.Source != "status" {
				t.Errorf("status did not store its self-test: %+v", got)
			}
			refused(t, "the sites rpwizard manages are hub.test, jatos.test", "status", "nope.test")

			// remove --dry-run: no byte, the same plan twice.
			hubFiles := siteFiles(server, "hub.test")
			hub := fileHashes(t, hubFiles...)
			hubServed := served(t, "hub.test")[0].Raw
			before := testenv.TreeHash(t, managedTrees...)
			pids := serverPIDs(t)
			dry1 := mustRun(t, "remove", "jatos.test", "--dry-run")
			dry2 := mustRun(t, "remove", "jatos.test", "--dry-run")
			json1 := mustRun(t, "remove", "jatos.test", "--dry-run", "--json")
			json2 := mustRun(t, "remove", "jatos.test", "--dry-run", "--json")
			if dry1.stdout != dry2.stdout || json1.stdout != json2.stdout {
				t.Errorf("two identical remove dry runs differ:\n%s\n---\n%s", dry1.stdout, dry2.stdout)
			}
			for _, w := range []string{"remove " + siteFiles(server, "jatos.test")[0], "remove " + siteFiles(server, "jatos.test")[1],
				"remove /etc/rpwizard/sites/jatos.test.yaml", "config test, then reload", "no longer serves jatos.test", "dry run: nothing was changed"} {
				if !strings.Contains(dry1.stdout, w) {
					t.Errorf("remove --dry-run lacks %q:\n%s", w, dry1.stdout)
				}
			}
			if strings.Contains(dry1.stdout, "remove /etc/rpwizard/certs") {
				t.Errorf("remove --dry-run without --delete-certs removes the certificate:\n%s", dry1.stdout)
			}
			var plan struct {
				Schema  int
				Kind    string
				Command string
				Steps   []struct{ Name string }
			}
			if err := json.Unmarshal([]byte(json1.stdout), &plan); err != nil || plan.Schema != 1 || plan.Kind != "plan" || plan.Command != "remove" || len(plan.Steps) == 0 {
				t.Errorf("remove --dry-run --json: %v %+v\n%s", err, plan, json1.stdout)
			}
			if testenv.TreeHash(t, managedTrees...) != before || serverPIDs(t) != pids {
				t.Fatal("remove --dry-run changed files or reloaded")
			}
			refused(t, "no site \"nope.test\": the sites rpwizard manages are hub.test, jatos.test", "remove", "nope.test")

			// remove.
			etcBefore := testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard")
			r = mustRun(t, "remove", "jatos.test")
			if !strings.Contains(r.stdout, "jatos.test is removed from "+server) || !strings.Contains(r.stdout, "rpwizard undo ") {
				t.Errorf("remove output:\n%s", r.stdout)
			}
			for _, p := range siteFiles(server, "jatos.test")[:3] {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("remove left %s", p)
				}
			}
			if _, err := os.Stat("/etc/rpwizard/certs/jatos.test/privkey.pem"); err != nil {
				t.Errorf("remove without --delete-certs deleted the key: %v", err)
			}
			sameHashes(t, "the other site after remove", hub, fileHashes(t, hubFiles...))
			if got := served(t, "hub.test")[0].Raw; string(got) != string(hubServed) {
				t.Error("hub.test serves another certificate after the remove of jatos.test")
			}
			echo(t, client(t, "hub.test"), "https://hub.test/jhub/still/serving")
			wsEcho(t, client(t, "hub.test"), "wss://hub.test/jhub/user/a/api/kernels/1/channels")
			if served(t, "jatos.test")[0].Subject.CommonName == "jatos.test" {
				t.Error("jatos.test is still served after remove")
			}
			r = mustRun(t, "list", "--json")
			l = listJSON{}
			if json.Unmarshal([]byte(r.stdout), &l); len(l.Sites) != 1 || l.Sites[0].Domain != "hub.test" {
				t.Errorf("list after remove:\n%s", r.stdout)
			}

			// history.
			r = mustRun(t, "history", "--json")
			var hist historyJSON
			if err := json.Unmarshal([]byte(r.stdout), &hist); err != nil || len(hist.Runs) != 3 {
				t.Fatalf("history --json: %v\n%s", err, r.stdout)
			}
			applyJatos, applyHub, remove := hist.Runs[0], hist.Runs[1], hist.Runs[2]
			if remove.What != "remove jatos.test" || remove.State != "committed" || !remove.Undoable || strings.Join(remove.Sites, ",") != "jatos.test" || remove.Server != server {
				t.Errorf("history, the remove run: %+v", remove)
			}
			if applyJatos.What != "apply jatos.test" || len(applyJatos.Files) == 0 {
				t.Errorf("history, the first apply: %+v", applyJatos)
			}
			r = mustRun(t, "history", "--files")
			for _, w := range []string{remove.ID, "remove jatos.test", "removed  " + siteFiles(server, "jatos.test")[0], "undo RUN-ID"} {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("history --files lacks %q:\n%s", w, r.stdout)
				}
			}

			// undo RUN-ID: refused for bad input.
			refused(t, "the runs that can be undone are", "undo", "20000101T000000.000000000Z")
			// The first apply created /etc/rpwizard/certs, where the second
			// one put hub.test's certificate: undoing it would take that.
			refused(t, "the later run "+applyHub.ID+" changed the same files", "undo", applyJatos.ID)
			refused(t, "the later run "+applyHub.ID, "undo", applyJatos.ID, "--dry-run")
			saved := "/etc/rpwizard/sites/hub.test.yaml"
			orig, _ := os.ReadFile(saved)
			os.WriteFile(saved, append(append([]byte{}, orig...), "# edited by hand\n"...), 0o600)
			refused(t, "its files were changed since ("+saved+")", "undo", applyHub.ID)
			os.WriteFile(saved, orig, 0o600)

			// undo RUN-ID of the remove brings the site back.
			r = mustRun(t, "undo", remove.ID, "--dry-run")
			if !strings.Contains(r.stdout, "would undo run "+remove.ID) || !strings.Contains(r.stdout, "dry run: nothing was changed") {
				t.Errorf("undo RUN-ID --dry-run:\n%s", r.stdout)
			}
			mustRun(t, "undo", remove.ID)
			if testenv.TreeHash(t, "/etc/nginx", "/etc/apache2", "/etc/rpwizard") != etcBefore {
				t.Error("undo of the remove did not bring every file back")
			}
			echo(t, client(t, "jatos.test"), "https://jatos.test/back")
			sameHashes(t, "the other site after undo", hub, fileHashes(t, hubFiles...))
			refused(t, "was undone already", "undo", remove.ID)
		})
	}
}

// TestPlansAreDeterministic: two identical dry runs of a new self-signed
// site print the same plan, in text and JSON; the key material is made
// when applied, and the applied site is then a plan with no changes.
func TestPlansAreDeterministic(t *testing.T) {
	ownHost(t)
	startWithoutSites(t)
	backend(t, "127.0.0.1:9000")
	f := writeAnswers(t, appCases[0].answers("nginx"))
	before := testenv.TreeHash(t, managedTrees...)
	var outs []string
	for _, args := range [][]string{
		{"--answers", f, "--dry-run"}, {"--answers", f, "--dry-run"},
		{"apply", "--answers", f, "--dry-run", "--json"}, {"--answers", f, "--dry-run", "--json"},
	} {
		outs = append(outs, mustRun(t, args...).stdout)
	}
	if outs[0] != outs[1] {
		t.Errorf("two text dry runs differ:\n%s\n---\n%s", outs[0], outs[1])
	}
	if outs[2] != outs[3] {
		t.Errorf("two JSON dry runs differ:\n%s\n---\n%s", outs[2], outs[3])
	}
	if testenv.TreeHash(t, managedTrees...) != before {
		t.Fatal("dry runs changed files")
	}
	if !strings.Contains(outs[0], "a new self-signed certificate for jatos.test, made when applied") || strings.Contains(outs[0]+outs[2], "BEGIN") {
		t.Errorf("the plan shows key material or not the certificate made when applied:\n%s", outs[0])
	}
	var plan struct {
		Schema int
		Kind   string
		Empty  bool
		Steps  []struct {
			Name    string
			Changes []struct {
				Kind            string
				Path            string
				MadeWhenApplied bool `json:"made_when_applied"`
			}
		}
	}
	if err := json.Unmarshal([]byte(outs[2]), &plan); err != nil || plan.Schema != 1 || plan.Kind != "plan" || plan.Empty {
		t.Fatalf("plan JSON: %v\n%s", err, outs[2])
	}
	made := 0
	for _, s := range plan.Steps {
		for _, c := range s.Changes {
			if c.MadeWhenApplied {
				made++
			}
		}
	}
	if made != 2 {
		t.Errorf("%d changes made when applied, want 2 (key and certificate)", made)
	}
	// apply --json: one object on stdout; then nothing more to do.
	r := mustRun(t, "apply", "--answers", f, "--json")
	var res struct {
		Schema   int
		Kind     string
		OK       bool
		Changed  bool
		RunID    string `json:"run_id"`
		SelfTest struct{ Verdict string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || !res.OK || !res.Changed || res.RunID == "" || res.SelfTest.Verdict != "ok" {
		t.Errorf("apply --json: %v %+v\n%s", err, res, r.stdout)
	}
	r = mustRun(t, "--answers", f, "--dry-run", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil || !plan.Empty {
		t.Errorf("the plan after the apply is not empty:\n%s", r.stdout)
	}
}

// TestRemoveLastACMESite, on nginx with Pebble: removing the only ACME
// site with --delete-certs --revoke drops the renewal cron entry and the
// certificate, revokes it, and undo brings all back.
func TestRemoveLastACMESite(t *testing.T) {
	ownHost(t)
	startWithoutSites(t)
	backend(t, "127.0.0.1:9000")
	ca, bundle := pebble(t, testpebble.Options{})
	mustApply(t, acmeAnswers("nginx", ca.DirectoryURL, bundle))
	if _, err := os.Stat("/etc/cron.d/rpwizard"); err != nil {
		t.Fatalf("no renewal cron entry after an ACME apply: %v", err)
	}
	r := mustRun(t, "list")
	if !strings.Contains(r.stdout, "acme ("+ca.DirectoryURL+")") || !strings.Contains(r.stdout, "due when") && !strings.Contains(r.stdout, "renewal window") {
		t.Errorf("list of an ACME site:\n%s", r.stdout)
	}
	etcBefore := testenv.TreeHash(t, "/etc/nginx", "/etc/rpwizard", "/etc/cron.d")
	r = mustRun(t, "remove", "jatos.test", "--dry-run", "--delete-certs", "--revoke")
	for _, w := range []string{"remove /etc/cron.d/rpwizard", "remove /etc/rpwizard/certs/jatos.test/privkey.pem", "revoke the certificate with serial"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("remove --dry-run lacks %q:\n%s", w, r.stdout)
		}
	}
	mustRun(t, "remove", "jatos.test", "--delete-certs", "--revoke")
	for _, p := range []string{"/etc/cron.d/rpwizard", "/etc/rpwizard/certs/jatos.test", "/etc/rpwizard/sites/jatos.test.yaml"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("remove left %s", p)
		}
	}
	mustRun(t, "undo", "--server", "nginx")
	if testenv.TreeHash(t, "/etc/nginx", "/etc/rpwizard", "/etc/cron.d") != etcBefore {
		t.Error("undo of the remove did not bring every file back")
	}
}
