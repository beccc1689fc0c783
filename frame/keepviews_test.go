package frame

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

// keptStream returns frames of varied sizes (up to large, each body a
// pattern of its index) and the stream holding them, split into bursts
// of varied sizes: some large (the Reader reads in full-size chunks),
// runs of small ones (it goes idle and back).
func keptStream(seed uint64, n, large int) (bodies [][]byte, bursts [][]byte) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var stream []byte
	for i := range n {
		size := rng.IntN(300)
		switch rng.IntN(20) {
		case 0:
			size = large
		case 1:
			size = 0
		}
		body := make([]byte, size)
		for k := range body {
			body[k] = byte(i*7 + k)
		}
		bodies = append(bodies, body)
		stream = AppendFrame(stream, FlagMore, body)
	}
	for len(stream) > 0 {
		size := 1 + rng.IntN(64)
		if rng.IntN(3) == 0 {
			size = 1 + rng.IntN(40<<10)
		}
		size = min(size, len(stream))
		bursts = append(bursts, stream[:size])
		stream = stream[size:]
	}
	return bodies, bursts
}

// TestReaderKeepViews reads frames of varied sizes in bursts of varied
// sizes, keeping the views of some: however the Reader moves between its
// buffers (busy and idle, Release, bodies larger than the read buffer),
// a kept view never changes, not even when another Reader takes buffers
// from the shared pool and reads other octets into them.
func TestReaderKeepViews(t *testing.T) {
	for _, size := range []int{1024, DefaultReadBufferSize} {
		bodies, bursts := keptStream(uint64(size), 4000, size+100)
		others, otherBursts := keptStream(7, 4000, size+100)
		r := NewReaderSize(&burstSource{bursts: bursts}, 0, size)
		other := NewReaderSize(&burstSource{bursts: otherBursts}, 0, size)
		kept := make(map[int][]byte)
		for i, want := range bodies {
			f, err := r.ReadFrame()
			if err != nil {
				t.Fatalf("size %d, frame %d: %v", size, i, err)
			}
			if !bytes.Equal(f.Body, want) {
				t.Fatalf("size %d, frame %d: body differs", size, i)
			}
			if len(want) <= size && i%3 != 0 {
				r.KeepViews()
				kept[i] = f.Body
			}
			if i%97 == 0 {
				r.Release()
			}
			// The other Reader reads into buffers of the same pool.
			if i < len(others) {
				if f, err := other.ReadFrame(); err != nil || !bytes.Equal(f.Body, others[i]) {
					t.Fatalf("size %d, other Reader's frame %d: %v", size, i, err)
				}
			}
		}
		if _, err := r.ReadFrame(); err != io.EOF {
			t.Fatalf("size %d, at the end: %v", size, err)
		}
		for i, body := range kept {
			if !bytes.Equal(body, bodies[i]) {
				t.Fatalf("size %d: kept view of frame %d changed", size, i)
			}
		}
	}
}

// TestReaderKeepViewsMemory streams small frames and keeps every view:
// the Reader allocates about what arrived (read buffers filled up to
// 1/keptMinRoom before it takes another), and once the peer is quiet it
// holds no more than without KeepViews.
func TestReaderKeepViewsMemory(t *testing.T) {
	body := make([]byte, 20)
	var burst []byte
	frames := 0
	for len(burst) < 4<<20 {
		burst = AppendFrame(burst, 0, body)
		frames++
	}
	bursts := [][]byte{burst}
	for range shortReadsToIdle {
		bursts = append(bursts, AppendFrame(nil, 0, body))
		frames++
	}
	r := NewReader(&burstSource{bursts: bursts}, 0)
	kept := make([][]byte, 0, frames)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range frames {
		f, err := r.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		r.KeepViews()
		kept = append(kept, f.Body)
	}
	runtime.ReadMemStats(&after)
	stream := uint64(len(burst) + shortReadsToIdle*(len(body)+2))
	if got, most := after.TotalAlloc-before.TotalAlloc, stream*keptMinRoom/(keptMinRoom-1)+2*DefaultReadBufferSize; got > most {
		t.Errorf("allocated %d octets for %d received, want at most %d", got, stream, most)
	}
	if got := r.Footprint(); got > IdleReadBufferSize {
		t.Errorf("once the peer is quiet the Reader holds %d octets", got)
	}
	for i, b := range kept {
		if len(b) != len(body) {
			t.Fatalf("kept view %d has %d octets", i, len(b))
		}
	}
}

