package host

import (
	"os"
	"reflect"
	"testing"
)

func TestParseProcNetTCP(t *testing.T) {
	tcp := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0
   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 80801 1 0000000000000000 100 0 0 10 0
   2: 0100007F:0050 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 20 4 30 10 -1
   3: 0200000A:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 443 1 0000000000000000 100 0 0 10 0
`
	tcp6 := `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 80802 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:2328 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4243 1 0000000000000000 100 0 0 10 0
   2: 000080FE00000000FF00FC00010000FE:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 5 1 0000000000000000 100 0 0 10 0
`
	got := append(ParseProcNetTCP([]byte(tcp)), ParseProcNetTCP([]byte(tcp6))...)
	want := []string{"127.0.0.1:9000", "0.0.0.0:80", "10.0.0.2:443", "[::]:80", "[::1]:9000", "[fe80::fc:ff:fe00:1]:8080"}
	var addrs []string
	for _, l := range got {
		addrs = append(addrs, l.AddrPort().String())
	}
	if !reflect.DeepEqual(addrs, want) {
		t.Errorf("listeners %q, want %q (the connected socket in state 01 is not one)", addrs, want)
	}
	if got[1].Inode != 80801 || got[0].Port != 9000 {
		t.Errorf("inode/port %+v", got[:2])
	}
}

func TestParseProcAddr(t *testing.T) {
	cases := map[string]string{
		"0100007F:2328":                         "127.0.0.1:9000",
		"00000000:1F40":                         "0.0.0.0:8000",
		"00000000000000000000000001000000:EE48": "[::1]:61000",
		"00000000000000000000000000000000:2328": "[::]:9000",
	}
	for in, want := range cases {
		got, err := ParseProcAddr(in)
		if err != nil || got.String() != want {
			t.Errorf("parseProcAddr(%s) = %v, %v; want %s", in, got, err, want)
		}
	}
}

// TestParents reads this test process's own family from /proc.
func TestParents(t *testing.T) {
	me, parent := os.Getpid(), os.Getppid()
	if got := Parents()[me]; got != parent {
		t.Fatalf("Parents()[%d] = %d, want %d", me, got, parent)
	}
	if !Children(parent)[me] {
		t.Errorf("Children(%d) lacks %d", parent, me)
	}
	if !Descendants(parent)[me] {
		t.Errorf("Descendants(%d) lacks %d", parent, me)
	}
	if Children(me)[me] || Descendants(me)[me] {
		t.Error("a process is its own child")
	}
}

func TestParseStartTime(t *testing.T) {
	tests := []struct {
		name, stat string
		want       uint64
		ok         bool
	}{
		{"plain", "13270 (cat) R 13265 13265 8319 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 1036503 3133440 386", 1036503, true},
		{"comm with spaces and a parenthesis", "7 (nginx: a) b) S 1 7 7 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 42 0 0", 42, true},
		{"a zombie has exited", "7 (nginx) Z 1 7 7 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 42 0 0", 0, false},
		{"cut short", "7 (nginx) S 1 7 7", 0, false},
		{"no comm", "garbage", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseStartTime(tt.stat)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	if st, ok := StartTime(os.Getpid()); !ok || st == 0 {
		t.Errorf("StartTime of this process: %d, %v", st, ok)
	}
}
