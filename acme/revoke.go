package acme

import (
	"context"
	"fmt"
	stdlog "log"
	"strings"
)

// Revoke asks the CA to revoke the certificate certPEM (leaf first), with
// the ACME account stored under r.StateDir (the one that ordered it). It
// solves no challenge: of r, only the names, the CA (Directory, CABundle),
// the account (Email, EAB*) and Log are used. Nothing but the account files
// is written. A revocation cannot be taken back.
func Revoke(ctx context.Context, r Request, certPEM []byte) error {
	c, err := check(r, scopeQuery)
	if err != nil {
		return err
	}
	c.eabKID, c.eabHMAC = strings.TrimSpace(r.EABKID), strings.TrimSpace(r.EABHMAC)
	cur, err := ParseCertificate(certPEM, nil)
	if err != nil {
		return err
	}
	_, err = withLego(ctx, c, func(ctx context.Context, lg *stdlog.Logger) (struct{}, error) {
		s, err := newSession(ctx, c, lg)
		if err != nil {
			return struct{}{}, err
		}
		defer s.close()
		lg.Printf("acme: revoking the certificate with serial %x for %s", cur.Leaf.SerialNumber, strings.Join(cur.Leaf.DNSNames, ", "))
		return struct{}{}, s.client.Certificate.Revoke(ctx, certPEM)
	})
	if err != nil {
		return fmt.Errorf("the CA did not revoke the certificate with serial %x: %w", cur.Leaf.SerialNumber, explain(err, c))
	}
	return nil
}
