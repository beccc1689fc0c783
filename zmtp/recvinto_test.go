package zmtp

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
)

func TestRecvIntoReusesMemory(t *testing.T) {
	pull := newSock(t, Pull, Options{})
	ep := bindLocal(t, pull)
	push := newSock(t, Push, Options{})
	push.Connect(ep)
	ctx := testCtx(t)
	var m Message
	for i := range 200 {
		body := []byte(fmt.Sprintf("message %d", i))
		if err := push.Send(ctx, [][]byte{body}); err != nil {
			t.Fatal(err)
		}
		if err := pull.RecvInto(ctx, &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Frames) != 1 || !bytes.Equal(m.Frames[0], body) {
			t.Fatalf("message %d: got %q", i, m.Frames)
		}
		if m.Metadata.Get("Socket-Type") != "PUSH" {
			t.Fatalf("metadata %v", m.Metadata)
		}
	}
	// Multipart messages are copied too.
	send(t, push, "a", "", "ccc")
	if err := pull.RecvInto(ctx, &m); err != nil || len(m.Frames) != 3 || string(m.Frames[2]) != "ccc" || len(m.Frames[1]) != 0 {
		t.Fatalf("multipart: %q %v", m.Frames, err)
	}
}

// The memory an application sent over inproc is never recycled into
// another message.
func TestRecvIntoKeepsInprocMemory(t *testing.T) {
	zc := NewContext()
	pull, _ := zc.NewSocket(Pull, Options{})
	defer pull.Close()
	push, _ := zc.NewSocket(Push, Options{})
	defer push.Close()
	pull.Bind("inproc://keep")
	push.Connect("inproc://keep")
	body := []byte("mine")
	send := [][]byte{body}
	push.Send(context.Background(), send)
	var m Message
	if err := pull.RecvInto(context.Background(), &m); err != nil {
		t.Fatal(err)
	}
	if len(pull.freeing) != 0 || len(pull.free.msgs) != 0 {
		t.Fatal("an inproc message was recycled")
	}
	if &m.Frames[0][0] == &body[0] {
		t.Fatal("RecvInto returned the sender's memory")
	}
}

// With reused buffers on both sides, a PUSH/PULL exchange over TCP
// allocates nothing per message once warm: Send none, RecvInto none,
// whatever the number of messages queued between them (within the
// recycler's bounds).
func TestZeroAllocsPerMessage(t *testing.T) {
	for _, size := range []int{1, 64, 1024, 16 << 10} {
		for _, depth := range []int{0, 100, 900} {
			t.Run(fmt.Sprintf("%d octets, %d queued", size, depth), func(t *testing.T) {
				zeroAllocs(t, size, depth)
			})
		}
	}
	// Bodies larger than the read buffer are read straight into the
	// memory of messages given back, as many as the recycler keeps.
	for _, size := range []int{64 << 10, 200 << 10} {
		for _, depth := range []int{0, maxRecycledBytes / size / 2} {
			t.Run(fmt.Sprintf("%d octets, %d queued", size, depth), func(t *testing.T) {
				zeroAllocs(t, size, depth)
			})
		}
	}
}

func zeroAllocs(t *testing.T, size, depth int) {
	pull := newSock(t, Pull, Options{})
	ep := bindLocal(t, pull)
	push := newSock(t, Push, Options{})
	push.Connect(ep)
	ctx := testCtx(t)
	out := [][]byte{make([]byte, size)}
	for range depth {
		if err := push.Send(ctx, out); err != nil {
			t.Fatal(err)
		}
	}
	var in Message
	roundTrip := func() {
		if err := push.Send(ctx, out); err != nil {
			t.Fatal(err)
		}
		if err := pull.RecvInto(ctx, &in); err != nil {
			t.Fatal(err)
		}
		if len(in.Frames) != 1 || len(in.Frames[0]) != size {
			t.Fatalf("received %d frames", len(in.Frames))
		}
	}
	for range 2000 + 2*depth {
		roundTrip() // warm up: buffers, recycled memory, goroutine stacks
	}
	if n := testing.AllocsPerRun(2000, roundTrip); n != 0 {
		t.Errorf("%.2f allocations per message, want 0", n)
	}
}

