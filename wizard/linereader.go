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
// gets one.
//
// huh handles the end of input badly (it takes the last rejected answer,
// and may index out of range with it), so a prompt never sees EOF: the
// Read that finds no input left closes Ended and blocks for good; the
// caller stops waiting for that prompt when Ended is closed.
//
// Piped answers are not echoed by a terminal; with echo set, each line
// is written to it as it is handed out, so that a transcript shows every
// answer after its prompt.
type lineReader struct {
	mu      sync.Mutex
	r       *bufio.Reader
	pending []byte
	ended   chan struct{}
	once    sync.Once
	echo    io.Writer
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReader(r), ended: make(chan struct{})}
}

// Read implements io.Reader.
func (l *lineReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	if len(l.pending) == 0 {
		line, _ := l.r.ReadBytes('\n')
		if len(line) == 0 {
			l.mu.Unlock()
			l.once.Do(func() { close(l.ended) })
			select {} // see the type's comment
		}
		if line[len(line)-1] != '\n' {
			line = append(line, '\n')
		}
		if l.echo != nil {
			l.echo.Write(line)
		}
		l.pending = line
	}
	n := copy(p, l.pending)
	l.pending = l.pending[n:]
	l.mu.Unlock()
	return n, nil
}

// Ended is closed when a prompt found no input left.
func (l *lineReader) Ended() <-chan struct{} { return l.ended }
