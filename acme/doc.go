// Package acme obtains and renews TLS certificates from an ACME certificate
// authority (Let's Encrypt or any RFC 8555 CA) with the go-acme/lego v5
// library.
//
// The package writes nothing except the ACME account (key and account.json,
// in the lego CLI layout under Request.StateDir). The caller receives the
// certificate and key in memory and installs them itself. TestOrder, the
// dry run of a renewal, writes not even the account (ChooseTestCA picks
// its CA).
//
// Errors are meant to be shown to people: validation errors name the
// answers-file field (tls.challenge, tls.dns_provider, …) and list the allowed
// values, and failures reported by the CA are translated by Explain into plain
// words with the fix, keeping the original error wrapped.
package acme
