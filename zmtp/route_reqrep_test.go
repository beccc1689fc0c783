package zmtp

import (
	"bytes"
	"fmt"
	"testing"
)

// A ROUTER puts the routing id of a connection's message into the frame
// the connection's reader left free for it: receiving costs no envelope.
func TestRouterRecvBuildsNoEnvelope(t *testing.T) {
	s := newSock(t, Router, Options{})
	p := newPipe(s)
	if !s.attach(p) {
		t.Fatal("pipe not attached")
	}
	if !p.envelopeSlot() {
		t.Fatal("a ROUTER's connections are not asked for a free frame")
	}
	body := []byte("body")
	batch := make([][][]byte, maxBatch)
	for i := range batch {
		batch[i] = [][]byte{nil, body}
	}
	run := func() {
		// As the reader hands over what it read: the first frame free.
		for _, m := range batch {
			m[0] = nil
		}
		if k := p.in.pushSome(batch); k != len(batch) {
			t.Fatalf("%d of %d messages queued", k, len(batch))
		}
		for range batch {
			m, err := s.TryRecv()
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Frames) != 2 || !bytes.Equal(m.Frames[0], p.id) || !bytes.Equal(m.Frames[1], body) {
				t.Fatalf("received %q, want the routing id %q and %q", m.Frames, p.id, body)
			}
		}
	}
	run() // the queue's ring grows once
	if n := testing.AllocsPerRun(20, run); n != 0 {
		t.Errorf("%v allocations per %d messages received", n, len(batch))
	}
}

// A ROUTER with peers over TCP (whose messages come with a free first
// frame) and inproc (whose do not) receives every message whole with its
// sender's routing id, single-frame and multipart alike, and the messages
// are the caller's to keep: later ones do not disturb them, nor does
// appending to one disturb the others.
func TestRouterEnvelopesOfMixedPeers(t *testing.T) {
	zc := NewContext()
	router, err := zc.NewSocket(Router, Options{Linger: NoLinger})
	if err != nil {
		t.Fatal(err)
	}
	defer router.Close()
	ep := bindLocal(t, router)
	if err := router.Bind("inproc://mixed"); err != nil {
		t.Fatal(err)
	}
	tcp := newSock(t, Dealer, Options{RoutingID: []byte("tcp")})
	if err := tcp.Connect(ep); err != nil {
		t.Fatal(err)
	}
	inp, err := zc.NewSocket(Dealer, Options{RoutingID: []byte("inproc"), Linger: NoLinger})
	if err != nil {
		t.Fatal(err)
	}
	defer inp.Close()
	if err := inp.Connect("inproc://mixed"); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	const n = 300
	for i := range n {
		for _, d := range []*Socket{tcp, inp} {
			msg := [][]byte{[]byte(fmt.Sprint(i))}
			if i%3 == 0 {
				msg = append(msg, []byte("more"), nil)
			}
			if err := d.Send(ctx, msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	var kept []Message
	next := map[string]int{}
	for range 2 * n {
		m, err := router.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		id := string(m.Frames[0])
		i := next[id]
		next[id]++
		want := [][]byte{[]byte(id), []byte(fmt.Sprint(i))}
		if i%3 == 0 {
			want = append(want, []byte("more"), []byte{})
		}
		if id != "tcp" && id != "inproc" || !framesEqual(m.Frames, want) {
			t.Fatalf("received %q, want %q", m.Frames, want)
		}
		kept = append(kept, m)
	}
	for _, m := range kept {
		_ = append(m.Frames, []byte("appended"))
	}
	seen := map[string]int{}
	for _, m := range kept {
		id := string(m.Frames[0])
		i := seen[id]
		seen[id]++
		if id != "tcp" && id != "inproc" || string(m.Frames[1]) != fmt.Sprint(i) || len(m.Frames) != 2 && len(m.Frames) != 4 {
			t.Fatalf("kept message %d from %s changed to %q", i, id, m.Frames)
		}
	}
}

func framesEqual(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
