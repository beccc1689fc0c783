package frame

import (
	"errors"
	"io"
)

// Size defaults for Reader.
const (
	// DefaultReadBufferSize is the size of a Reader's read buffer. Frames
	// whose bodies fit are returned as views into it without copying.
	DefaultReadBufferSize = 32 << 10
	// HardMaxFrameSize caps every frame body, whatever limit the caller
	// asks for: 1 GiB.
	HardMaxFrameSize = 1 << 30
	// largeStep is the first allocation for a body larger than the read
	// buffer; later growth doubles what has been received.
	largeStep = 64 << 10
	// maxKeptLarge is the largest buffer for large bodies kept for the
	// next one; a larger body's memory is left to the caller.
	maxKeptLarge = 1 << 20
	// maxEmptyReads is the number of consecutive reads returning no data and
	// no error after which the source is deemed broken (io.ErrNoProgress).
	maxEmptyReads = 100
)

// Frame is a decoded frame. Body is a view that stays valid only until the
// next call to a Reader method.
type Frame struct {
	Flags byte // FlagMore and FlagCommand
	Body  []byte
	// Owned reports that Body is not a view into the Reader's buffers: the
	// caller may keep it. Only with SetHandOver.
	Owned bool
}

// More reports whether more frames of the same message follow.
func (f Frame) More() bool { return f.Flags&FlagMore != 0 }

// IsCommand reports whether the frame is a command.
func (f Frame) IsCommand() bool { return f.Flags&FlagCommand != 0 }

// Reader decodes frames from an io.Reader. It keeps one read buffer and
// returns bodies that fit in it as views; larger bodies are read into a
// second buffer that grows only as their octets arrive, so a header that
// declares a huge size costs nothing until the peer actually sends the data.
// That second buffer is kept for the next large body only while it holds at
// most 1 MiB: a larger body's memory is the caller's, and is freed once the
// caller drops the body. A Reader is not safe for concurrent use.
type Reader struct {
	src      io.Reader
	buf      []byte // len(buf) is the buffer size
	rpos     int    // start of unread octets in buf
	wpos     int    // end of unread octets in buf
	max      uint64
	large    []byte // reused body buffer for frames larger than buf
	consumed int64
	err      error // sticky read error
	handOver bool  // large bodies are given away, not reused
	owned    bool  // the last large body was given away
}

// NewReader returns a Reader of r that rejects frames whose body exceeds
// maxFrameSize octets with ErrFrameTooLarge. A maxFrameSize of zero or less,
// or above HardMaxFrameSize, means HardMaxFrameSize.
func NewReader(r io.Reader, maxFrameSize int64) *Reader {
	return NewReaderSize(r, maxFrameSize, DefaultReadBufferSize)
}

// NewReaderSize is NewReader with a read buffer of bufSize octets (at least
// 64).
func NewReaderSize(r io.Reader, maxFrameSize int64, bufSize int) *Reader {
	if maxFrameSize <= 0 || maxFrameSize > HardMaxFrameSize {
		maxFrameSize = HardMaxFrameSize
	}
	if bufSize < GreetingSize {
		bufSize = GreetingSize
	}
	return &Reader{src: r, buf: make([]byte, bufSize), max: uint64(maxFrameSize)}
}

// Buffered returns the number of octets read from the source but not yet
// consumed.
func (r *Reader) Buffered() int { return r.wpos - r.rpos }

// Consumed returns the number of octets consumed so far.
func (r *Reader) Consumed() int64 { return r.consumed }

// fill reads at least need octets into the buffer, which must have room.
func (r *Reader) fill(need int) error {
	if r.wpos-r.rpos >= need {
		return nil
	}
	if r.err != nil {
		return r.err
	}
	if r.rpos+need > len(r.buf) {
		r.wpos = copy(r.buf, r.buf[r.rpos:r.wpos])
		r.rpos = 0
	}
	empty := 0
	for r.wpos-r.rpos < need {
		n, err := r.src.Read(r.buf[r.wpos:])
		r.wpos += n
		if err == nil && n == 0 {
			// A source that keeps returning 0, nil would spin forever.
			if empty++; empty >= maxEmptyReads {
				err = io.ErrNoProgress
			}
		} else {
			empty = 0
		}
		if err != nil {
			r.err = err
			if r.wpos-r.rpos >= need {
				return nil
			}
			return err
		}
	}
	return nil
}

