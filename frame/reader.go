package frame

import (
	"errors"
	"io"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"weak"
)

// Size defaults for Reader.
const (
	// DefaultReadBufferSize is the size of a Reader's read buffer. Frames
	// whose bodies fit are returned as views into it without copying.
	DefaultReadBufferSize = 32 << 10
	// IdleReadBufferSize is the size of the small buffer a Reader reads
	// into when it has caught up with its source: before the first read,
	// and whenever the last read took all the source had. A connection
	// that waits for its peer then waits on this much memory, not on its
	// full read buffer.
	IdleReadBufferSize = 512
	// HardMaxFrameSize caps every frame body, whatever limit the caller
	// asks for: 1 GiB.
	HardMaxFrameSize = 1 << 30
	// largeStep is the first allocation for a body larger than the read
	// buffer (plus largeSlack, so that a 64 KiB message in an envelope,
	// such as a CURVE box, fits one buffer); later growth makes room for
	// three times what has arrived.
	largeStep  = 64 << 10
	largeSlack = 1 << 10
	// maxKeptLarge is the largest buffer for large bodies kept for the
	// next one; a larger body's memory is left to the caller.
	maxKeptLarge = 1 << 20
	// shortReadsToIdle is the number of reads in a row that find less
	// than their room after which a Reader on its full-size buffer takes
	// the small one again.
	shortReadsToIdle = 16
	// narrowFill is the most a fill reads after a large body: room for
	// the next header and the start of its body, or for a few small
	// frames (after which fills read as much as the buffer holds).
	narrowFill = IdleReadBufferSize
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

// Reader decodes frames from an io.Reader. A Reader is not safe for
// concurrent use.
//
// # Buffers
//
// Bodies of up to the read buffer size (DefaultReadBufferSize, or the size
// given to NewReaderSize) are returned as views into the read buffer. Larger
// bodies are read into a second buffer that grows only as their octets
// arrive, so a header that declares a huge size costs nothing until the
// peer actually sends the data. After a large body the Reader reads only a
// few hundred octets at a time until a small frame comes: a stream of
// large frames then goes from the source straight into each body's
// memory, not through the read buffer and a copy.
//
// A view, whether a Frame's Body or what Next and ReadBody return, is valid
// only until the next call to a Reader method: that call may overwrite its
// octets or give its memory to another Reader. A caller that keeps a body
// must copy it, unless the Frame is Owned or the caller calls KeepViews.
//
// The read buffer is not allocated up front and is not kept while the
// connection is quiet. A Reader reads into a buffer of IdleReadBufferSize
// octets as long as its reads drain the source; once a read fills all the
// room it was given, or a frame needs more room, it moves to a full-size
// buffer taken from a pool shared by all Readers, and goes back to the
// small one when a read again finds less data than it had room for. A busy
// Reader thus reads in large chunks, while one blocked waiting for its peer
// holds about IdleReadBufferSize octets. A buffer for large bodies is kept
// for the next frame only while it holds at most 1 MiB and the source keeps
// the Reader busy. Release gives back the memory at once.
type Reader struct {
	src      io.Reader
	vsrc     VectorReader // src, when it reads into two buffers at once
	buf      []byte       // the buffer in use: small, *big or nil
	rpos     int          // start of unread octets in buf
	wpos     int          // end of unread octets in buf
	size     int          // read buffer size: bodies up to size are views
	small    []byte       // idle buffer, min(size, IdleReadBufferSize) octets
	big      *[]byte      // full-size buffer while busy, from bufPools
	busy     bool         // the source is likely to have more: a read filled its room, recently
	shorts   int          // consecutive reads that found less than their room
	max      uint64
	large    []byte // reused body buffer for frames larger than size
	consumed int64
	err      error // sticky read error
	handOver bool  // large bodies are given away, not reused
	kept     bool  // buf holds views given away (KeepViews): never written before wpos again, never pooled
	owned    bool  // the last large body was given away
	// narrow limits fills to narrowFill octets: the last body was large,
	// so the next frame may well be large too, and its body should go
	// from the source straight into its own buffer, not through buf.
	narrow  bool
	bodyMem func(n int) []byte // memory for large bodies, see SetBodyMemory
	framing Framing
}

// NewReader returns a Reader of r that rejects frames whose body exceeds
// maxFrameSize octets with ErrFrameTooLarge. A maxFrameSize of zero or less,
// or above HardMaxFrameSize, means HardMaxFrameSize. It allocates no
// buffer: see Reader for when it does.
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
	vr, _ := r.(VectorReader)
	return &Reader{src: r, vsrc: vr, size: bufSize, max: uint64(maxFrameSize)}
}

