package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	os.WriteFile(small, []byte("hello"), 0o600)
	big := filepath.Join(dir, "big")
	os.WriteFile(big, make([]byte, 2048), 0o600)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := Read(small, 1024); err != nil || string(b) != "hello" {
		t.Errorf("Read(small) = %q, %v", b, err)
	}
	var tl *TooLargeError
	if _, err := Read(big, 1024); !errors.As(err, &tl) || tl.Limit != 1024 {
		t.Errorf("Read(big) = %v, want TooLargeError", err)
	}
	for _, p := range []string{dir, "/dev/zero", "/dev/null", fifo} {
		done := make(chan error, 1)
		go func() { _, err := Read(p, 1024); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) {
				t.Errorf("Read(%s) = %v, want ErrNotRegular", p, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Read(%s) blocked", p)
		}
	}
	if _, err := Read(filepath.Join(dir, "nope"), 1024); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