// Small messages streamed over TCP share their memory (slabs): Recv costs
// well under an allocation per message, and RecvInto, which recycles the
// memory of what it copied, never disturbs messages kept from Recv.
func TestSmallMessagesShareMemory(t *testing.T) {
	ep := freeEndpoint(t)
	push := newSock(t, Push, Options{SendHWM: Unlimited, ReconnectInterval: DurationOf(10 * time.Millisecond)})
	push.Connect(ep)
	const n = 20000
	// Queued before the peer is there: the writer then writes them in full
	// batches, and the reader finds many in each read, as in a stream.
	for i := range n {
		if err := push.TrySend([][]byte{[]byte(fmt.Sprintf("message %06d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := testCtx(t)
	kept := make([]Message, 0, n/2)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.Mallocs
	pull := newSock(t, Pull, Options{RecvHWM: Unlimited})
	if err := pull.Bind(ep); err != nil {
		t.Fatal(err)
	}
	for range n / 2 {
		m, err := pull.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, m)
	}
	runtime.ReadMemStats(&ms)
	if per := float64(ms.Mallocs-before) / float64(n/2); per > 0.5 {
		t.Errorf("%.2f allocations per small message received", per)
	}
	var into Message
	for i := n / 2; i < n; i++ {
		if err := pull.RecvInto(ctx, &into); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("message %06d", i); string(into.Frames[0]) != want {
			t.Fatalf("RecvInto: %q, want %q", into.Frames[0], want)
		}
	}
	for i, m := range kept {
		if want := fmt.Sprintf("message %06d", i); string(m.Frames[0]) != want {
			t.Fatalf("kept message %d became %q", i, m.Frames[0])
		}
	}
}

// Larger messages streamed over TCP cost Recv about one allocation each,
// their body: the one-frame slices come from shared slabs (the last
// message of a read gets a slice of its own; before slabs every message
// cost two).
func TestRecvOneAllocationPerLargerMessage(t *testing.T) {
	ep := freeEndpoint(t)
	push := newSock(t, Push, Options{SendHWM: Unlimited, ReconnectInterval: DurationOf(10 * time.Millisecond)})
	push.Connect(ep)
	const n = 5000
	body := bytes.Repeat([]byte("b"), 2000)
	for range n {
		if err := push.TrySend([][]byte{body}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := testCtx(t)
	pull := newSock(t, Pull, Options{RecvHWM: Unlimited})
	if err := pull.Bind(ep); err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.Mallocs
	for range n {
		m, err := pull.Recv(ctx)
		if err != nil || len(m.Frames) != 1 || len(m.Frames[0]) != len(body) {
			t.Fatalf("Recv: %v", err)
		}
	}
	runtime.ReadMemStats(&ms)
	if per := float64(ms.Mallocs-before) / n; per > 1.5 {
		t.Errorf("%.2f allocations per 2,000-octet message received", per)
	}
}

// A ROUTER receiving a stream of small messages cuts their envelopes
// (routing id and body) from shared blocks: well under an allocation per
// message, and the messages kept stay intact.
func TestRouterSmallMessagesShareMemory(t *testing.T) {
	ep := freeEndpoint(t)
	dealer := newSock(t, Dealer, Options{SendHWM: Unlimited, ReconnectInterval: DurationOf(10 * time.Millisecond)})
	dealer.Connect(ep)
	const n = 20000
	for i := range n {
		if err := dealer.TrySend([][]byte{[]byte(fmt.Sprintf("message %06d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := testCtx(t)
	router := newSock(t, Router, Options{RecvHWM: Unlimited})
	if err := router.Bind(ep); err != nil {
		t.Fatal(err)
	}
	first, err := router.Recv(ctx)
	if err != nil || len(first.Frames) != 2 {
		t.Fatalf("Recv: %v, %d frames", err, len(first.Frames))
	}
	kept := make([]Message, 0, n)
	kept = append(kept, first)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.Mallocs
	for range n - 1 {
		m, err := router.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, m)
	}
	runtime.ReadMemStats(&ms)
	if per := float64(ms.Mallocs-before) / (n - 1); per > 0.5 {
		t.Errorf("%.2f allocations per small message received", per)
	}
	for i, m := range kept {
		if want := fmt.Sprintf("message %06d", i); len(m.Frames) != 2 || string(m.Frames[1]) != want || !bytes.Equal(m.Frames[0], first.Frames[0]) {
			t.Fatalf("kept message %d became %q", i, m.Frames)
		}
	}
	// An envelope is the message's own: appending to it leaves the next
	// one alone.
	kept[0].Frames = append(kept[0].Frames, []byte("extra"))
	if len(kept[1].Frames) != 2 || string(kept[1].Frames[1]) != "message 000001" {
		t.Fatalf("appending to one envelope changed the next: %q", kept[1].Frames)
	}
}

// The recycler's count, read without its lock, follows what it holds: a
// take after a put finds the messages, and an emptied one reports none.
func TestRecyclerCountsWhatItKeeps(t *testing.T) {
	var r recycler
	if got := r.take(nil, recycleBatch); len(got) != 0 {
		t.Fatalf("empty recycler gave %d", len(got))
	}
	ms := [][][]byte{{make([]byte, 8)}, {make([]byte, 8)}, {make([]byte, 8)}}
	r.put(ms)
	if got := r.take(nil, 2); len(got) != 2 || r.kept.Load() != 1 {
		t.Fatalf("took %d, %d kept; want 2, 1", len(got), r.kept.Load())
	}
	if got := r.take(nil, recycleBatch); len(got) != 1 || r.kept.Load() != 0 {
		t.Fatalf("took %d, %d kept; want 1, 0", len(got), r.kept.Load())
	}
}

// Large messages: what Recv returned stays the application's while the
// socket reuses the memory they arrived in, and every message arrives
// intact, whether Recv or RecvInto receives it.
func TestRecvIntoLargeKeepsRecvMemory(t *testing.T) {
	pull := newSock(t, Pull, Options{})
	ep := bindLocal(t, pull)
	push := newSock(t, Push, Options{})
	push.Connect(ep)
	ctx := testCtx(t)
	const size = 100 << 10
	body := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, size) }
	kept := map[int]Message{}
	var into Message
	for i := range 60 {
		if err := push.Send(ctx, [][]byte{body(i)}); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 || i >= 40 {
			m, err := pull.Recv(ctx)
			if err != nil || len(m.Frames) != 1 || !bytes.Equal(m.Frames[0], body(i)) {
				t.Fatalf("Recv %d: %d frames, %v", i, len(m.Frames), err)
			}
			kept[i] = m
			continue
		}
		if err := pull.RecvInto(ctx, &into); err != nil || len(into.Frames) != 1 || !bytes.Equal(into.Frames[0], body(i)) {
			t.Fatalf("RecvInto %d: %d frames, %v", i, len(into.Frames), err)
		}
	}
	for i, m := range kept {
		if !bytes.Equal(m.Frames[0], body(i)) {
			t.Fatalf("message %d from Recv changed", i)
		}
	}
}

// The recycler hands a large message back only for a body it holds, and
// lets one that is too small go.
func TestRecyclerLarge(t *testing.T) {
	var r recycler
	if m := r.takeLarge(1 << 16); m != nil {
		t.Fatal("an empty recycler gave a message")
	}
	small := [][]byte{make([]byte, 0, 100)}
	a := [][]byte{make([]byte, 0, 64<<10)}
	b := [][]byte{make([]byte, 0, 128<<10)}
	huge := [][]byte{make([]byte, 0, 2*maxRecycleLarge)}
	r.put([][][]byte{small, a, b, huge})
	if r.kept.Load() != 1 || r.keptLarge.Load() != 2 || r.bytes != 100+(64<<10)+(128<<10) {
		t.Fatalf("kept %d small, %d large, %d octets", r.kept.Load(), r.keptLarge.Load(), r.bytes)
	}
	if m := r.takeLarge(100 << 10); m == nil || cap(m[0]) != 128<<10 {
		t.Fatalf("took %v for 100 KiB, want the 128 KiB one", m)
	}
	// The 64 KiB one is too small for 100 KiB: dropped, not kept.
	if m := r.takeLarge(100 << 10); m != nil || r.keptLarge.Load() != 0 || r.bytes != 100 {
		t.Fatalf("took %v; %d large kept, %d octets", m, r.keptLarge.Load(), r.bytes)
	}
	if got := r.take(nil, recycleBatch); len(got) != 1 {
		t.Fatalf("small messages: took %d", len(got))
	}
	// Large messages count against the recycler's bound.
	var ms [][][]byte
	for range 2 * maxRecycledBytes / (64 << 10) {
		ms = append(ms, [][]byte{make([]byte, 0, 64<<10)})
	}
	r.put(ms)
	if got, want := int(r.keptLarge.Load()), maxRecycledBytes/(64<<10); got != want || r.bytes != maxRecycledBytes {
		t.Fatalf("kept %d large messages (%d octets), want %d", got, r.bytes, want)
	}
}

// Messages received with Recv are left where the reader read them, in
// read buffers that are read into again once the collector finds that
// none of their messages is left. Over a stream of messages of varied
// sizes, with collections along the way, every message arrives intact
// and those kept stay so, whether received with Recv or RecvInto.
func TestRecvKeptMessagesStayIntact(t *testing.T) {
	ep := freeEndpoint(t)
	push := newSock(t, Push, Options{SendHWM: Unlimited, ReconnectInterval: DurationOf(10 * time.Millisecond)})
	push.Connect(ep)
	const n = 30000
	body := func(i int) []byte {
		b := make([]byte, (i*37)%1200)
		for k := range b {
			b[k] = byte(i + k)
		}
		return b
	}
	ctx := testCtx(t)
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := push.Send(ctx, [][]byte{body(i)}); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	pull := newSock(t, Pull, Options{})
	if err := pull.Bind(ep); err != nil {
		t.Fatal(err)
	}
	kept := make(map[int][]byte)
	var into Message
	for i := range n {
		var got []byte
		if i%4 == 3 {
			if err := pull.RecvInto(ctx, &into); err != nil {
				t.Fatal(err)
			}
			got = into.Frames[0]
		} else {
			m, err := pull.Recv(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got = m.Frames[0]
			if i%7 == 0 {
				kept[i] = got
			}
		}
		if !bytes.Equal(got, body(i)) {
			t.Fatalf("message %d: %d octets, not as sent", i, len(got))
		}
		if i%2000 == 0 {
			runtime.GC()
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	for i, b := range kept {
		if !bytes.Equal(b, body(i)) {
			t.Fatalf("kept message %d changed", i)
		}
	}
}
