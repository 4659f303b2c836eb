package host

import (
	"strings"
	"testing"
)

func TestDiffSums(t *testing.T) {
	before := map[string]string{"/a": "-rw 1", "/b": "-rw 2", "/c": "drwx"}
	tests := []struct {
		name  string
		after map[string]string
		want  string
	}{
		{"same", map[string]string{"/a": "-rw 1", "/b": "-rw 2", "/c": "drwx"}, ""},
		{"changed", map[string]string{"/a": "-rw 9", "/b": "-rw 2", "/c": "drwx"}, "/a"},
		{"new and gone", map[string]string{"/a": "-rw 1", "/c": "drwx", "/c/token": "-rw 3"}, "/b (gone), /c/token (new)"},
	}
	for _, tt := range tests {
		if got := strings.Join(DiffSums(before, tt.after), ", "); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	many := map[string]string{}
	for i := range 12 {
		many[string(rune('a'+i))] = "x"
	}
	if d := DiffSums(nil, many); len(d) != 11 || d[10] != "and 2 more" {
		t.Errorf("12 new paths: %v", d)
	}
}
