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

// burstSource delivers its bursts as a socket with a peer that pauses
// between them would: a Read returns octets of one burst only, so the one
// that ends a burst returns less than asked for unless the sizes happen to
// match. After the last burst it calls wait with the buffer the Reader is
// waiting on, then returns io.EOF.
type burstSource struct {
	bursts [][]byte
	wait   func(p []byte)
	reads  []int // len(p) of each Read
}

func (s *burstSource) Read(p []byte) (int, error) {
	s.reads = append(s.reads, len(p))
	for len(s.bursts) > 0 && len(s.bursts[0]) == 0 {
		s.bursts = s.bursts[1:]
	}
	if len(s.bursts) == 0 {
		if s.wait != nil {
			s.wait(p)
		}
		return 0, io.EOF
	}
	n := copy(p, s.bursts[0])
	s.bursts[0] = s.bursts[0][n:]
	if len(s.bursts[0]) == 0 {
		s.bursts = s.bursts[1:]
	}
	return n, nil
}

// handshakeBursts is what a NULL peer sends: its greeting in two parts, as
// zmtp sends it, then READY.
func handshakeBursts() [][]byte {
	g := AppendGreeting(nil, Greeting{Major: 3, Minor: 1, Mechanism: MechanismNull})
	ready := AppendReady(nil, Metadata{{Name: PropSocketType, Value: []byte("DEALER")}, {Name: PropIdentity}})
	return [][]byte{g[:GreetingPrefixSize], g[GreetingPrefixSize:], ready}
}

// readHandshake reads what handshakeBursts sends.
func readHandshake(t *testing.T, r *Reader) {
	t.Helper()
	if _, err := r.Next(GreetingPrefixSize); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(GreetingSize - GreetingPrefixSize); err != nil {
		t.Fatal(err)
	}
	f, err := r.ReadFrame()
	if err != nil || !f.IsCommand() {
		t.Fatalf("READY: %+v, %v", f, err)
	}
}

// TestReaderIdleAfterHandshake checks that a Reader that has read a
// greeting and a handshake command holds at most 1 KiB of buffers, and
// waits for more on its small buffer.
func TestReaderIdleAfterHandshake(t *testing.T) {
	src := &burstSource{bursts: handshakeBursts()}
	r := NewReader(src, 0)
	if n := r.Footprint(); n != 0 {
		t.Errorf("a new Reader holds %d octets", n)
	}
	readHandshake(t, r)
	if n := r.Footprint(); n > 1024 {
		t.Errorf("after the handshake the Reader holds %d octets", n)
	}
	var waitedOn, held int
	src.wait = func(p []byte) { waitedOn, held = len(p), r.Footprint() }
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
	if waitedOn > IdleReadBufferSize || held > 1024 {
		t.Errorf("idle Reader waits on %d octets and holds %d", waitedOn, held)
	}
	for i, n := range src.reads {
		if n > IdleReadBufferSize {
			t.Errorf("read %d offered %d octets during the handshake", i, n)
		}
	}
}

// TestReaderHeapPerIdleReader measures the live heap of many Readers that
// have done a handshake: at most 1 KiB each, source included.
func TestReaderHeapPerIdleReader(t *testing.T) {
	const n = 1000
	bursts := handshakeBursts()
	var stream []byte
	for _, b := range bursts {
		stream = append(stream, b...)
	}
	readers := make([]*Reader, n)
	before := liveHeap()
	for i := range readers {
		readers[i] = NewReader(bytes.NewReader(stream), 0)
		readHandshake(t, readers[i])
	}
	after := liveHeap()
	per := (int64(after) - int64(before)) / n
	t.Logf("an idle Reader costs %d octets of heap, source included", per)
	if per > 1024 {
		t.Errorf("an idle Reader costs %d octets of heap", per)
	}
	runtime.KeepAlive(readers)
}

