package selftest

import (
	"fmt"
	"net/http"
)

// wsKind says who should have answered a WebSocket handshake.
type wsKind int

const (
	wsProbe wsKind = iota // the rpwizard probe behind the probe location
	wsJATOS               // JATOS (Play): 426 without upgrade, 400 for an unknown study
	wsApp                 // any other app
)

// diagnosis is the verdict on one handshake answer.
type diagnosis struct {
	Status Status
	Detail string
	Cause  string
	Fix    string
	// AppDown: the proxy answered 502/503/504 for the app (see Check.AppDown).
	AppDown bool
}

// wsHeaderFix is the fix for Upgrade/Connection not reaching the backend.
func wsHeaderFix(k serverKind) string {
	return k.pick(
		"In every location that proxies WebSockets (and the probe location) set proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade; with map $http_upgrade $connection_upgrade { default upgrade; '' close; } in the http block.",
		"Add upgrade=websocket to the ProxyPass lines (Apache 2.4.47+), or enable mod_proxy_wstunnel for ws:// rules: sudo a2enmod proxy_wstunnel && sudo systemctl restart apache2.")
}

// diagnoseHandshake maps the answer to a WebSocket handshake sent through
// the proxy to a verdict. status is the HTTP status (101 on success),
// server the proxy software, probeErr the probe's own explanation when the
// probe answered 400.
func diagnoseHandshake(kind wsKind, status int, server serverKind, probeErr string) diagnosis {
	got := fmt.Sprintf("answered %s instead of 101", statusText(status))
	switch {
	case status == http.StatusSwitchingProtocols:
		return diagnosis{Status: Pass, Detail: "101 Switching Protocols"}

	case kind == wsJATOS && status == http.StatusBadRequest:
		return diagnosis{Status: Pass,
			Detail: "400 from JATOS: the upgrade reached JATOS, which rejected the random study id as expected"}

	case status == http.StatusBadRequest:
		d := diagnosis{Status: Fail, Detail: got,
			Cause: "The proxy does not pass the Upgrade and Connection headers on, so the backend got a plain request and refused it (browsers show 'Unexpected response code: 400').",
			Fix:   wsHeaderFix(server)}
		if probeErr != "" {
			d.Detail += " (probe: " + probeErr + ")"
		}
		return d

	case status == http.StatusUpgradeRequired:
		return diagnosis{Status: Fail, Detail: got,
			Cause: "The proxy dropped the WebSocket upgrade: the backend received a plain request and asked for an upgrade (426 Upgrade Required).",
			Fix:   wsHeaderFix(server)}

	case status == http.StatusInternalServerError && server == serverApache:
		return diagnosis{Status: Fail, Detail: got + " from Apache",
			Cause: "Apache cannot proxy WebSockets: mod_proxy_wstunnel is not loaded, so it has no handler for ws:// URLs (the error log says AH01144: No protocol handler was valid for the URL … scheme 'ws').",
			Fix:   "Run sudo a2enmod proxy_wstunnel && sudo systemctl restart apache2, or replace the ws:// RewriteRule by ProxyPass … upgrade=websocket (Apache 2.4.47+)."}

	case status == http.StatusInternalServerError:
		return diagnosis{Status: Fail, Detail: got,
			Cause: "The WebSocket request failed with an internal error in the proxy or the backend.",
			Fix:   "Read the proxy's error log for this request (journalctl -u nginx / apache2)."}

	case status == http.StatusForbidden:
		return diagnosis{Status: Fail, Detail: got,
			Cause: "The WebSocket was refused: either the backend rejected the Origin because the proxy changed the Host header, or an access rule (allow/deny, Require ip) blocks this path.",
			Fix: server.pick("Forward the browser's Host: proxy_set_header Host $http_host; in every location, and check allow/deny rules.",
				"Add ProxyPreserveHost On to the HTTPS VirtualHost and check Require rules.")}

	case status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		if kind == wsProbe {
			return diagnosis{Status: Fail, Detail: got,
				Cause: "The proxy cannot reach the rpwizard probe socket: the socket path in the probe location is wrong, or the proxy's user may not open it (directory permissions, SELinux).",
				Fix:   "Check that the probe location points at unix:" + DefaultProbeSocket + " (or the --probe-socket given) and that ls -ld /run/rpwizard shows drwxr-xr-x."}
		}
		return diagnosis{Status: Warn, Detail: got, AppDown: true,
			Cause: "The app is not running on its port (the proxy got no answer from it); this is not a proxy fault.",
			Fix:   "Start the app and check that its port matches the proxy_pass / ProxyPass line."}

	case status == http.StatusNotFound && kind == wsProbe:
		return diagnosis{Status: Warn, Detail: got,
			Cause: "The config has no probe location " + ProbePath + ".",
			Fix:   "Re-run rpwizard apply to regenerate the proxy config."}

	case kind == wsProbe:
		return diagnosis{Status: Fail, Detail: got,
			Cause: "The proxy did not switch protocols for a valid WebSocket handshake.",
			Fix:   wsHeaderFix(server)}
	}
	// The app itself answered without switching protocols (a redirect to
	// its login, 404 for a path that is no WebSocket route): the request
	// reached the app through the WebSocket settings; the probe check
	// proves that the upgrade headers pass.
	return diagnosis{Status: Pass,
		Detail: fmt.Sprintf("the app answered %s: the request reached it (not a WebSocket route, or login needed)", statusText(status))}
}
