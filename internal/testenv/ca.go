package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rpwizard/rpwizard/internal/testcerts"
)

// InHouseCA is a private CA, as institutes run, and a server
// certificate it issued: the kind of certificate no system trusts.
type InHouseCA struct {
	CAFile   string // the CA's certificate (PEM): the bundle to trust
	CertFile string // the server certificate (PEM)
	KeyFile  string // its private key (PEM, 0600)
}

// NewInHouseCA makes a CA and a server certificate for names in dir.
func NewInHouseCA(t testing.TB, dir string, names ...string) InHouseCA {
	t.Helper()
	ca := testcerts.CA(t, dir, "Institute Test Root CA")
	leaf := testcerts.Leaf(t, dir, "site", ca, names...)
	// A short name, as a bundle would be called (and as screens show it).
	caFile := filepath.Join(dir, "institute-ca.pem")
	if err := os.Rename(ca.CertFile, caFile); err != nil {
		t.Fatal(err)
	}
	return InHouseCA{CAFile: caFile, CertFile: leaf.CertFile, KeyFile: leaf.KeyFile}
}
