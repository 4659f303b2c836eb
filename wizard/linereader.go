package wizard

import (
	"bufio"
	"io"
	"sync"
)

// lineReader hands out its input one line per Read. huh's accessible
// prompts make a new bufio.Scanner for every field, and a scanner reads
// ahead as much as it can: with piped input, the first field would
// swallow every answer. Shared by the whole chain of forms, lineReader
// makes piped answers work, one per line. A last line without a newline
// gets one, so that running out of input is only ever seen by a prompt
// that has no answer left (EOF then reports it).
type lineReader struct {
	mu      sync.Mutex
	r       *bufio.Reader
	pending []byte
	eof     bool
}

func newLineReader(r io.Reader) *lineReader { return &lineReader{r: bufio.NewReader(r)} }

// Read implements io.Reader.
func (l *lineReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) == 0 {
		line, err := l.r.ReadBytes('\n')
		if len(line) == 0 {
			if err == nil {
				err = io.EOF
			}
			l.eof = true
			return 0, err
		}
		if line[len(line)-1] != '\n' {
			line = append(line, '\n')
		}
		l.pending = line
	}
	n := copy(p, l.pending)
	l.pending = l.pending[n:]
	return n, nil
}

// EOF reports whether a prompt found no input left.
func (l *lineReader) EOF() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.eof
}
