package zmtp

import (
	"context"
	"errors"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
)

// TestSocketKinds: every socket type in the table can be made and handshakes
// under its own name, except STREAM, which has no handshake; an unknown
// type is refused.
func TestSocketKinds(t *testing.T) {
	for typ, k := range socketKinds {
		if k.raw == frame.KnownSocketType(string(typ)) {
			t.Errorf("%s: raw %v, but KnownSocketType %v", typ, k.raw, !k.raw)
		}
		s, err := NewSocket(typ, Options{})
		if err != nil {
			t.Errorf("NewSocket(%s): %v", typ, err)
			continue
		}
		if s.Type() != typ {
			t.Errorf("Type() = %s, want %s", s.Type(), typ)
		}
		s.Close()
	}
	for _, typ := range []SocketType{"dealer", "FOO", ""} {
		if s, err := NewSocket(typ, Options{}); err == nil {
			s.Close()
			t.Errorf("NewSocket(%q) succeeded", typ)
		}
	}
}

// TestSubscribeSupport: only a SUB subscribes for itself, and an XPUB or
// PUB only with XPubManual (for the peer of the last subscription).
func TestSubscribeSupport(t *testing.T) {
	for typ := range socketKinds {
		s := newSock(t, typ, Options{})
		err := s.Subscribe([]byte("a"))
		if (err == nil) != (typ == Sub) {
			t.Errorf("%s: Subscribe = %v", typ, err)
		}
		if typ != Sub && !errors.Is(err, ErrNotSupported) {
			t.Errorf("%s: Subscribe = %v, want ErrNotSupported", typ, err)
		}
		if err := s.Unsubscribe([]byte("a")); (err == nil) != (typ == Sub) {
			t.Errorf("%s: Unsubscribe = %v", typ, err)
		}
	}
	x := newSock(t, XPub, Options{XPubManual: true})
	if err := x.Subscribe([]byte("a")); !errors.Is(err, ErrState) {
		t.Errorf("XPUB_MANUAL Subscribe before any subscription = %v, want ErrState", err)
	}
}

// Messages queued at a SUB under the empty subscription are filtered
// again when it is cancelled before they are received.
func TestSubFiltersQueuedAfterUnsubscribeAll(t *testing.T) {
	zc := NewContext()
	pub, _ := zc.NewSocket(Pub, Options{})
	defer pub.Close()
	if err := pub.Bind("inproc://sub-unsubscribe-all"); err != nil {
		t.Fatal(err)
	}
	sub, _ := zc.NewSocket(Sub, Options{})
	defer sub.Close()
	if err := sub.Connect("inproc://sub-unsubscribe-all"); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"", "a"} {
		if err := sub.Subscribe([]byte(topic)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := testCtx(t)
	// Both are delivered while the empty topic is subscribed.
	for _, m := range []string{"b0", "a0"} {
		if err := pub.Send(ctx, [][]byte{[]byte(m)}); err != nil {
			t.Fatal(err)
		}
		got, err := sub.Recv(ctx)
		if err != nil || string(got.Frames[0]) != m {
			t.Fatalf("Recv: %q, %v; want %q", got.Frames, err, m)
		}
	}
	for _, m := range []string{"b1", "a1"} {
		if err := pub.Send(ctx, [][]byte{[]byte(m)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sub.Unsubscribe(nil); err != nil {
		t.Fatal(err)
	}
	got, err := sub.Recv(ctx)
	if err != nil || string(got.Frames[0]) != "a1" {
		t.Fatalf("Recv after Unsubscribe(\"\"): %q, %v; want a1", got.Frames, err)
	}
}

// A PULL takes one message from each peer in turn, each peer's in order,
// also once a peer has left and the list of peers is shorter.
func TestFairQueueTakesInTurn(t *testing.T) {
	zc := NewContext()
	pull, _ := zc.NewSocket(Pull, Options{})
	defer pull.Close()
	if err := pull.Bind("inproc://fair-queue-turns"); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	var peers []*Socket
	for range 3 {
		p, _ := zc.NewSocket(Push, Options{})
		defer p.Close()
		if err := p.Connect("inproc://fair-queue-turns"); err != nil {
			t.Fatal(err)
		}
		peers = append(peers, p)
	}
	sendAll := func(peers []*Socket, n int) {
		t.Helper()
		for i, p := range peers {
			for j := range n {
				if err := p.Send(ctx, [][]byte{{byte(i), byte(j)}}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// recvTurns receives rounds of one message from each of n peers.
	recvTurns := func(n, rounds int) {
		t.Helper()
		next := make([]int, 3)
		for r := range rounds {
			seen := map[byte]bool{}
			for range n {
				m, err := pull.Recv(ctx)
				if err != nil {
					t.Fatal(err)
				}
				from, seq := m.Frames[0][0], int(m.Frames[0][1])
				if seen[from] || seq != next[from] {
					t.Fatalf("round %d: message %d of peer %d out of turn", r, seq, from)
				}
				seen[from] = true
				next[from]++
			}
		}
	}
	sendAll(peers, 3)
	recvTurns(3, 3)
	if err := peers[2].Close(); err != nil {
		t.Fatal(err)
	}
	sendAll(peers[:2], 4)
	recvTurns(2, 4)
}

// A Send that finds no room waits, and a later Send goes after it, not
// around it, even when room appears before the waiting one runs again
// (a Send to a single peer with room goes without the socket's send
// lock; one waiting makes the others take it).
func TestSendDoesNotOvertakeWaitingSend(t *testing.T) {
	zc := NewContext()
	pull, _ := zc.NewSocket(Pull, Options{RecvHWM: HWMOf(1), Linger: NoLinger})
	defer pull.Close()
	if err := pull.Bind("inproc://send-turns"); err != nil {
		t.Fatal(err)
	}
	push, _ := zc.NewSocket(Push, Options{SendHWM: HWMOf(1), Linger: NoLinger})
	defer push.Close()
	if err := push.Connect("inproc://send-turns"); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	// The inproc queue holds both ends' marks: two messages.
	for _, m := range []string{"m0", "m1"} {
		if err := push.Send(ctx, [][]byte{[]byte(m)}); err != nil {
			t.Fatal(err)
		}
	}
	waiting := make(chan error, 1)
	go func() { waiting <- push.Send(ctx, [][]byte{[]byte("a")}) }()
	lb := &push.rule.(*basic).lb
	waitFor(t, "a Send waiting for room", lb.waiting.Load)
	recvIs := func(want string) {
		t.Helper()
		m, err := pull.Recv(ctx)
		if err != nil || string(m.Frames[0]) != want {
			t.Fatalf("Recv: %q, %v; want %q", m.Frames, err, want)
		}
	}
	recvIs("m0")
	// There is room for one message, and it is the waiting Send's: a new
	// Send waits behind it, until it gives up.
	later, cancel := context.WithCancel(ctx)
	defer cancel()
	sent := make(chan error, 1)
	go func() {
		err := <-waiting
		sent <- err
		cancel()
	}()
	if err := push.Send(later, [][]byte{[]byte("b")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("a Send after one waiting for room: %v, want it to wait behind it", err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("the waiting Send: %v", err)
	}
	recvIs("m1")
	recvIs("a")
}
