// Package safefile reads files whose path a user gave: only regular files,
// and never more than a limit, so that a path such as /dev/zero, a FIFO or
// a multi-gigabyte file cannot hang rpwizard or run it out of memory.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Limits for the kinds of files rpwizard reads.
const (
	AnswersLimit  = 1 << 20  // an answers file is a few hundred bytes
	PEMLimit      = 4 << 20  // a certificate chain, key or CA bundle (the system bundle is ~220 KiB)
	HtpasswdLimit = 16 << 20 // ~200,000 bcrypt users
	SecretLimit   = 64 << 10 // an EAB HMAC key
)

// ErrNotRegular is returned for directories, devices, FIFOs and sockets.
var ErrNotRegular = errors.New("not a regular file")

// TooLargeError is returned for a file larger than the limit.
type TooLargeError struct {
	Size, Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("larger than %s (%s)", human(e.Limit), human(e.Size))
}

// Read returns the content of the regular file path, refusing anything
// else and anything larger than limit bytes. It never blocks on a FIFO: the
// type is checked before opening, and again on the open descriptor.
func Read(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, fi, limit); err != nil {
		return nil, err
	}
	// O_NONBLOCK: if the path was swapped for a FIFO since the Stat, the
	// open returns at once instead of waiting for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err = f.Stat()
	if err != nil {
		return nil, err
	}
	if err := regular(path, fi, limit); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(len(data)) > limit {
		return nil, &fs.PathError{Op: "read", Path: path, Err: &TooLargeError{Size: int64(len(data)), Limit: limit}}
	}
	return data, nil
}

func regular(path string, fi fs.FileInfo, limit int64) error {
	if !fi.Mode().IsRegular() {
		return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w (%s)", ErrNotRegular, Kind(fi.Mode()))}
	}
	if fi.Size() > limit {
		return &fs.PathError{Op: "read", Path: path, Err: &TooLargeError{Size: fi.Size(), Limit: limit}}
	}
	return nil
}

// Kind names the type of a file mode in plain words.
func Kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m.IsRegular():
		return "a regular file"
	}
	return "not a regular file"
}

func human(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