// TestReaderKeepViewsNoHeader checks that a peer that declares a body of
// the read buffer's size and sends part of it makes a Reader that keeps
// views allocate no more than one that does not: the room for the body
// is the next read buffer, taken when the header arrives, as before.
func TestReaderKeepViewsNoHeader(t *testing.T) {
	var stream []byte
	for range 100 {
		stream = AppendFrame(stream, 0, []byte("x"))
	}
	stream = AppendHeader(stream, 0, DefaultReadBufferSize)
	stream = append(stream, "partial"...)
	r := NewReader(&burstSource{bursts: [][]byte{stream}}, 0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 100 {
		if _, err := r.ReadFrame(); err != nil {
			t.Fatal(err)
		}
		r.KeepViews()
	}
	if _, err := r.ReadFrame(); err != io.ErrUnexpectedEOF {
		t.Fatalf("the partial frame: %v", err)
	}
	runtime.ReadMemStats(&after)
	if got, most := after.TotalAlloc-before.TotalAlloc, uint64(2*DefaultReadBufferSize+IdleReadBufferSize); got > most {
		t.Errorf("allocated %d octets, want at most %d", got, most)
	}
}

// TestReaderKeptBufferComesBack reads a burst of frames keeping their
// views, then drops them: once the collector has found them gone, the
// buffers they were in come back for Readers to read into, held weakly
// (a collection frees those no Reader took).
func TestReaderKeptBufferComesBack(t *testing.T) {
	if sizeClass(DefaultReadBufferSize) != recycledClass {
		t.Fatalf("recycledClass %d is not the class of DefaultReadBufferSize", recycledClass)
	}
	var burst []byte
	for len(burst) < 8*DefaultReadBufferSize {
		burst = AppendFrame(burst, 0, []byte("some body"))
	}
	puts := recycled.puts.Load()
	func() {
		r := NewReader(&burstSource{bursts: [][]byte{burst}}, 0)
		var kept [][]byte
		for {
			f, err := r.ReadFrame()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			r.KeepViews()
			kept = append(kept, f.Body)
		}
		r.Release()
		runtime.KeepAlive(kept)
	}()
	// Wait for the finalizers the collection queues.
	for recycled.puts.Load() < puts+int64(len(burst)/DefaultReadBufferSize) {
		runtime.GC()
		for range 100 {
			runtime.Gosched()
		}
	}
}

// TestRecycledHeldWeakly checks that a buffer kept for reuse that no
// Reader takes is freed by the next collection, and that take skips it.
func TestRecycledHeldWeakly(t *testing.T) {
	var s weakStack
	kept := new([1 << recycledClass]byte)
	s.put(new([1 << recycledClass]byte))
	s.put(kept)
	s.put(new([1 << recycledClass]byte))
	runtime.GC()
	if p := s.take(); p != kept {
		t.Errorf("take: %p, want the buffer still in use elsewhere, %p", p, kept)
	}
	if p := s.take(); p != nil {
		t.Error("a buffer nobody held outlived a collection")
	}
	for range 2 * maxRecycled {
		s.put(kept)
	}
	if len(s.bufs) != maxRecycled {
		t.Errorf("%d buffers kept, want at most %d", len(s.bufs), maxRecycled)
	}
}

// BenchmarkReaderKeepViews reads a stream of frames in full-size reads,
// keeping the view of each body for a while (the last 64, as a receiver
// that hands them on would) or not at all: with KeepViews the Reader
// takes a buffer per 32 KiB read, most of them ones that came back.
func BenchmarkReaderKeepViews(b *testing.B) {
	for _, size := range []int{64, 1024} {
		for _, keep := range []bool{false, true} {
			b.Run(fmt.Sprintf("size=%d/keep=%v", size, keep), func(b *testing.B) {
				src := &repeatSource{frame: AppendFrame(nil, 0, make([]byte, size))}
				r := NewReader(src, 0)
				var held [64][]byte
				b.SetBytes(int64(size))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					f, err := r.ReadFrame()
					if err != nil || len(f.Body) != size {
						b.Fatalf("ReadFrame: %d octets, %v", len(f.Body), err)
					}
					if keep {
						r.KeepViews()
						held[i%len(held)] = f.Body
						i++
					}
				}
			})
		}
	}
}

// repeatSource returns the same encoded frame over and over, filling each
// Read.
type repeatSource struct {
	frame []byte
	pos   int
}

func (s *repeatSource) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], s.frame[s.pos:])
		n += k
		if s.pos += k; s.pos == len(s.frame) {
			s.pos = 0
		}
	}
	return n, nil
}
