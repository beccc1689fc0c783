package zmtp

import "testing"

func msgOf(i int) [][]byte { return [][]byte{{byte(i), byte(i >> 8), byte(i >> 16)}} }

func idOf(m [][]byte) int { return int(m[0][0]) | int(m[0][1])<<8 | int(m[0][2])<<16 }

// Messages come out in order across growth, and a drained queue gives its
// memory back once the traffic no longer needs it.
func TestQueueOrderAndMemory(t *testing.T) {
	q := newQueue(0, false, nil, nil)
	next := 0
	for round := range 3 {
		for i := range 10_000 {
			if !q.push(msgOf(round*10_000 + i)) {
				t.Fatal("push refused with no limit")
			}
		}
		for range 10_000 {
			m, ok := q.pop()
			if !ok || idOf(m) != next {
				t.Fatalf("pop: %v %v, want %d", m, ok, next)
			}
			next++
		}
	}
	// A ring the traffic no longer needs goes back after a few drains of
	// small bursts.
	for range queueSlackDrains {
		q.push(msgOf(0))
		q.pop()
	}
	if len(q.ring) > queueKeepCap {
		t.Fatalf("a drained queue keeps a ring of %d after %d small bursts", len(q.ring), queueSlackDrains)
	}
	if _, ok := q.pop(); ok {
		t.Fatal("pop from an empty queue")
	}
}

// A queue whose bursts fill its ring now and then keeps the ring across
// the drains between them instead of growing a new one each time (a
// subscriber's queue at a publisher, drained whenever its writer catches
// up), and lets it go when the bursts stop.
func TestQueueKeepsRingBetweenBursts(t *testing.T) {
	q := newQueue(1000, false, nil, nil)
	burst := func(n int) {
		for i := range n {
			if !q.push(msgOf(i)) {
				t.Fatalf("push %d of %d refused", i, n)
			}
		}
		for range n {
			q.pop()
		}
	}
	burst(1000)
	ring := &q.ring[0]
	for range 5 {
		for range queueSlackDrains - 1 {
			burst(3)
		}
		burst(1000)
		if len(q.ring) == 0 || &q.ring[0] != ring {
			t.Fatal("the ring was given back and grown again between bursts")
		}
	}
	for range queueSlackDrains {
		burst(3)
	}
	if len(q.ring) > queueKeepCap {
		t.Fatalf("%d small bursts after the last large one, the ring is still %d long", queueSlackDrains, len(q.ring))
	}
}

// Batches go in (pushSome) and out (take, takeHalf) in order wherever the
// ring wraps, and pushSome takes exactly what fits under the mark.
func TestQueueBatchesAcrossWrap(t *testing.T) {
	q := newQueue(40, false, nil, nil)
	in, out := 0, 0
	batch := func(n int) [][][]byte {
		ms := make([][][]byte, n)
		for i := range ms {
			ms[i] = msgOf(in + i)
		}
		return ms
	}
	check := func(got [][][]byte) {
		t.Helper()
		for _, m := range got {
			if idOf(m) != out {
				t.Fatalf("got %d, want %d", idOf(m), out)
			}
			out++
		}
	}
	for round := range 50 {
		ms := batch(7 + round%30)
		k := q.pushSome(ms)
		if want := min(len(ms), 40-q.len()+k); k != want {
			t.Fatalf("round %d: pushSome took %d of %d, want %d", round, k, len(ms), want)
		}
		in += k
		var got [][][]byte
		if round%2 == 0 {
			got = q.take(nil, 5+round%11)
			check(got)
			q.release(len(got))
		} else {
			var held bool
			got, held = q.takeHalf(nil, recvBatch)
			check(got)
			if held {
				q.release(len(got))
			}
		}
		if q.len() != in-out {
			t.Fatalf("round %d: %d queued, want %d", round, q.len(), in-out)
		}
	}
	got := q.take(nil, 0)
	check(got)
	if out != in || !q.empty() {
		t.Fatalf("%d of %d taken, empty %v", out, in, q.empty())
	}
}

// Messages taken by the consumer count against the mark until released.
func TestQueueHeldCountsAgainstHWM(t *testing.T) {
	rooms := 0
	q := newQueue(3, false, nil, func() { rooms++ })
	for i := range 3 {
		if !q.push(msgOf(i)) {
			t.Fatalf("push %d refused", i)
		}
	}
	if q.push(msgOf(3)) {
		t.Fatal("push over the mark")
	}
	got := q.take(nil, 2)
	if len(got) != 2 || idOf(got[0]) != 0 || idOf(got[1]) != 1 {
		t.Fatalf("take: %v", got)
	}
	if q.push(msgOf(3)) {
		t.Fatal("push accepted while taken messages are held")
	}
	if q.len() != 3 || q.ready() != 1 {
		t.Fatalf("len %d ready %d", q.len(), q.ready())
	}
	q.release(2)
	if rooms == 0 {
		t.Error("release did not wake the producer")
	}
	if !q.push(msgOf(3)) || !q.push(msgOf(4)) || q.push(msgOf(5)) {
		t.Fatal("room after release is not exactly 2")
	}
}