// Next returns a view of the next n octets, reading as needed. n must not
// exceed the buffer size. It is used for the greeting, which is read in
// pieces before any frame.
func (r *Reader) Next(n int) ([]byte, error) {
	if n > len(r.buf) {
		return nil, errors.New("frame: Next larger than the read buffer")
	}
	if err := r.fill(n); err != nil {
		if err == io.EOF && r.wpos > r.rpos {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	b := r.buf[r.rpos : r.rpos+n : r.rpos+n]
	r.rpos += n
	r.consumed += int64(n)
	return b, nil
}

// ReadHeader reads and consumes the next frame header. The caller must then
// consume exactly h.Size body octets with ReadBody (or call ReadFrame
// instead of both). It returns io.EOF at a clean end of stream between
// frames and io.ErrUnexpectedEOF inside one.
func (r *Reader) ReadHeader() (Header, error) {
	if err := r.fill(1); err != nil {
		return Header{}, err
	}
	// Check the flags octet at once: a peer that sends a bad one is
	// rejected without waiting for the rest of the header.
	if _, _, err := ParseHeader(r.buf[r.rpos : r.rpos+1]); err != io.ErrUnexpectedEOF {
		return Header{}, err
	}
	need := ShortHeaderSize
	if r.buf[r.rpos]&FlagLong != 0 {
		need = LongHeaderSize
	}
	if err := r.fill(need); err != nil {
		return Header{}, unexpected(err)
	}
	h, n, err := ParseHeader(r.buf[r.rpos:r.wpos])
	if err != nil {
		return Header{}, err
	}
	if h.Size > r.max {
		return Header{}, ErrFrameTooLarge
	}
	r.rpos += n
	r.consumed += int64(n)
	return h, nil
}

// ReadBody reads a frame body of size octets (as announced by ReadHeader)
// and returns a view valid until the next call.
func (r *Reader) ReadBody(size uint64) ([]byte, error) {
	if size > r.max {
		return nil, ErrFrameTooLarge
	}
	n := int(size)
	if n <= len(r.buf) {
		if err := r.fill(n); err != nil {
			return nil, unexpected(err)
		}
		b := r.buf[r.rpos : r.rpos+n : r.rpos+n]
		r.rpos += n
		r.consumed += int64(n)
		return b, nil
	}
	// Large body: start with what is buffered, then read straight into the
	// large buffer, growing it only as octets arrive.
	body := r.large[:0]
	r.large = nil
	if have := r.wpos - r.rpos; cap(body) < have {
		body = make([]byte, 0, min(n, max(have, largeStep)))
	}
	body = append(body, r.buf[r.rpos:r.wpos]...)
	r.consumed += int64(r.wpos - r.rpos)
	r.rpos, r.wpos = 0, 0
	empty := 0
	for len(body) < n {
		if r.err != nil {
			// The Reader is done: what arrived of the body is not kept.
			return nil, unexpected(r.err)
		}
		if len(body) == cap(body) {
			grow := max(len(body), largeStep)
			body = growTo(body, min(n, len(body)+grow))
		}
		want := min(cap(body), n)
		m, err := r.src.Read(body[len(body):want])
		body = body[:len(body)+m]
		r.consumed += int64(m)
		if err == nil && m == 0 {
			if empty++; empty >= maxEmptyReads {
				err = io.ErrNoProgress
			}
		} else {
			empty = 0
		}
		if err != nil {
			r.err = err
		}
	}
	switch {
	case r.handOver:
		r.owned = true
	case cap(body) <= maxKeptLarge:
		r.large = body[:0]
	}
	return body[:n:n], nil
}

// SetHandOver makes the Reader give away the memory of bodies larger than
// its read buffer instead of reusing it: ReadFrame marks such frames Owned,
// so that a caller that needs its own copy anyway can skip making one.
func (r *Reader) SetHandOver(on bool) { r.handOver = on }

// ReadFrame reads the next frame. Its body is a view valid until the next
// call. See ReadHeader for the errors at the end of the stream.
func (r *Reader) ReadFrame() (Frame, error) {
	h, err := r.ReadHeader()
	if err != nil {
		return Frame{}, err
	}
	r.owned = false
	body, err := r.ReadBody(h.Size)
	if err != nil {
		return Frame{}, err
	}
	return Frame{Flags: h.Flags, Body: body, Owned: r.owned}, nil
}

func growTo(b []byte, c int) []byte {
	nb := make([]byte, len(b), c)
	copy(nb, b)
	return nb
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
