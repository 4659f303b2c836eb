package acme

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// Directory is what a CA's ACME directory says about itself.
type Directory struct {
	// URL is the directory's address.
	URL string
	// Profiles are the certificate profiles the CA offers (meta.profiles:
	// name → description); empty when it lists none.
	Profiles map[string]string
	// EABRequired is meta.externalAccountRequired.
	EABRequired bool
	// TermsOfService is meta.termsOfService.
	TermsOfService string
}

// ProfileNames lists the profiles, sorted.
func (d *Directory) ProfileNames() []string {
	var out []string
	for n := range d.Profiles {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// FetchDirectory reads the CA's ACME directory (a read-only GET, no
// account) with the request's CA bundle and proxy. Only r.Directory,
// r.CABundle, r.Proxy and r.HTTPClientTimeout are used.
func FetchDirectory(ctx context.Context, r Request) (*Directory, error) {
	c, err := check(Request{Domains: []string{"directory.invalid.example"}, Directory: r.Directory, CABundle: r.CABundle,
		Proxy: r.Proxy, HTTPClientTimeout: r.HTTPClientTimeout}, scopeQuery)
	if err != nil {
		return nil, err
	}
	hc, closeIdle := c.httpClient(ctx)
	defer closeIdle()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.dirURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, explain(&directoryError{url: c.dirURL, err: err}, c)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, &directoryError{url: c.dirURL, err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &directoryError{url: c.dirURL, err: fmt.Errorf("the ACME directory %s answered HTTP %d: %s", c.dirURL, resp.StatusCode, nonRFCMessage(data))}
	}
	var dir struct {
		NewOrder string `json:"newOrder"`
		Meta     struct {
			Profiles                map[string]string `json:"profiles"`
			ExternalAccountRequired bool              `json:"externalAccountRequired"`
			TermsOfService          string            `json:"termsOfService"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(data, &dir); err != nil || dir.NewOrder == "" {
		return nil, &directoryError{url: c.dirURL, err: fmt.Errorf("%s is not an ACME directory (%s)", c.dirURL, nonRFCMessage(data))}
	}
	return &Directory{URL: c.dirURL, Profiles: dir.Meta.Profiles, EABRequired: dir.Meta.ExternalAccountRequired,
		TermsOfService: dir.Meta.TermsOfService}, nil
}

// CheckProfile tells whether the CA offers r.Profile. It returns nil for
// an empty profile (the CA's default) and a *FieldError for tls.profile
// that lists the CA's profiles otherwise.
func CheckProfile(ctx context.Context, r Request) error {
	p := strings.TrimSpace(r.Profile)
	if p == "" {
		return nil
	}
	d, err := FetchDirectory(ctx, r)
	if err != nil {
		return fmt.Errorf("checking tls.profile %s: %w", p, err)
	}
	if _, ok := d.Profiles[p]; ok {
		return nil
	}
	if len(d.Profiles) == 0 {
		return fieldErr("tls.profile", "the CA at %s offers no profiles (its directory lists no meta.profiles): remove tls.profile to get its default certificate", d.URL)
	}
	var list []string
	for _, n := range d.ProfileNames() {
		if desc := d.Profiles[n]; desc != "" {
			n += " (" + desc + ")"
		}
		list = append(list, n)
	}
	return fieldErr("tls.profile", "the CA at %s does not offer the profile %q; it offers: %s", d.URL, p, strings.Join(list, "; "))
}