// TestReaderBusyThenIdle sends a handshake, a burst of many small frames
// and then a trickle: the burst is read in full-size chunks, and once
// shortReadsToIdle reads in a row found less than their room the Reader
// waits on its small buffer, having given the large one back.
func TestReaderBusyThenIdle(t *testing.T) {
	var burst []byte
	body := make([]byte, 100)
	frames := 0
	for len(burst) < 1<<20 {
		burst = AppendFrame(burst, FlagMore, body)
		frames++
	}
	bursts := append(handshakeBursts(), burst)
	for range shortReadsToIdle {
		bursts = append(bursts, AppendFrame(nil, FlagMore, body))
		frames++
	}
	src := &burstSource{bursts: bursts}
	r := NewReader(src, 0)
	readHandshake(t, r)
	readsBefore := len(src.reads)
	var waitedOn, held int
	src.wait = func(p []byte) { waitedOn, held = len(p), r.Footprint() }
	for range frames {
		if f, err := r.ReadFrame(); err != nil || len(f.Body) != len(body) {
			t.Fatalf("ReadFrame: %d octets, %v", len(f.Body), err)
		}
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
	// One small read finds the burst; the rest go in full-size reads.
	if reads, most := len(src.reads)-readsBefore, 2+len(burst)/(DefaultReadBufferSize-200)+1+shortReadsToIdle; reads > most {
		t.Errorf("%d reads for %d octets, want at most %d", reads, len(burst), most)
	}
	if waitedOn > IdleReadBufferSize || held > IdleReadBufferSize {
		t.Errorf("after the burst the Reader waits on %d octets and holds %d", waitedOn, held)
	}
}

// TestReaderLargeBodyNotKept reads a 16 MiB frame then a small one: the
// Reader then holds at most its read buffer and its small buffer, with or
// without hand-over, and the large body stays intact.
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
		if n := r.Footprint(); n > DefaultReadBufferSize+IdleReadBufferSize {
			t.Errorf("hand-over %v: after 16 MiB the Reader holds %d octets", handOver, n)
		}
		first := f.Body
		if f, err := r.ReadFrame(); err != nil || string(f.Body) != "small" {
			t.Fatalf("hand-over %v: small frame %q, %v", handOver, f.Body, err)
		}
		if n := r.Footprint(); n > DefaultReadBufferSize+IdleReadBufferSize {
			t.Errorf("hand-over %v: after 16 MiB and a small frame the Reader holds %d octets", handOver, n)
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
	if grew > DefaultReadBufferSize+4096 {
		t.Errorf("heap grew by %d octets", grew)
	}
	runtime.KeepAlive(r)
	runtime.KeepAlive(stream)
}

// TestReaderLargeBufferDroppedWhenIdle checks that a buffer for large
// bodies small enough to be reused is let go once the source is drained.
func TestReaderLargeBufferDroppedWhenIdle(t *testing.T) {
	stream := AppendFrame(nil, 0, make([]byte, 100000))
	src := &burstSource{bursts: [][]byte{stream}}
	for range shortReadsToIdle {
		src.bursts = append(src.bursts, AppendFrame(nil, 0, []byte("x")))
	}
	r := NewReader(src, 0)
	if _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if cap(r.large) == 0 {
		t.Fatal("the large buffer was not kept while busy")
	}
	var held int
	src.wait = func([]byte) { held = r.Footprint() }
	for range shortReadsToIdle {
		if f, err := r.ReadFrame(); err != nil || string(f.Body) != "x" {
			t.Fatalf("ReadFrame = %q, %v", f.Body, err)
		}
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
	if held > IdleReadBufferSize {
		t.Errorf("waiting for the peer, the Reader holds %d octets", held)
	}
}

func TestReaderRelease(t *testing.T) {
	var stream []byte
	for range 100 {
		stream = AppendFrame(stream, 0, make([]byte, 1000))
	}
	stream = AppendFrame(stream, 0, make([]byte, 200000))
	stream = AppendFrame(stream, 0, []byte("tail"))
	r := NewReader(bytes.NewReader(stream), 0)
	r.Release() // before any read: nothing to give back
	for i := range 100 {
		if f, err := r.ReadFrame(); err != nil || len(f.Body) != 1000 {
			t.Fatalf("frame %d: %d octets, %v", i, len(f.Body), err)
		}
		if i == 50 {
			// Octets are buffered: more than the small buffer holds, so
			// the read buffer stays.
			if r.Buffered() <= IdleReadBufferSize {
				t.Fatalf("only %d octets buffered", r.Buffered())
			}
			r.Release()
			if r.big == nil {
				t.Fatal("Release dropped a read buffer holding unread octets")
			}
		}
	}
	if f, err := r.ReadFrame(); err != nil || len(f.Body) != 200000 {
		t.Fatalf("large frame: %d octets, %v", len(f.Body), err)
	}
	h, err := r.ReadHeader()
	if err != nil || h.Size != 4 {
		t.Fatalf("ReadHeader = %+v, %v", h, err)
	}
	// The body's octets are buffered: they move to the small buffer.
	r.Release()
	if r.big != nil || cap(r.large) != 0 || r.Footprint() != IdleReadBufferSize {
		t.Errorf("after Release with %d octets buffered the Reader holds %d octets", r.Buffered(), r.Footprint())
	}
	if b, err := r.ReadBody(h.Size); err != nil || string(b) != "tail" {
		t.Fatalf("after Release: %q, %v", b, err)
	}
	r.Release()
	if n := r.Footprint(); n != 0 {
		t.Errorf("after Release with nothing buffered the Reader holds %d octets", n)
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
}

// TestReaderSteadyStateAfterGrowth checks that a Reader that started on
// its small buffer and moved to the full-size one reads small frames in
// full-size chunks without allocating.
func TestReaderSteadyStateAfterGrowth(t *testing.T) {
	body := make([]byte, 40)
	var stream []byte
	for len(stream) < 256<<10 {
		stream = AppendFrame(stream, FlagMore, body)
	}
	src := &countingCycle{data: stream}
	r := NewReader(src, 0)
	for range 2 * DefaultReadBufferSize / len(body) {
		if _, err := r.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}
	if r.big == nil {
		t.Fatal("a busy Reader still reads into its small buffer")
	}
	reads, octets := src.reads, src.octets
	const frames = 10000
	allocs := testing.AllocsPerRun(frames, func() {
		f, err := r.ReadFrame()
		if err != nil || len(f.Body) != len(body) {
			t.Fatalf("ReadFrame: %d octets, %v", len(f.Body), err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame", allocs)
	}
	if reads, octets := src.reads-reads, src.octets-octets; reads == 0 || octets/reads < DefaultReadBufferSize/2 {
		t.Errorf("%d reads of %d octets on average", reads, octets/max(reads, 1))
	}
}

// countingCycle returns its data over and over, filling every Read, and
// counts the reads and octets.
type countingCycle struct {
	data          []byte
	pos           int
	reads, octets int
}

func (c *countingCycle) Read(p []byte) (int, error) {
	c.reads++
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.data[c.pos:])
		n += k
		if c.pos += k; c.pos == len(c.data) {
			c.pos = 0
		}
	}
	c.octets += n
	return n, nil
}

func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestReaderDrainedSourceAllocs reads frames from a source that has one
// frame ready at a time: the Reader waits for each small one on its small
// buffer; frames larger than that keep it on the full-size buffer (a
// steady stream: moving back and forth would cost a read per frame), or
// move it between the two through the pool, without allocating.
func TestReaderDrainedSourceAllocs(t *testing.T) {
	for _, size := range []int{1, 100, 1000, 10000} {
		src := &pacedSource{frame: AppendFrame(nil, 0, make([]byte, size))}
		r := NewReader(src, 0)
		read := func() {
			if f, err := r.ReadFrame(); err != nil || len(f.Body) != size {
				t.Fatalf("ReadFrame: %d octets, %v", len(f.Body), err)
			}
		}
		read()
		if raceEnabled {
			// The race detector makes sync.Pool drop buffers at random.
			for range 1000 {
				read()
			}
		} else if allocs := testing.AllocsPerRun(1000, read); allocs != 0 {
			t.Errorf("frames of %d octets: %v allocations per frame", size, allocs)
		}
		if size <= IdleReadBufferSize-MaxHeaderSize && src.bigWaits != 0 {
			t.Errorf("frames of %d octets: %d of %d waits on more than the small buffer", size, src.bigWaits, src.waits)
		}
	}
}

// pacedSource returns the same encoded frame over and over, never more
// than the rest of one frame per Read. A Read at the start of a frame is
// where a Reader of a real connection would wait for the peer: it counts
// those, and those that offered more than the small buffer.
type pacedSource struct {
	frame           []byte
	pos             int
	waits, bigWaits int
}

func (s *pacedSource) Read(p []byte) (int, error) {
	if s.pos == 0 {
		s.waits++
		if len(p) > IdleReadBufferSize {
			s.bigWaits++
		}
	}
	n := copy(p, s.frame[s.pos:])
	if s.pos += n; s.pos == len(s.frame) {
		s.pos = 0
	}
	return n, nil
}