// VectorReader is an io.Reader that can also fill two buffers with one
// read, as readv does. A Reader whose source is a VectorReader reads the
// last part of a large body together with up to IdleReadBufferSize octets
// of what follows it, into its read buffer: a stream of large frames then
// takes one read per frame, not one for the body and one for the next
// header.
type VectorReader interface {
	io.Reader
	// ReadVector reads up to len(a)+len(b) octets into a, then b, and
	// returns the number read; otherwise it behaves as Read does.
	ReadVector(a, b []byte) (int, error)
}

// Buffered returns the number of octets read from the source but not yet
// consumed.
func (r *Reader) Buffered() int { return r.wpos - r.rpos }

// FrameBuffered reports whether a whole frame is buffered, so that the
// next ReadFrame returns without reading from the source (a malformed
// header counts as buffered: ReadFrame reports it at once).
func (r *Reader) FrameBuffered() bool {
	if r.framing != FramingV3 {
		return r.legacyFrameBuffered()
	}
	h, n, err := ParseHeader(r.buf[r.rpos:r.wpos])
	if err != nil {
		return err != io.ErrUnexpectedEOF
	}
	return uint64(r.wpos-r.rpos-n) >= h.Size
}

// Consumed returns the number of octets consumed so far.
func (r *Reader) Consumed() int64 { return r.consumed }

