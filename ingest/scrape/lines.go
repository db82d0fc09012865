package scrape

import (
	"bufio"
	"errors"
	"io"
	"unsafe"
)

const (
	readBufSize  = 64 << 10 // bytes of the read buffer; longer lines are assembled in lineReader.long
	maxLineBytes = 1 << 20  // bytes; a longer line is dropped as malformed (jmx_exporter's longest are HELP lines of ~300 B)
)

// lineReader yields the lines of a body, at most limit bytes of it, without
// holding the body: each line is a view of the read buffer, valid until the
// next call. Whatever the parser keeps from a line it copies.
type lineReader struct {
	lr   io.LimitedReader // counts down from limit+1: N == 0 means over the limit
	br   *bufio.Reader
	long []byte // a line longer than the read buffer, assembled; reused
}

// newLineReader reads at most limit bytes from r. sizeHint is the body size
// in bytes, or -1; a small body gets a small buffer.
func newLineReader(r io.Reader, limit, sizeHint int64) *lineReader {
	size := readBufSize
	if sizeHint >= 0 && sizeHint < readBufSize {
		size = max(int(sizeHint)+1, 4096)
	}
	l := &lineReader{lr: io.LimitedReader{R: r, N: limit + 1}}
	l.br = bufio.NewReaderSize(&l.lr, size)
	return l
}

// overLimit reports whether more than limit bytes were read.
func (l *lineReader) overLimit() bool { return l.lr.N <= 0 }

// line is one line of the body.
type line struct {
	text       string // without its '\n'; a view of the read buffer
	terminated bool   // false for a last line that has no '\n'
	tooLong    bool   // over maxLineBytes; text is empty
}

// next returns the next line. It returns io.EOF after the last line, and
// any other read error as is.
func (l *lineReader) next() (line, error) {
	b, err := l.br.ReadSlice('\n')
	tooLong := false
	if err != nil && errors.Is(err, bufio.ErrBufferFull) { // err != nil first: errors.Is is a call, and this runs per line
		b, tooLong, err = l.assemble(b)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return line{}, err
	}
	if len(b) == 0 && !tooLong {
		return line{}, io.EOF
	}
	ln := line{tooLong: tooLong}
	if n := len(b); n > 0 && b[n-1] == '\n' {
		ln.terminated = true
		b = b[:n-1]
	}
	if !tooLong {
		ln.text = unsafe.String(unsafe.SliceData(b), len(b))
	}
	return ln, nil
}

// assemble reads the rest of a line that did not fit the read buffer. The
// returned slice ends with '\n' when the line was terminated.
func (l *lineReader) assemble(first []byte) (b []byte, tooLong bool, err error) {
	l.long = append(l.long[:0], first...)
	err = bufio.ErrBufferFull
	for errors.Is(err, bufio.ErrBufferFull) {
		b, err = l.br.ReadSlice('\n')
		if len(l.long)+len(b) > maxLineBytes {
			tooLong = true
			l.long = append(l.long[:0], b...) // keep only the tail, for the '\n'
			continue
		}
		l.long = append(l.long, b...)
	}
	if tooLong {
		n := len(l.long)
		if n > 0 && l.long[n-1] == '\n' {
			return []byte{'\n'}, true, err
		}
		return nil, true, err
	}
	return l.long, false, err
}
