package frame

import (
	"bytes"
	"io"
	"testing"
	"unsafe"
)

// bufferSource is a bytes.Reader that counts the octets it copies into
// the Reader's read buffers (as opposed to the memory of a large body).
type bufferSource struct {
	src      *bytes.Reader
	r        *Reader
	buffered int // octets read into the read buffer
	reads    []int
}

func (s *bufferSource) Read(p []byte) (int, error) {
	n, err := s.src.Read(p)
	s.reads = append(s.reads, len(p))
	if s.r.big != nil && within(p, *s.r.big) || within(p, s.r.small) {
		s.buffered += n
	}
	return n, err
}

// within reports whether p starts in b's memory.
func within(p, b []byte) bool {
	if len(p) == 0 || cap(b) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	at := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	return at >= start && at < start+uintptr(cap(b))
}

// TestReaderLargeBodiesBypassBuffer checks that once a body larger than
// the read buffer has been read, the next fill reads only a little, so
// that the next large body goes from the source into its own memory
// rather than through the read buffer; and that small frames bring back
// full fills.
func TestReaderLargeBodiesBypassBuffer(t *testing.T) {
	const large, count = 100000, 4
	var stream []byte
	for i := range count {
		stream = AppendFrame(stream, 0, bytes.Repeat([]byte{byte(i)}, large))
	}
	for range 500 {
		stream = AppendFrame(stream, 0, []byte("small"))
	}
	for _, handOver := range []bool{false, true} {
		src := &bufferSource{src: bytes.NewReader(stream)}
		r := NewReader(src, 0)
		src.r = r
		r.SetHandOver(handOver)
		if _, err := r.ReadFrame(); err != nil {
			t.Fatal(err)
		}
		src.buffered = 0
		for i := 1; i < count; i++ {
			f, err := r.ReadFrame()
			if err != nil || !bytes.Equal(f.Body, bytes.Repeat([]byte{byte(i)}, large)) {
				t.Fatalf("hand-over %v: large frame %d: %d octets, %v", handOver, i, len(f.Body), err)
			}
		}
		if most := (count - 1) * narrowFill; src.buffered > most {
			t.Errorf("hand-over %v: %d octets of %d large bodies went through the read buffer, want at most %d",
				handOver, src.buffered, count-1, most)
		}
		reads := len(src.reads)
		for range 500 {
			if f, err := r.ReadFrame(); err != nil || string(f.Body) != "small" {
				t.Fatalf("hand-over %v: small frame %q, %v", handOver, f.Body, err)
			}
		}
		full := 0
		for _, n := range src.reads[reads:] {
			if n > narrowFill {
				full++
			}
		}
		if full == 0 {
			t.Errorf("hand-over %v: small frames read in reads of %v octets, want full fills", handOver, src.reads[reads:])
		}
		if _, err := r.ReadFrame(); err != io.EOF {
			t.Fatalf("hand-over %v: at the end: %v", handOver, err)
		}
	}
}

