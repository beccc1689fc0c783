package frame

import (
	"bytes"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

// TestReaderMemoryFollowsBytes checks FR-03: a frame that declares 1 GiB
// (allowed by the limit) but delivers a few octets costs memory in
// proportion to what arrived, not to what was declared.
func TestReaderMemoryFollowsBytes(t *testing.T) {
	const declared = 1 << 30
	for _, tt := range []struct {
		name    string
		arrived int
		src     func([]byte) io.Reader
	}{
		{"10 octets with the header", 10, func(b []byte) io.Reader { return bytes.NewReader(b) }},
		{"10 octets one by one", 10, func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }},
		{"200 KiB", 200 << 10, func(b []byte) io.Reader { return bytes.NewReader(b) }},
		{"3 MiB in chunks", 3 << 20, func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := AppendHeader(nil, 0, declared)
			in = append(in, make([]byte, tt.arrived)...)
			src := tt.src(in)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r := NewReaderSize(src, 0, 64)
			_, err := r.ReadFrame()
			runtime.ReadMemStats(&after)
			if err != io.ErrUnexpectedEOF {
				t.Fatalf("ReadFrame: %v, want io.ErrUnexpectedEOF", err)
			}
			// Growth doubles what has arrived, starting at largeStep; each
			// step copies the previous one.
			if got, most := after.TotalAlloc-before.TotalAlloc, uint64(4*tt.arrived+2*largeStep+4096); got > most {
				t.Errorf("allocated %d octets after %d arrived, want at most %d", got, tt.arrived, most)
			}
			if r.Consumed() != int64(len(in)) {
				t.Errorf("Consumed %d, want %d", r.Consumed(), len(in))
			}
			// The Reader has failed: the partial body is not kept.
			if c := cap(r.large); c != 0 {
				t.Errorf("a failed Reader keeps %d octets for large bodies", c)
			}
		})
	}
}

// TestReaderReusesLargeBuffer checks that the buffer for large bodies is
// kept between frames and not regrown while the source keeps the Reader
// busy.
func TestReaderReusesLargeBuffer(t *testing.T) {
	var stream []byte
	for range 4 {
		stream = AppendFrame(stream, 0, make([]byte, 100000))
	}
	for _, size := range []int{64, DefaultReadBufferSize} {
		r := NewReaderSize(bytes.NewReader(stream), 0, size)
		if _, err := r.ReadFrame(); err != nil {
			t.Fatal(err)
		}
		first := cap(r.large)
		for range 3 {
			if _, err := r.ReadFrame(); err != nil {
				t.Fatal(err)
			}
			if cap(r.large) != first {
				t.Fatalf("buffer %d: large buffer regrown from %d to %d", size, first, cap(r.large))
			}
		}
	}
}

// TestReaderLargeBodyNotKept reads a 16 MiB frame then a small one: the
// Reader keeps no buffer for large bodies, with or without hand-over, and
// the large body stays intact.
func TestReaderLargeBodyNotKept(t *testing.T) {
	big := bytes.Repeat([]byte{0xA5}, 16<<20)
	stream := AppendFrame(nil, FlagMore, big)
	stream = AppendFrame(stream, 0, []byte("small"))
	for _, handOver := range []bool{false, true} {
		r := NewReader(bytes.NewReader(stream), 0)
		r.SetHandOver(handOver)
		f, err := r.ReadFrame()
		if err != nil || f.Owned != handOver || !bytes.Equal(f.Body, big) {
			t.Fatalf("hand-over %v: large frame of %d octets, owned %v, %v", handOver, len(f.Body), f.Owned, err)
		}
		if c := cap(r.large); c != 0 {
			t.Errorf("hand-over %v: after 16 MiB the Reader keeps %d octets for large bodies", handOver, c)
		}
		first := f.Body
		if f, err := r.ReadFrame(); err != nil || string(f.Body) != "small" {
			t.Fatalf("hand-over %v: small frame %q, %v", handOver, f.Body, err)
		}
		if !bytes.Equal(first, big) {
			t.Errorf("hand-over %v: the large body changed", handOver)
		}
	}
}

// TestReaderHeapAfterLargeBody measures the live heap once a 16 MiB frame
// and a small one have been read and the caller has dropped them.
func TestReaderHeapAfterLargeBody(t *testing.T) {
	stream := AppendFrame(nil, FlagMore, make([]byte, 16<<20))
	stream = AppendFrame(stream, 0, []byte("small"))
	before := liveHeap()
	r := NewReader(bytes.NewReader(stream), 0)
	for range 2 {
		if _, err := r.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}
	grew := int64(liveHeap()) - int64(before)
	t.Logf("after a 16 MiB frame and a small one the heap grew by %d octets", grew)
	if grew > 2*DefaultReadBufferSize {
		t.Errorf("heap grew by %d octets", grew)
	}
	runtime.KeepAlive(r)
	runtime.KeepAlive(stream)
}

func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
