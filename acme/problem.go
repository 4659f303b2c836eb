package acme

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// problemBody rewrites an error response that is not an RFC 7807 problem
// document (RFC 8555 section 6.7) into one, so that lego reports the CA's
// own words instead of "unable to unmarshal response". Some CAs answer
// with {"error": "..."} or {"message": "..."} JSON, HTML error pages from
// a gateway, or plain text (HARICA: community.crypto#923). The message is
// taken from the usual fields, or the page's text, and put into "detail";
// the type becomes urn:ietf:params:acme:error:serverInternal for 5xx and
// malformed otherwise, prefixed by "the CA answered HTTP <status>".
func problemBody(resp *http.Response) {
	if resp.StatusCode < 400 || resp.Body == nil {
		return
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if err != nil {
		data = append(data, []byte(" (reading the rest failed: "+err.Error()+")")...)
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	var pd struct {
		Type   string `json:"type"`
		Detail string `json:"detail"`
	}
	if json.Unmarshal(data, &pd) == nil && pd.Type != "" {
		return // a problem document already
	}
	msg := nonRFCMessage(data)
	typ := "urn:ietf:params:acme:error:malformed"
	if resp.StatusCode >= 500 {
		typ = "urn:ietf:params:acme:error:serverInternal"
	}
	if msg == "" {
		msg = "no explanation in the response"
	}
	out, _ := json.Marshal(map[string]any{
		"type":   typ,
		"detail": fmt.Sprintf("the CA answered HTTP %d without an ACME problem document: %s", resp.StatusCode, msg),
		"status": resp.StatusCode,
	})
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
	resp.Header.Set("Content-Type", "application/problem+json")
}

var (
	reTags   = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>|<[^>]*>`)
	reSpaces = regexp.MustCompile(`\s+`)
)

// nonRFCMessage extracts a readable message from an error body.
func nonRFCMessage(data []byte) string {
	var obj map[string]any
	if json.Unmarshal(data, &obj) == nil {
		var parts []string
		for _, k := range []string{"detail", "title", "message", "error_description", "error", "errorMessage", "msg", "description", "reason"} {
			switch v := obj[k].(type) {
			case string:
				if v != "" && !containsStr(parts, v) {
					parts = append(parts, v)
				}
			case map[string]any: // {"error": {"message": "..."}}
				for _, kk := range []string{"message", "detail", "description"} {
					if s, ok := v[kk].(string); ok && s != "" {
						parts = append(parts, s)
					}
				}
			}
		}
		if len(parts) > 0 {
			return clip(strings.Join(parts, ": "))
		}
	}
	text := string(data)
	if strings.Contains(text, "<") && strings.Contains(text, ">") {
		text = reTags.ReplaceAllString(text, " ")
		text = html.UnescapeString(text)
	}
	return clip(strings.TrimSpace(reSpaces.ReplaceAllString(text, " ")))
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func clip(s string) string {
	if len(s) > 500 {
		return s[:500] + "…"
	}
	return s
}