// TestReaderBodyMemory checks that a Reader that hands large bodies over
// reads them into the memory SetBodyMemory's function gives when it holds
// the whole body, and allocates as usual otherwise.
func TestReaderBodyMemory(t *testing.T) {
	const size = 3 * DefaultReadBufferSize
	body := bytes.Repeat([]byte{0x5A}, size)
	var stream []byte
	stream = AppendFrame(stream, 0, body)
	stream = AppendFrame(stream, 0, []byte("small"))
	stream = AppendFrame(stream, 0, body)
	stream = AppendFrame(stream, 0, body)
	mem := make([]byte, 7, size+10)
	var asked []int
	give := [][]byte{mem, make([]byte, size-1)} // the second is too small
	r := NewReader(bytes.NewReader(stream), 0)
	r.SetHandOver(true)
	r.SetBodyMemory(func(n int) []byte {
		asked = append(asked, n)
		if len(give) == 0 {
			return nil
		}
		b := give[0]
		give = give[1:]
		return b
	})
	f, err := r.ReadFrame()
	if err != nil || !f.Owned || !bytes.Equal(f.Body, body) {
		t.Fatalf("first large frame: %d octets, owned %v, %v", len(f.Body), f.Owned, err)
	}
	if unsafe.SliceData(f.Body) != unsafe.SliceData(mem) || cap(f.Body) != size {
		t.Error("the body was not read into the memory given")
	}
	if f, err := r.ReadFrame(); err != nil || string(f.Body) != "small" {
		t.Fatalf("small frame %q, %v", f.Body, err)
	}
	f, err = r.ReadFrame()
	if err != nil || !f.Owned || !bytes.Equal(f.Body, body) {
		t.Fatalf("second large frame: %d octets, owned %v, %v", len(f.Body), f.Owned, err)
	}
	if unsafe.SliceData(f.Body) == unsafe.SliceData(mem) {
		t.Error("the second body overwrote the first")
	}
	// get returns nothing: the Reader allocates.
	if f, err := r.ReadFrame(); err != nil || !f.Owned || !bytes.Equal(f.Body, body) {
		t.Fatalf("third large frame: %d octets, owned %v, %v", len(f.Body), f.Owned, err)
	}
	if len(asked) != 3 || asked[0] != size || asked[1] != size || asked[2] != size {
		t.Errorf("asked for memory for %v, want three times %d (small frames never)", asked, size)
	}
	// Without hand-over the Reader keeps its own buffer for large bodies
	// and never asks.
	asked = nil
	r = NewReader(bytes.NewReader(stream), 0)
	r.SetBodyMemory(func(n int) []byte { asked = append(asked, n); return nil })
	if _, err := r.ReadFrame(); err != nil || len(asked) != 0 {
		t.Fatalf("without hand-over: asked for %v, %v", asked, err)
	}
}

// TestReaderBodyMemoryTruncated checks that a body cut short by the end of
// the source is an error with memory from SetBodyMemory too, and that the
// Reader keeps no part of it.
func TestReaderBodyMemoryTruncated(t *testing.T) {
	stream := AppendHeader(nil, 0, 1<<20)
	stream = append(stream, make([]byte, 1000)...)
	r := NewReader(bytes.NewReader(stream), 0)
	r.SetHandOver(true)
	r.SetBodyMemory(func(n int) []byte { return make([]byte, 0, n) })
	if _, err := r.ReadFrame(); err != io.ErrUnexpectedEOF {
		t.Fatalf("ReadFrame: %v, want io.ErrUnexpectedEOF", err)
	}
	if n := r.Footprint(); n > DefaultReadBufferSize+IdleReadBufferSize {
		t.Errorf("after a truncated body the Reader holds %d octets", n)
	}
}

// TestReaderBodyMemoryAllocs checks that large bodies handed over in
// memory given back cost no allocation.
func TestReaderBodyMemoryAllocs(t *testing.T) {
	const size = 64 << 10
	var stream []byte
	for range 3 {
		stream = AppendFrame(stream, 0, make([]byte, size))
	}
	r := NewReader(&loopSource{data: stream}, 0)
	r.SetHandOver(true)
	var last []byte
	r.SetBodyMemory(func(int) []byte { return last })
	if n := testing.AllocsPerRun(100, func() {
		f, err := r.ReadFrame()
		if err != nil || len(f.Body) != size || !f.Owned {
			t.Fatalf("ReadFrame: %d octets, owned %v, %v", len(f.Body), f.Owned, err)
		}
		last = f.Body
	}); n != 0 {
		t.Errorf("%v allocations per large frame, want 0", n)
	}
}

// loopSource returns its data over and over, filling every Read.
type loopSource struct {
	data []byte
	pos  int
}

func (s *loopSource) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], s.data[s.pos:])
		n += c
		if s.pos += c; s.pos == len(s.data) {
			s.pos = 0
		}
	}
	return n, nil
}
