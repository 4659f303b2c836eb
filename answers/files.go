package answers

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/rpwizard/rpwizard/certs"
	"github.com/rpwizard/rpwizard/internal/safefile"

	"github.com/rpwizard/rpwizard/server"
)

// fileKey checks an optional absolute path that will be written into a
// config file or read by rpwizard: safe characters only (dot segments and
// repeated slashes are resolved first, and the clean path is kept), and it
// must be an existing regular file of at most limit bytes. It reports
// whether the path is usable.
func fileKey(c *checker, key string, p *string, limit int64) bool {
	if *p == "" {
		return false
	}
	if !reFile.MatchString(*p) {
		c.add(key, *p, "not a safe absolute path", "an absolute path of letters, digits and . _ / @ + -")
		return false
	}
	*p = path.Clean(*p)
	fi, err := os.Stat(*p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.add(key, *p, "file not found", "an existing, readable file")
		return false
	case err != nil:
		c.add(key, *p, "cannot be read: "+readProblem(err), "an existing, readable file")
		return false
	case fi.IsDir():
		c.add(key, *p, "is a directory", "a file")
		return false
	case !fi.Mode().IsRegular():
		c.add(key, *p, "is "+safefile.Kind(fi.Mode())+", not a regular file", "a regular file")
		return false
	case fi.Size() > limit:
		c.add(key, *p, (&safefile.TooLargeError{Size: fi.Size(), Limit: limit}).Error(), "the file the key names, not another")
		return false
	}
	return true
}

// readKey is fileKey, then the content of the file (nil if unusable).
func readKey(c *checker, key string, p *string, limit int64) []byte {
	if !fileKey(c, key, p, limit) {
		return nil
	}
	data, err := safefile.Read(*p, limit)
	if err != nil {
		c.add(key, *p, "cannot be read: "+readProblem(err), "an existing, readable regular file")
		return nil
	}
	return data
}

// caFileKey checks a file of PEM CA certificates (tls.ca_bundle,
// restrict.client_ca_file).
func caFileKey(c *checker, key string, p *string) {
	data := readKey(c, key, p, safefile.PEMLimit)
	if data == nil {
		return
	}
	if _, err := certs.ParseCAs(data); err != nil {
		c.add(key, *p, "not a file of CA certificates: "+err.Error(), "PEM CA certificates (-----BEGIN CERTIFICATE-----) and no keys")
	}
}

// Password hashes nginx and Apache both check: bcrypt, Apache's MD5
// (apr1), SHA-1 ({SHA}) and glibc's SHA-256/SHA-512 crypt.
var (
	reBcrypt   = regexp.MustCompile(`^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$`)
	reAPR1     = regexp.MustCompile(`^\$apr1\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}$`)
	reSHA1     = regexp.MustCompile(`^\{SHA\}[A-Za-z0-9+/]{27}=$`)
	reSHACrypt = regexp.MustCompile(`^\$[56]\$(rounds=[0-9]{1,9}\$)?[./A-Za-z0-9]{1,16}\$([./A-Za-z0-9]{43}|[./A-Za-z0-9]{86})$`)
	reHTUser   = regexp.MustCompile(`^[^\s:]{1,255}$`)
)

// htpasswdProblem checks the content of an htpasswd file: "user:hash"
// lines (nginx allows a third ":comment" field), comments and blank lines,
// at least one user, every hash of a kind both servers check. It never
// quotes a hash.
func htpasswdProblem(data []byte) string {
	users := 0
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n := i + 1
		fields := strings.SplitN(line, ":", 3)
		if len(fields) < 2 || !reHTUser.MatchString(fields[0]) {
			return fmt.Sprintf("line %d is not an htpasswd entry (user:hash)", n)
		}
		h := fields[1]
		switch {
		case reBcrypt.MatchString(h), reAPR1.MatchString(h), reSHA1.MatchString(h), reSHACrypt.MatchString(h):
		case strings.HasPrefix(h, "{PLAIN}") || !strings.HasPrefix(h, "$") && !strings.HasPrefix(h, "{"):
			return fmt.Sprintf("line %d (user %s): the password is not hashed (plain text or DES crypt)", n, fields[0])
		default:
			return fmt.Sprintf("line %d (user %s): not a password hash nginx and Apache both check", n, fields[0])
		}
		users++
	}
	if users == 0 {
		return "no users in it: nobody could log in"
	}
	return ""
}

// account is a user with its groups, for permission checks.
type account struct {
	name  string
	group string // primary group name
	uid   int
	gids  map[int]bool
}

// workerAccount finds the server's worker account on this host (nil if
// none exists yet: the server is not installed).
func workerAccount(srv string) *account {
	for _, name := range server.Workers(srv) {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err := strconv.Atoi(u.Uid)
		if err != nil {
			continue
		}
		a := &account{name: name, group: name, uid: uid, gids: map[int]bool{}}
		if g, err := user.LookupGroupId(u.Gid); err == nil {
			a.group = g.Name
		}
		ids, _ := u.GroupIds()
		for _, g := range append(ids, u.Gid) {
			if n, err := strconv.Atoi(g); err == nil {
				a.gids[n] = true
			}
		}
		return a
	}
	return nil
}

// canAccess reports whether who (nil: anyone, "others") has the
// permission bit want (4 read, 1 execute) on fi.
func canAccess(fi fs.FileInfo, who *account, want fs.FileMode) bool {
	perm := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case who != nil && ok && int(st.Uid) == who.uid:
		return perm&(want<<6) != 0
	case who != nil && ok && who.gids[int(st.Gid)]:
		return perm&(want<<3) != 0
	}
	return perm&want != 0
}

// readableBy reports whether who can read path: read the file and enter
// every directory above it.
func readableBy(p string, who *account) bool {
	fi, err := os.Stat(p)
	if err != nil || !canAccess(fi, who, 4) {
		return false
	}
	for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
		di, err := os.Stat(dir)
		if err != nil || !canAccess(di, who, 1) {
			return false
		}
		if dir == "/" || dir == "." {
			return true
		}
	}
}

// basicAuthKey checks restrict.basic_auth_file: an htpasswd file the
// server's workers can read (0640 root:www-data is right).
func basicAuthKey(c *checker, key string, p *string, server string) {
	data := readKey(c, key, p, safefile.HtpasswdLimit)
	if data == nil {
		return
	}
	if msg := htpasswdProblem(data); msg != "" {
		c.add(key, *p, "not an htpasswd file: "+msg, "an htpasswd file of bcrypt, apr1 or SHA hashes: htpasswd -B "+*p+" USER")
		return
	}
	who := workerAccount(server)
	if readableBy(*p, who) {
		return
	}
	if who == nil {
		c.add(key, *p, "the web server's workers cannot read it (no worker account www-data, nginx or apache exists yet, so only others' permissions count)",
			"install the server first, then give the file to its workers' group: chgrp www-data "+*p+"; chmod 640 "+*p)
		return
	}
	g := who.group
	c.add(key, *p, fmt.Sprintf("the web server's workers (user %s) cannot read it or a directory above it", who.name),
		fmt.Sprintf("a file its workers' group may read: chgrp %s %s; chmod 640 %s (and directories above it that %s may enter, e.g. under /etc/nginx or /etc/apache2)", g, *p, *p, who.name))
}
