package frame

import (
	"bytes"
	"io"
	"runtime"
	"runtime/debug"
	"testing"
	"unsafe"
)

// classBodySizes are body sizes that fill a class of large bodies: its
// size less the envelope slack, and the least it takes.
func classBodySizes(c bodyClass) []int {
	return []int{c.size() - largeSlack, leastOf(c)}
}

// leastOf returns the smallest body a class takes: three quarters of it,
// or one octet more than the class below it.
func leastOf(c bodyClass) int {
	least := (3*c.size() + 3) / 4
	for i, k := range bodyClasses {
		if k == c && i > 0 {
			least = max(least, bodyClasses[i-1].size()+1)
		}
	}
	return least
}

// TestClassOf checks which body sizes are read into a class's buffers:
// those that fill at least three quarters of the smallest class that holds
// them, and no others.
func TestClassOf(t *testing.T) {
	for i, c := range bodyClasses {
		if i > 0 && c.size() <= bodyClasses[i-1].size() {
			t.Fatalf("class %d (%d octets) not larger than the one before", i, c.size())
		}
		for _, n := range append(classBodySizes(c), c.size()) {
			if got := classOf(n); got != c {
				t.Errorf("classOf(%d): not the class of %d octets", n, c.size())
			}
		}
		if got := classOf(leastOf(c) - 1); got == c {
			t.Errorf("classOf(%d): the class of %d octets, want another or none", leastOf(c)-1, c.size())
		}
	}
	if c := classOf(largeStep + 33); c == nil || c.size() < largeStep+33 {
		t.Error("a 64 KiB message in a CURVE box has no class")
	}
	if c := classOf(bodyClasses[len(bodyClasses)-1].size() + 1); c != nil {
		t.Errorf("a body above the largest class has the class of %d octets", c.size())
	}
}

// TestLargeBodyComesBack reads large bodies handed over and drops them:
// once the collector has found them gone, their buffers come back to
// their class, whether the body fills its class or is the least the class
// takes (such as a 64 KiB message in a CURVE box, in the 72 KiB class).
func TestLargeBodyComesBack(t *testing.T) {
	for _, c := range bodyClasses {
		sizes := classBodySizes(c)
		frames := 3 * len(sizes)
		var stream []byte
		for i := range frames {
			stream = AppendFrame(stream, 0, bytes.Repeat([]byte{byte(i)}, sizes[i%len(sizes)]))
		}
		puts, _, _ := c.counts()
		func() {
			r := NewReader(bytes.NewReader(stream), 0)
			r.SetHandOver(true)
			for range frames {
				f, err := r.ReadFrame()
				if err != nil || !f.Owned {
					t.Fatalf("class %d: owned %v, %v", c.size(), f.Owned, err)
				}
			}
		}()
		for k := 0; ; k++ {
			got, _, _ := c.counts()
			if got >= puts+int64(frames) {
				break
			}
			if k == 1000 {
				t.Fatalf("class %d: %d of %d buffers came back after %d collections", c.size(), got-puts, frames, k)
			}
			runtime.GC()
			for range 100 {
				runtime.Gosched()
			}
		}
	}
}

// TestLargeBodyReadsIntoRecycled checks that a body that fills a class is
// read into a buffer of the class that came back, and one that does not
// fill it is not.
func TestLargeBodyReadsIntoRecycled(t *testing.T) {
	// No collection, so that no other buffer comes back meanwhile.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for _, c := range bodyClasses {
		// Drain the class, then give it one buffer that stays alive.
		for c.take() != nil {
		}
		for _, n := range append(classBodySizes(c), leastOf(c)-1) {
			buf := c.alloc()
			putBack(c, buf)
			body := bytes.Repeat([]byte{0xa5}, n)
			r := NewReader(bytes.NewReader(AppendFrame(nil, 0, body)), 0)
			r.SetHandOver(true)
			f, err := r.ReadFrame()
			if err != nil || !bytes.Equal(f.Body, body) {
				t.Fatalf("class %d, body %d: %d octets, %v", c.size(), n, len(f.Body), err)
			}
			same := unsafe.SliceData(f.Body) == unsafe.SliceData(buf)
			if fits := classOf(n) == c; same != fits {
				t.Errorf("class %d, body %d: read into the recycled buffer %v, want %v", c.size(), n, same, fits)
			}
			if cap(f.Body) != n {
				t.Errorf("class %d, body %d: capacity %d, want the body's length", c.size(), n, cap(f.Body))
			}
			for c.take() != nil {
			}
			runtime.KeepAlive(buf)
		}
	}
}

