package installer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"
)

// Site is one name a transaction's server serves over TLS, and the
// certificate file its config names. A reload only counts once the server
// presents, for every watched name, the certificate that is then on disk:
// nginx's `-s reload` and Apache's graceful restart are asynchronous, and a
// reload signalled while another is in flight can be merged with it or
// overtaken by it.
type Site struct {
	// Name is the TLS server name (SNI) to ask for. A wildcard name is
	// asked for with its first label replaced.
	Name string `json:"name"`
	// CertFile is the certificate (leaf first) the site's config names.
	CertFile string `json:"cert_file"`
	// Addr is where the server listens for it; "127.0.0.1:443" if empty.
	Addr string `json:"addr,omitempty"`
	// Alias: a further name of the site, which the config restored by an
	// undo may no longer have; only a rollback checks it, against Before.
	Alias bool `json:"alias,omitempty"`
	// Before is the fingerprint of the leaf the server presented for Name
	// when the transaction began ("" if it presented none): a rollback
	// must bring it back.
	Before string `json:"before,omitempty"`
	// Removed: the transaction takes the site away, so a reload need not
	// show its certificate; a rollback still checks Before, and an undo
	// the certificate its restored files name.
	Removed bool `json:"removed,omitempty"`
}

func (s Site) addr() string {
	if s.Addr == "" {
		return "127.0.0.1:443"
	}
	return s.Addr
}

func (s Site) serverName() string {
	if strings.HasPrefix(s.Name, "*.") {
		return "rpwizard-check" + s.Name[1:]
	}
	return s.Name
}

// maxCertFile bounds what is read of a certificate file.
const maxCertFile = 1 << 20

// Fingerprint is the SHA-256 of a certificate's DER, in hex.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// CertFileFingerprint is the fingerprint of the first certificate in a
// PEM file; fs.ErrNotExist when the file is gone.
func CertFileFingerprint(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCertFile))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	for len(data) > 0 {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			return Fingerprint(b.Bytes), nil
		}
	}
	return "", fmt.Errorf("%s holds no PEM certificate", path)
}

// servedFingerprint is the fingerprint of the leaf the server at addr
// presents for name, or "" when nothing answers TLS there.
func servedFingerprint(ctx context.Context, addr, name string) (string, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 3 * time.Second},
		Config: &tls.Config{ServerName: name, InsecureSkipVerify: true}}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return "", errors.New("no certificate presented")
	}
	return Fingerprint(certs[0].Raw), nil
}

// confirmTimeout bounds how long a reload may take to show in what the
// server presents.
const confirmTimeout = 10 * time.Second

// serves waits until the server presents want for s. It returns what was
// last seen when it gives up.
func serves(ctx context.Context, s Site, want string) (string, bool) {
	deadline := time.Now().Add(confirmTimeout)
	var got string
	for {
		got, _ = servedFingerprint(ctx, s.addr(), s.serverName())
		if got == want {
			return got, true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return got, false
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// short is a fingerprint's first bytes, as people compare them.
func short(fp string) string {
	if fp == "" {
		return "none"
	}
	if len(fp) > 16 {
		fp = fp[:16]
	}
	var b bytes.Buffer
	for i := 0; i < len(fp); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(fp[i : i+2]))
	}
	return b.String()
}

// confirmNew checks that the server presents, for every watched site, the
// certificate now on disk: the reload took effect.
func (tx *Tx) confirmNew(ctx context.Context) error {
	var errs []error
	for _, s := range tx.journal.Sites {
		if s.Removed {
			continue
		}
		want, err := CertFileFingerprint(s.CertFile)
		if errors.Is(err, fs.ErrNotExist) {
			continue // the site is gone from this config: nothing to present
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if got, ok := serves(ctx, s, want); !ok {
			errs = append(errs, fmt.Errorf("%s does not serve the new config: for %s it presents certificate %s, not %s from %s",
				tx.server.Name, s.Name, short(got), short(want), s.CertFile))
		}
	}
	return errors.Join(errs...)
}

// confirmRestored checks what the server presents once the files are
// restored. A rollback (or the recovery of a killed run) must bring back,
// for every watched name, what the server presented when the transaction
// began. An undo, long after, checks the site's main name against the
// certificate the restored files name; it has nothing to check for a site
// the undone run created.
func (tx *Tx) confirmRestored(ctx context.Context) error {
	var errs []error
	for _, s := range tx.journal.Sites {
		want := s.Before
		if !tx.rollingBack {
			if s.Alias {
				continue
			}
			fp, err := CertFileFingerprint(s.CertFile)
			switch {
			case err == nil:
				want = fp
			case errors.Is(err, fs.ErrNotExist):
				continue
			default:
				errs = append(errs, err)
				continue
			}
		}
		if want == "" {
			continue // nothing was served for it before, and no file names one now
		}
		if got, ok := serves(ctx, s, want); !ok {
			errs = append(errs, fmt.Errorf("for %s %s presents certificate %s, not the previous %s",
				s.Name, tx.server.Name, short(got), short(want)))
		}
	}
	return errors.Join(errs...)
}