// fill reads at least need octets (at most r.size) into the buffer.
func (r *Reader) fill(need int) error {
	if r.wpos-r.rpos >= need {
		return nil
	}
	if r.err != nil {
		return r.err
	}
	r.prepare(need)
	empty := 0
	end := len(r.buf)
	if r.narrow {
		end = min(end, r.rpos+max(need, narrowFill))
	}
	for r.wpos-r.rpos < need {
		room := end - r.wpos
		n, err := r.src.Read(r.buf[r.wpos:end])
		r.wpos += n
		// A read that fills its room says the source has more. A busy
		// Reader stays on its full-size buffer until several reads in a
		// row found less than room: a steady stream of messages often
		// drains the source without the peer going quiet, and moving to
		// the small buffer then costs a read per message.
		if n == room {
			r.shorts = 0
		} else {
			r.shorts++
		}
		r.busy = n == room || r.big != nil && r.shorts < shortReadsToIdle
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

// prepare picks the buffer for the reads that will bring the unread octets
// to need, and moves the unread octets so that need fits after rpos.
func (r *Reader) prepare(need int) {
	if !r.busy {
		// The last read drained the source: this one may wait for the
		// peer, so it should not do so on more memory than it needs.
		r.large = nil
	}
	if r.size > IdleReadBufferSize {
		switch useBig := r.busy || need > IdleReadBufferSize; {
		case useBig && r.big == nil:
			kept := r.kept
			r.moveTo(r.takeBig())
			if kept {
				r.small = nil // it holds views given away
			}
		case !useBig && r.big != nil:
			kept := r.kept
			r.moveTo(r.smallBuf())
			if kept {
				r.dropKept()
			} else {
				r.putBig()
			}
		}
	}
	if r.buf == nil {
		r.buf = r.smallBuf()
	}
	switch {
	case r.kept:
		// Octets before wpos may be the caller's: reads go on after
		// them, and into a new buffer once the room left is short.
		if room := len(r.buf) - r.wpos; r.rpos+need > len(r.buf) || room < len(r.buf)/keptMinRoom {
			r.renew()
		}
	case r.rpos == r.wpos:
		r.rpos, r.wpos = 0, 0
	case r.big == nil || r.rpos+need > len(r.buf):
		// In the small buffer the unread octets always move to the front,
		// so that a read that fills it says the source had more.
		r.wpos = copy(r.buf, r.buf[r.rpos:r.wpos])
		r.rpos = 0
	}
}

// moveTo makes b, whose size is enough for the unread octets, the buffer
// in use.
func (r *Reader) moveTo(b []byte) {
	if r.buf != nil {
		r.wpos = copy(b, r.buf[r.rpos:r.wpos])
	} else {
		r.wpos = 0
	}
	r.rpos = 0
	r.buf = b
	r.kept = false
}

// renew replaces the buffer in use, which holds views given away, with a
// new one of its kind, moving the unread octets over.
func (r *Reader) renew() {
	if r.big != nil {
		r.dropKept() // the unread octets still move from r.buf
		r.moveTo(r.takeBig())
		return
	}
	r.small = nil
	r.moveTo(r.smallBuf())
}

// keptMinRoom: a buffer holding views given away takes reads while at
// least 1/keptMinRoom of it is free.
const keptMinRoom = 8

// KeepViews lets the caller keep the views the Reader has returned from
// its read buffer so far (frame bodies of up to the read buffer size, and
// what Next returned) for as long as it likes: the Reader never writes to
// their octets again. It goes on reading into the room the buffer has
// left after them and takes a new buffer when that runs short, so that
// the views of many small frames share one allocation, the read buffer,
// and each keeps it alive as long as it is kept. Once the collector finds
// that none of them is left, a buffer of DefaultReadBufferSize comes back
// for Readers to read into again (one of another size is freed). Views
// of the buffer for large bodies are not affected (see SetHandOver).
func (r *Reader) KeepViews() {
	if r.buf != nil {
		r.kept = true
	}
}

// ViewsKept reports whether the read buffer holds views given away with
// KeepViews: keeping more views of it then costs no memory beyond what is
// already kept.
func (r *Reader) ViewsKept() bool { return r.kept }

// smallBuf returns the idle buffer, allocating it on first use.
func (r *Reader) smallBuf() []byte {
	if r.small == nil {
		r.small = make([]byte, min(r.size, IdleReadBufferSize))
	}
	return r.small
}

// takeBig takes a full-size buffer from the pool and returns it.
func (r *Reader) takeBig() []byte {
	class := sizeClass(r.size)
	if class < len(bufPools) {
		r.big, _ = bufPools[class].Get().(*[]byte)
	}
	if r.big == nil {
		// Pooled buffers have the size of their class; others just size.
		var b []byte
		switch {
		case class == recycledClass:
			p := recycled.take()
			if p == nil {
				p = new([1 << recycledClass]byte)
			}
			b = p[:]
		case class < len(bufPools):
			b = make([]byte, 1<<class)
		default:
			b = make([]byte, r.size)
		}
		r.big = &b
	}
	return (*r.big)[:r.size]
}

// putBig gives the full-size buffer back to the pool. The buffer in use
// must no longer be it.
func (r *Reader) putBig() {
	if class := sizeClass(r.size); class < len(bufPools) {
		bufPools[class].Put(r.big)
	}
	r.big = nil
}

// dropKept lets go of the full-size buffer, which holds views given
// away (KeepViews). A buffer of the recycled class comes back to the pool
// once the collector finds that none of them is left, for any Reader to
// read into again: a stream of small messages that the application drops
// soon after receiving them then reads into memory already in use,
// instead of taking fresh pages for each buffer.
func (r *Reader) dropKept() {
	if b := *r.big; len(b) == 1<<recycledClass {
		runtime.SetFinalizer((*[1 << recycledClass]byte)(b), recycleBuf)
	}
	r.big = nil
}

// recycledClass is the class of the buffers that come back from views
// given away: that of DefaultReadBufferSize.
const recycledClass = 15

// recycleBuf returns a buffer that held views given away, now that the
// collector has found none of them left, for a Reader to read into again.
func recycleBuf(p *[1 << recycledClass]byte) { recycled.put(p) }

// recycled holds the buffers that came back from views given away. It
// holds them weakly: one that no Reader takes before the next collection
// is freed then, so that they never add to the heap the collector paces
// itself on, and at most maxRecycled of them.
var recycled weakStack

// maxRecycled bounds the buffers recycled holds (8 MiB).
const maxRecycled = 256

// weakStack is a stack of weakly held buffers; its zero value is empty.
type weakStack struct {
	mu   sync.Mutex
	bufs []weak.Pointer[[1 << recycledClass]byte]
	puts atomic.Int64 // buffers that came back, kept or not
}

func (s *weakStack) put(p *[1 << recycledClass]byte) {
	s.puts.Add(1)
	s.mu.Lock()
	if len(s.bufs) < maxRecycled {
		s.bufs = append(s.bufs, weak.Make(p))
	}
	s.mu.Unlock()
}

// take returns a recycled buffer that is still there, or nil.
func (s *weakStack) take() *[1 << recycledClass]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := len(s.bufs) - 1; k >= 0; k-- {
		p := s.bufs[k].Value()
		s.bufs = s.bufs[:k]
		if p != nil {
			return p
		}
	}
	return nil
}

// bufPools holds the full-size buffers of Readers that went idle, by size
// class: bufPools[k] holds buffers of 1<<k octets. Read buffers above the
// largest class are not shared.
var bufPools [21]sync.Pool

// sizeClass returns the class of buffers that hold size octets.
func sizeClass(size int) int { return bits.Len(uint(size - 1)) }

// Release gives back the memory of the Reader's buffers: the buffer for
// large bodies, and the read buffer when it holds no unread octets (when it
// holds a few, they move to the small one). Views returned earlier are no
// longer valid. The Reader stays usable and allocates again when it next
// reads. It suits an owner that knows its connection is quiet, or is done
// with the Reader: the full-size buffer can then serve another Reader.
func (r *Reader) Release() {
	r.large = nil
	r.busy = false
	switch unread := r.wpos - r.rpos; {
	case unread == 0:
		r.rpos, r.wpos = 0, 0
		r.buf, r.small = nil, nil
		switch {
		case r.big != nil && r.kept:
			r.dropKept()
		case r.big != nil:
			r.putBig()
		}
		r.kept = false
	case r.big != nil && unread <= IdleReadBufferSize:
		kept := r.kept
		r.moveTo(r.smallBuf())
		if kept {
			r.dropKept()
		} else {
			r.putBig()
		}
	}
}

// Footprint returns the number of octets of buffer memory the Reader holds
// (read buffers and the buffer for large bodies), not counting bodies it
// handed over.
func (r *Reader) Footprint() int {
	n := cap(r.small) + cap(r.large)
	if r.big != nil {
		n += cap(*r.big)
	}
	return n
}

// Next returns a view of the next n octets, reading as needed. n must not
// exceed the read buffer size. It is used for the greeting, which is read
// in pieces before any frame.
func (r *Reader) Next(n int) ([]byte, error) {
	if n > r.size {
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

// Await reads until a whole frame is buffered, so that the next
// ReadFrame returns it without reading from the source, and reports
// whether one is. It consumes nothing: a read that fails leaves the
// Reader where it was, and a timeout (an error with a Timeout method
// that reports true, such as os.ErrDeadlineExceeded) does not stick as
// other read errors do, so that a caller can stop waiting with a read
// deadline and call Await or ReadFrame later. It reports false, without
// an error and without reading, when the next frame is larger than the
// read buffer: ReadFrame reads such a body straight into its own memory.
func (r *Reader) Await() (bool, error) {
	for !r.FrameBuffered() {
		have := r.wpos - r.rpos
		if have >= r.size {
			return false, nil
		}
		if r.framing == FramingV3 {
			if h, n, err := ParseHeader(r.buf[r.rpos:r.wpos]); err == nil && uint64(n)+h.Size > uint64(r.size) {
				return false, nil
			}
		}
		if err := r.fill(have + 1); err != nil {
			if t, ok := err.(interface{ Timeout() bool }); ok && t.Timeout() {
				r.err = nil
			}
			return false, err
		}
	}
	return true, nil
}

// ReadHeader reads and consumes the next frame header. The caller must then
// consume exactly h.Size body octets with ReadBody (or call ReadFrame
// instead of both). It returns io.EOF at a clean end of stream between
// frames and io.ErrUnexpectedEOF inside one.
func (r *Reader) ReadHeader() (Header, error) {
	if r.framing != FramingV3 {
		return r.readLegacyHeader()
	}
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
	if n <= r.size {
		// Small frames read in full fills again.
		r.narrow = false
		if err := r.fill(n); err != nil {
			return nil, unexpected(err)
		}
		b := r.buf[r.rpos : r.rpos+n : r.rpos+n]
		r.rpos += n
		r.consumed += int64(n)
		return b, nil
	}
	// Large body: start with what is buffered, then read straight into the
	// large buffer, growing it only as octets arrive. Memory the caller
	// holds for bodies is used when it has room for the whole body.
	body := r.large[:0]
	r.large = nil
	// cls is the class of the memory that comes back once the caller
	// drops the body: set while body is a buffer of that class.
	cls := bodyClass(nil)
	if r.handOver {
		if r.bodyMem != nil {
			if b := r.bodyMem(n); cap(b) >= n {
				body = b[:0]
			}
		}
		if cap(body) < n {
			if c := classOf(n); c != nil {
				// Memory already allocated, and the peer declared a
				// size it fills well: read into it.
				if b := c.take(); b != nil {
					body, cls = b[:0], c
				}
			}
		}
	}
	if have := r.wpos - r.rpos; cap(body) < have {
		body = r.grow(body, n, max(have, largeStep+largeSlack), &cls)
	}
	body = append(body, r.buf[r.rpos:r.wpos]...)
	r.consumed += int64(r.wpos - r.rpos)
	if r.kept {
		r.rpos = r.wpos // the octets before stay the caller's
	} else {
		r.rpos, r.wpos = 0, 0
	}
	empty := 0
	for len(body) < n {
		if r.err != nil {
			// The Reader is done: what arrived of the body is not kept.
			return nil, unexpected(r.err)
		}
		if len(body) == cap(body) {
			// Four times what has arrived: the memory follows the octets
			// received, and a large body leaves a third of its size in
			// discarded steps (doubling would leave all of it).
			grow := max(3*len(body), largeStep)
			body = r.grow(body, n, len(body)+grow, &cls)
		}
		want := min(cap(body), n) - len(body)
		var m, room int
		var err error
		if tail := r.tail(); len(tail) > 0 && len(body)+want == n {
			// The rest of the body, and what follows it into the read
			// buffer.
			room = want + len(tail)
			m, err = r.vsrc.ReadVector(body[len(body):n], tail)
			if m > want {
				r.wpos += m - want
			}
		} else {
			room = want
			m, err = r.src.Read(body[len(body) : len(body)+want])
		}
		r.busy = m == room
		m = min(m, want)
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
		if cls != nil {
			cls.recycle(body)
		}
	case cap(body) <= maxKeptLarge:
		r.large = body[:0]
	}
	r.narrow = true
	return body[:n:n], nil
}

// tail returns the room of the read buffer that the read which ends a
// large body fills too when the source is a VectorReader: at most
// narrowFill octets after the unread ones, which are none at that point.
func (r *Reader) tail() []byte {
	if r.vsrc == nil || r.buf == nil || r.rpos != r.wpos {
		return nil
	}
	return r.buf[r.wpos:min(len(r.buf), r.wpos+narrowFill)]
}

// SetBodyMemory gives a Reader that hands large bodies over (see
// SetHandOver) a source of memory for them: for each body larger than its
// read buffer, the Reader calls get with the body's size, and reads the
// body into what get returns when its capacity holds the whole body (it
// allocates as usual otherwise, and drops what get returned). The memory
// is handed over with the body, in the Owned Frame. get must return only
// memory it already holds, such as that of bodies the caller is done
// with: the Reader calls it on a peer's word, before the body arrives.
// A nil get, the default, makes the Reader allocate every large body.
func (r *Reader) SetBodyMemory(get func(n int) []byte) { r.bodyMem = get }

// SetHandOver makes the Reader give away the memory of bodies larger than
// its read buffer instead of reusing it: ReadFrame marks such frames Owned,
// so that a caller that needs its own copy anyway can skip making one.
// A body of about 64 KiB, 72 KiB, 128 KiB, 256 KiB, 512 KiB or 1 MiB is read into
// memory that comes back, once the collector finds the caller dropped it,
// for later bodies of its size (memory from SetBodyMemory comes first).
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

// grow returns body with room for min(n, c) octets. When the Reader hands
// bodies over, n has a class and c reaches n (the room holds the whole
// body: a class is at most a third larger than the bodies it takes), that
// room is a buffer of the class, recycled or new, so that the body's
// memory can come back once the caller drops it; *cls is then its class.
func (r *Reader) grow(body []byte, n, c int, cls *bodyClass) []byte {
	if r.handOver {
		if k := classOf(n); k != nil && c >= n {
			b := k.take()
			if b == nil {
				b = k.alloc()
			}
			*cls = k
			return append(b[:0], body...)
		}
	}
	return growTo(body, min(n, c))
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

// Large bodies handed over come back for Readers to read into once the
// collector finds that the caller dropped them, as the read buffers of
// views given away do (see dropKept): a stream of large messages that the
// application drops soon after receiving them then reads into memory
// already in use, instead of fresh pages that the runtime has to fault in
// and zero. Only bodies whose size fills most of a class are read into its
// buffers: those of 64 KiB, 72 KiB (a 64 KiB message in an envelope, such
// as a CURVE box), 128 KiB, 256 KiB, 512 KiB and 1 MiB. Each size is a
// whole number of the runtime's 8 KiB pages, so that a body held in a
// queue costs no more than its class.
type (
	body64K  [64 << 10]byte
	body72K  [72 << 10]byte
	body128K [128 << 10]byte
	body256K [256 << 10]byte
	body512K [512 << 10]byte
	body1M   [1 << 20]byte
)

// bodyClasses lists the classes of large bodies that come back, smallest
// first.
var bodyClasses = [...]bodyClass{
	&bodyStack[body64K, *body64K]{},
	&bodyStack[body72K, *body72K]{},
	&bodyStack[body128K, *body128K]{},
	&bodyStack[body256K, *body256K]{},
	&bodyStack[body512K, *body512K]{},
	&bodyStack[body1M, *body1M]{},
}

// maxRecycledBodies bounds the octets each class of large bodies holds
// for reuse. Buffers come back only at a collection, and taking one
// allocates nothing, so collections come only from the new buffers a
// stream takes once its class is empty: between two collections a stream
// reads into the buffers that came back at the first (at most this bound)
// and then into as many new ones as the collector's pacing lets it
// allocate (the heap goal less the live heap: a few MiB in a process with
// a small heap). The larger the bound, the fewer the new buffers: in a
// 64 KiB stream 8 MiB left 45 % of the bodies in new memory (zeroed, or
// faulted in after the runtime had returned it to the system), 32 MiB
// 10-25 %.
const maxRecycledBodies = 32 << 20

// bodyClass is a class of buffers for large bodies.
type bodyClass interface {
	size() int
	// take returns a buffer of the class that came back, or nil.
	take() []byte
	// alloc returns a new buffer of the class.
	alloc() []byte
	// recycle makes the buffer of the class that b starts come back
	// once the collector finds nothing refers to it, unless the buffers
	// of the class out with the caller or held reach maxRecycledBodies:
	// it is then left to the collector.
	recycle(b []byte)
	// counts returns the number of buffers that came back so far, the
	// number held (some of them possibly freed since) and the number out
	// with callers that will come back.
	counts() (puts int64, held, out int)
}

// classOf returns the class whose buffers hold a body of n octets with at
// most a quarter of them left unused, or nil.
func classOf(n int) bodyClass {
	for _, c := range bodyClasses {
		if size := c.size(); n <= size {
			if 4*n >= 3*size {
				return c
			}
			return nil
		}
	}
	return nil
}

// bodyArray is the pointer to a class's array type.
type bodyArray[A any] interface {
	*A
	bytes() []byte
	// start returns the array b starts, b being a slice of it from
	// its first octet.
	start(b []byte) *A
	// octets returns the array's length; it allocates nothing.
	octets() int
}

func (p *body64K) bytes() []byte  { return p[:] }
func (p *body72K) bytes() []byte  { return p[:] }
func (p *body128K) bytes() []byte { return p[:] }
func (p *body256K) bytes() []byte { return p[:] }
func (p *body512K) bytes() []byte { return p[:] }
func (p *body1M) bytes() []byte   { return p[:] }

func (p *body64K) octets() int  { return len(p) }
func (p *body72K) octets() int  { return len(p) }
func (p *body128K) octets() int { return len(p) }
func (p *body256K) octets() int { return len(p) }
func (p *body512K) octets() int { return len(p) }
func (p *body1M) octets() int   { return len(p) }

func (*body64K) start(b []byte) *body64K   { return (*body64K)(b[:cap(b)]) }
func (*body72K) start(b []byte) *body72K   { return (*body72K)(b[:cap(b)]) }
func (*body128K) start(b []byte) *body128K { return (*body128K)(b[:cap(b)]) }
func (*body256K) start(b []byte) *body256K { return (*body256K)(b[:cap(b)]) }
func (*body512K) start(b []byte) *body512K { return (*body512K)(b[:cap(b)]) }
func (*body1M) start(b []byte) *body1M     { return (*body1M)(b[:cap(b)]) }

// bodyStack is a class of large bodies: a stack of weakly held buffers of
// type A that came back, like recycled for read buffers.
type bodyStack[A any, P bodyArray[A]] struct {
	mu   sync.Mutex
	bufs []weak.Pointer[A]
	// out counts the buffers given to callers that will come back: with
	// those held, at most maxRecycledBodies, so that a collection never
	// brings back more than the stack keeps (one that did would keep the
	// rest alive until the next).
	out  int
	puts atomic.Int64 // buffers that came back, kept or not
}

func (s *bodyStack[A, P]) size() int { return P(nil).octets() }

func (s *bodyStack[A, P]) alloc() []byte { return P(new(A)).bytes() }

func (s *bodyStack[A, P]) take() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := len(s.bufs) - 1; k >= 0; k-- {
		p := s.bufs[k].Value()
		s.bufs = s.bufs[:k]
		if p != nil {
			return P(p).bytes()
		}
	}
	return nil
}

func (s *bodyStack[A, P]) recycle(b []byte) {
	s.mu.Lock()
	ok := (s.out+len(s.bufs)+1)*s.size() <= maxRecycledBodies
	if ok {
		s.out++
	}
	s.mu.Unlock()
	if ok {
		// b starts the array: it came from take or alloc.
		runtime.SetFinalizer(P(P(nil).start(b)), s.put)
	}
}

func (s *bodyStack[A, P]) counts() (int64, int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts.Load(), len(s.bufs), s.out
}

func (s *bodyStack[A, P]) put(p P) {
	s.puts.Add(1)
	s.mu.Lock()
	s.out--
	if (len(s.bufs)+1)*len(p.bytes()) <= maxRecycledBodies {
		s.bufs = append(s.bufs, weak.Make((*A)(p)))
	}
	s.mu.Unlock()
}