// putBack puts buf, a buffer of class c, on its stack as the collector
// would once a caller given it dropped it.
func putBack(c bodyClass, buf []byte) {
	switch s := c.(type) {
	case *bodyStack[body64K, *body64K]:
		giveOut(s).put((*body64K)(buf))
	case *bodyStack[body72K, *body72K]:
		giveOut(s).put((*body72K)(buf))
	case *bodyStack[body128K, *body128K]:
		giveOut(s).put((*body128K)(buf))
	case *bodyStack[body256K, *body256K]:
		giveOut(s).put((*body256K)(buf))
	case *bodyStack[body512K, *body512K]:
		giveOut(s).put((*body512K)(buf))
	case *bodyStack[body1M, *body1M]:
		giveOut(s).put((*body1M)(buf))
	default:
		panic("unknown class")
	}
}

// giveOut counts one more buffer of s out with a caller, and returns s.
func giveOut[A any, P bodyArray[A]](s *bodyStack[A, P]) *bodyStack[A, P] {
	s.mu.Lock()
	s.out++
	s.mu.Unlock()
	return s
}

// TestLargeBodiesOutBounded keeps more large bodies of a class than its
// bound holds: only as many as the bound will come back (the others are
// left to the collector), so that a collection never revives more than
// the class keeps; once they are dropped and back, bodies come back again.
func TestLargeBodiesOutBounded(t *testing.T) {
	c := bodyClasses[len(bodyClasses)-1]
	limit := maxRecycledBodies / c.size()
	for c.take() != nil {
	}
	// waitBack waits until n bodies came back since from came back.
	waitBack := func(from int64, n int) {
		t.Helper()
		for k := 0; ; k++ {
			got, _, _ := c.counts()
			if got >= from+int64(n) {
				return
			}
			if k == 1000 {
				t.Fatalf("%d of %d bodies came back after %d collections", got-from, n, k)
			}
			runtime.GC()
			for range 100 {
				runtime.Gosched()
			}
		}
	}
	// Bodies out before this test may still come back: let them.
	puts, _, out := c.counts()
	waitBack(puts, out)

	read := func(n int) [][]byte {
		var stream []byte
		for i := range n {
			stream = AppendFrame(stream, 0, bytes.Repeat([]byte{byte(i)}, c.size()))
		}
		r := NewReader(bytes.NewReader(stream), 0)
		r.SetHandOver(true)
		bodies := make([][]byte, n)
		for i := range bodies {
			f, err := r.ReadFrame()
			if err != nil || !f.Owned {
				t.Fatalf("body %d: owned %v, %v", i, f.Owned, err)
			}
			bodies[i] = f.Body
		}
		return bodies
	}
	kept := read(limit + 8)
	if _, held, out := c.counts(); held+out != limit {
		t.Fatalf("%d held and %d out with %d kept, want %d in all", held, out, len(kept), limit)
	}
	puts, _, _ = c.counts()
	runtime.KeepAlive(kept)
	kept = nil
	waitBack(puts, limit)
	for range 3 {
		runtime.GC()
		for range 100 {
			runtime.Gosched()
		}
	}
	if got, _, out := c.counts(); got != puts+int64(limit) || out != 0 {
		t.Errorf("%d came back (%d still out), want %d", got-puts, out, limit)
	}
	// Read into the buffers that came back, they come back again.
	read(4)
	waitBack(puts, limit+4)
}

// TestKeptLargeBodiesIntact keeps some of many large bodies handed over,
// drops the others and lets the collector run now and then, so that the
// dropped ones come back and are read into again: the kept ones must
// never change.
func TestKeptLargeBodiesIntact(t *testing.T) {
	sizes := []int{64 << 10, 60000, 128 << 10, 40000, 64<<10 + 33, 256<<10 - 1000}
	const frames = 120
	var stream []byte
	bodyOf := func(i int) []byte {
		b := make([]byte, sizes[i%len(sizes)])
		for k := range b {
			b[k] = byte(i + k/251)
		}
		return b
	}
	for i := range frames {
		stream = AppendFrame(stream, 0, bodyOf(i))
	}
	var puts int64
	for _, c := range bodyClasses {
		n, _, _ := c.counts()
		puts += n
	}
	r := NewReader(bytes.NewReader(stream), 0)
	r.SetHandOver(true)
	kept := make(map[int][]byte)
	for i := range frames {
		f, err := r.ReadFrame()
		if err != nil || !bytes.Equal(f.Body, bodyOf(i)) {
			t.Fatalf("frame %d: %d octets, %v", i, len(f.Body), err)
		}
		if i%5 == 0 {
			kept[i] = f.Body
		}
		if i%8 == 7 {
			runtime.GC()
			for range 100 {
				runtime.Gosched()
			}
		}
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
	for i, b := range kept {
		if !bytes.Equal(b, bodyOf(i)) {
			t.Errorf("kept body %d changed", i)
		}
	}
	// The dropped bodies come back once the collector has found them
	// gone and the finalizers have run: wait for that, not for a time.
	comeBack := func() int64 {
		var n int64
		for _, c := range bodyClasses {
			k, _, _ := c.counts()
			n += k
		}
		return n
	}
	for k := 0; comeBack() == puts; k++ {
		if k == 1000 {
			t.Fatal("no dropped body came back after 1000 collections")
		}
		runtime.GC()
		runtime.Gosched()
	}
}