// A connection's queue wakes its producer (the reader), once refused at
// the mark, when it is down to half the mark, and once: not at every
// message taken. A producer never refused is not woken at all.
func TestQueueLowWaterWakesOnce(t *testing.T) {
	wakes := 0
	q := newQueue(10, false, nil, func() { wakes++ })
	q.lowWater = true
	batch := make([][][]byte, 12)
	for i := range batch {
		batch[i] = msgOf(i)
	}
	if k := q.pushSome(batch); k != 10 {
		t.Fatalf("pushSome took %d, want 10", k)
	}
	for i := range 4 {
		q.pop()
		if wakes != 0 {
			t.Fatalf("woken with %d taken of 10", i+1)
		}
	}
	got, held := q.takeHalf(nil, 3)
	if !held || len(got) != 3 {
		t.Fatalf("takeHalf: %d, held %v", len(got), held)
	}
	if wakes != 0 {
		t.Fatal("woken by a take still held")
	}
	q.release(len(got))
	if wakes != 1 {
		t.Fatalf("%d wake-ups at 3 of 10 queued, want 1", wakes)
	}
	for q.ready() > 0 {
		q.pop()
	}
	if wakes != 1 {
		t.Fatalf("%d wake-ups after draining, want 1", wakes)
	}
	// Refused again, then drained by a single take: woken.
	q.pushSome(batch)
	got = q.take(nil, 0)
	q.release(len(got))
	if wakes != 2 {
		t.Fatalf("%d wake-ups, want 2", wakes)
	}
	// Never refused: never woken.
	q.pushSome(batch[:4])
	q.take(nil, 0)
	q.release(4)
	if wakes != 2 {
		t.Fatalf("%d wake-ups without a refusal, want 2", wakes)
	}
}

// Conflate keeps only the newest message.
func TestQueueConflate(t *testing.T) {
	q := newQueue(1, true, nil, nil)
	for i := range 5 {
		if !q.push(msgOf(i)) {
			t.Fatal("conflating push refused")
		}
	}
	if m, _ := q.pop(); idOf(m) != 4 {
		t.Fatalf("got %d", idOf(m))
	}
}

// discard drops and counts what is queued; a dead queue refuses pushes,
// even forced ones.
func TestQueueDiscard(t *testing.T) {
	q := newQueue(10, false, nil, nil)
	for i := range 4 {
		q.push(msgOf(i))
	}
	q.take(nil, 1)
	if n := q.discard(true); n != 3 {
		t.Fatalf("discarded %d, want 3 (one is held)", n)
	}
	if q.push(msgOf(0)) || q.pushForce(msgOf(0)) || !q.isDead() {
		t.Fatal("a dead queue took a message")
	}
}

// handOff moves n messages from a producer goroutine, which hands them
// over as a connection's reader does (pushSome in batches, waiting for
// room at the high-water mark), to the calling goroutine, which takes
// them as a socket's Recv does (tryRecv, waiting for a push signal).
func handOff(tb testing.TB, p *pipe, batch [][][]byte, n int) {
	s := p.s
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sent := 0; sent < n; {
			k := p.in.pushSome(batch[:min(len(batch), n-sent)])
			sent += k
			if k < len(batch) && sent < n {
				<-p.inRoomCh
			}
		}
	}()
	for got := 0; got < n; {
		if _, ok := p.tryRecv(); ok {
			got++
			continue
		}
		<-s.readable
	}
	<-done
}

func newBenchPipe(tb testing.TB) *pipe {
	s, err := NewSocket(Pull, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return newPipe(s)
}

// BenchmarkPipeHandOff measures the hand-off of received messages from a
// connection's reader to the application, per message, with the default
// RCVHWM (1000) and the reader's batches of 64.
func BenchmarkPipeHandOff(b *testing.B) {
	p := newBenchPipe(b)
	batch := make([][][]byte, maxBatch)
	for i := range batch {
		batch[i] = msgOf(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	handOff(b, p, batch, b.N)
}

// The hand-off allocates nothing once the queue's ring and the socket's
// batch have grown.
func TestPipeHandOffAllocs(t *testing.T) {
	p := newBenchPipe(t)
	batch := make([][][]byte, maxBatch)
	for i := range batch {
		batch[i] = msgOf(i)
	}
	handOff(t, p, batch, 10000)
	if n := testing.AllocsPerRun(20, func() { handOff(t, p, batch, 5000) }); n > 4 {
		// The producer's goroutine, its closure and its channel: a few per
		// run of 5,000 messages, none per message.
		t.Errorf("%v allocations per 5,000 messages handed over", n)
	}
}

// Messages a socket took from a connection's queue in a batch are still
// seen by a Poller and returned by TryRecv: none is stranded behind a
// poll that says the socket is not readable.
func TestPollSeesBatchedMessages(t *testing.T) {
	for _, typ := range []SocketType{Pull, Sub} {
		t.Run(string(typ), func(t *testing.T) {
			r := newSock(t, typ, Options{})
			if typ == Sub {
				if err := r.Subscribe(nil); err != nil {
					t.Fatal(err)
				}
			}
			ep := bindLocal(t, r)
			st := Push
			if typ == Sub {
				st = Pub
			}
			w := newSock(t, st, Options{})
			w.Connect(ep)
			const n = 10
			ctx := testCtx(t)
			queued := func() int {
				total := 0
				for _, p := range r.snapshot() {
					total += p.in.len()
				}
				return total
			}
			if typ == Sub {
				// A PUB drops until the subscription arrives: send until
				// one gets through.
				waitFor(t, "a message through the PUB", func() bool {
					w.Send(ctx, [][]byte{[]byte("probe")})
					return queued() > 0
				})
			}
			for i := range n {
				if err := w.Send(ctx, [][]byte{{byte(i)}}); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "every message queued at the receiver", func() bool { return queued() >= n })
			for {
				m, err := r.Recv(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if string(m.Frames[0]) != "probe" {
					if m.Frames[0][0] != 0 {
						t.Fatalf("first Recv: %v", m.Frames)
					}
					break
				}
			}
			poller := NewPoller()
			defer poller.Close()
			poller.Add(r, PollIn)
			for i := 1; i < n; i++ {
				ready, err := poller.Poll(0)
				if err != nil || len(ready) != 1 {
					t.Fatalf("message %d: Poll(0) = %v, %v", i, ready, err)
				}
				m, err := r.TryRecv()
				if err != nil || m.Frames[0][0] != byte(i) {
					t.Fatalf("message %d: TryRecv: %v, %v", i, m.Frames, err)
				}
			}
			if ready, _ := poller.Poll(0); len(ready) != 0 {
				t.Errorf("after every message, Poll(0) = %v", ready)
			}
		})
	}
}

// empty, read without the lock, follows pushes, pops, batches taken and
// discards, so that a receive may skip an empty queue without locking it.
func TestQueueEmptyFollowsContents(t *testing.T) {
	q := newQueue(10, false, nil, nil)
	if !q.empty() {
		t.Fatal("new queue not empty")
	}
	q.push([][]byte{[]byte("a")})
	q.push([][]byte{[]byte("b")})
	if q.empty() {
		t.Fatal("queue with 2 messages reported empty")
	}
	if _, ok := q.pop(); !ok || q.empty() {
		t.Fatalf("after one pop: ok %v, empty %v", ok, q.empty())
	}
	if got, _ := q.takeHalf(nil, 32); len(got) != 1 || !q.empty() {
		t.Fatalf("takeHalf took %d, empty %v", len(got), q.empty())
	}
	q.push([][]byte{[]byte("c")})
	q.discard(false)
	if !q.empty() {
		t.Fatal("discarded queue not empty")
	}
}

// A queue wakes its consumer when a push makes it non-empty, not at every
// message: the consumer takes until it finds the queue empty before it
// waits again. A conflating queue, emptied by each push, wakes it at each.
func TestQueueWakesConsumerWhenNonEmpty(t *testing.T) {
	wakes := 0
	q := newQueue(10, false, func() { wakes++ }, nil)
	for i := range 3 {
		q.push(msgOf(i))
	}
	q.pushSome([][][]byte{msgOf(3), msgOf(4)})
	if wakes != 1 {
		t.Fatalf("%d wake-ups for 5 messages pushed onto a queue that had them, want 1", wakes)
	}
	got := q.take(nil, 2)
	q.push(msgOf(5))
	if wakes != 1 {
		t.Fatalf("a push behind 3 queued messages woke the consumer (%d wake-ups)", wakes)
	}
	got = q.take(got, 0)
	q.release(len(got))
	for i, m := range got {
		if idOf(m) != i {
			t.Fatalf("message %d is %d", i, idOf(m))
		}
	}
	if q.pushSome([][][]byte{msgOf(6)}) != 1 || wakes != 2 {
		t.Fatalf("a push onto the drained queue: %d wake-ups, want 2", wakes)
	}
	q.pop()
	q.push(msgOf(7))
	if wakes != 3 {
		t.Fatalf("a push after the consumer popped the last message: %d wake-ups, want 3", wakes)
	}

	wakes = 0
	c := newQueue(10, true, func() { wakes++ }, nil)
	for i := range 3 {
		c.push(msgOf(i))
	}
	if m, ok := c.pop(); !ok || idOf(m) != 2 || wakes != 3 {
		t.Fatalf("conflate: pop %v %v after %d wake-ups; want the last message, 3", m, ok, wakes)
	}
}
