package zmtp

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/zmtp-go/zmtp/mechanism"
)

func TestInprocPushPull(t *testing.T) {
	zc := NewContext()
	pull, _ := zc.NewSocket(Pull, Options{})
	defer pull.Close()
	push, _ := zc.NewSocket(Push, Options{})
	defer push.Close()
	// Connect before bind works, as with libzmq.
	if err := push.Connect("inproc://work"); err != nil {
		t.Fatal(err)
	}
	if err := pull.Bind("inproc://work"); err != nil {
		t.Fatal(err)
	}
	for i := range 1500 {
		send(t, push, fmt.Sprint(i))
	}
	for i := range 1500 {
		if got := recv(t, pull); got[0] != fmt.Sprint(i) {
			t.Fatalf("message %d = %q", i, got)
		}
	}
	if m, err := pull.TryRecv(); err != ErrWouldBlock {
		t.Fatalf("TryRecv = %v, %v", m, err)
	}
}

func TestInprocPubSubAndReqRep(t *testing.T) {
	zc := NewContext()
	pub, _ := zc.NewSocket(Pub, Options{})
	defer pub.Close()
	pub.Bind("inproc://news")
	sub, _ := zc.NewSocket(Sub, Options{})
	defer sub.Close()
	sub.Subscribe([]byte("a"))
	sub.Connect("inproc://news")
	// Over inproc the subscription is in place as soon as Connect returns.
	send(t, pub, "b-skip")
	send(t, pub, "a-keep")
	if got := recv(t, sub); got[0] != "a-keep" {
		t.Fatalf("sub got %q", got)
	}

	rep, _ := zc.NewSocket(Rep, Options{})
	defer rep.Close()
	rep.Bind("inproc://svc")
	req, _ := zc.NewSocket(Req, Options{RoutingID: []byte("me")})
	defer req.Close()
	req.Connect("inproc://svc")
	send(t, req, "q")
	m, err := rep.Recv(testCtx(t))
	if err != nil || string(m.Frames[0]) != "q" || m.Metadata.Get("Identity") != "me" {
		t.Fatalf("rep got %v %v %v", m.Frames, m.Metadata, err)
	}
	send(t, rep, "a")
	if got := recv(t, req); got[0] != "a" {
		t.Fatalf("req got %q", got)
	}
}

func TestInprocNeedsContext(t *testing.T) {
	s := newSock(t, Pair, Options{})
	if err := s.Bind("inproc://x"); err == nil {
		t.Fatal("inproc bind without a Context succeeded")
	}
}

// TestInprocZeroContext: a zero Context is an empty namespace, as
// NewContext's, whichever of Bind and Connect comes first.
func TestInprocZeroContext(t *testing.T) {
	for _, bindFirst := range []bool{true, false} {
		var zc Context
		pull, _ := zc.NewSocket(Pull, Options{})
		defer pull.Close()
		push, _ := zc.NewSocket(Push, Options{})
		defer push.Close()
		if bindFirst {
			if err := pull.Bind("inproc://zero"); err != nil {
				t.Fatal(err)
			}
		}
		if err := push.Connect("inproc://zero"); err != nil {
			t.Fatal(err)
		}
		if !bindFirst {
			if err := pull.Bind("inproc://zero"); err != nil {
				t.Fatal(err)
			}
		}
		send(t, push, "hello")
		if got := recv(t, pull); got[0] != "hello" {
			t.Fatalf("bind first %v: got %q", bindFirst, got)
		}
	}
}

// TestInprocIncompatibleConnect: a Connect to a socket of a type ours
// cannot talk to fails for good, as over tcp: Err reports a
// *mechanism.SocketTypeError and a blocked Send returns it instead of
// waiting, whether the Bind came before or after the Connect.
func TestInprocIncompatibleConnect(t *testing.T) {
	for _, bindFirst := range []bool{true, false} {
		zc := NewContext()
		pub, _ := zc.NewSocket(Pub, Options{})
		defer pub.Close()
		push, _ := zc.NewSocket(Push, Options{})
		defer push.Close()
		if bindFirst {
			if err := pub.Bind("inproc://wrong"); err != nil {
				t.Fatal(err)
			}
		}
		if err := push.Connect("inproc://wrong"); err != nil {
			t.Fatal(err)
		}
		if !bindFirst {
			if err := push.Err(); err != nil {
				t.Fatalf("Err before the Bind = %v", err)
			}
			if err := pub.Bind("inproc://wrong"); err != nil {
				t.Fatal(err)
			}
		}
		var ste *mechanism.SocketTypeError
		if err := push.Err(); !errors.As(err, &ste) || ste.Local != "PUSH" || ste.Peer != "PUB" {
			t.Fatalf("bind first %v: Err = %v, want a SocketTypeError PUSH/PUB", bindFirst, err)
		}
		var ee *EndpointError
		if err := push.Send(testCtx(t), [][]byte{[]byte("x")}); !errors.As(err, &ee) || !errors.As(err, &ste) || ee.Endpoint != "inproc://wrong" {
			t.Fatalf("bind first %v: Send = %v", bindFirst, err)
		}
		if pub.Stats().Peers != 0 || push.Stats().Peers != 0 {
			t.Fatalf("bind first %v: peers %d, %d after a refused link", bindFirst, pub.Stats().Peers, push.Stats().Peers)
		}
	}
}

// TestInprocBlocksAtHWM runs in a synctest bubble: a Send at the
// high-water mark is still blocked once every goroutine is, goes on when
// the receiver makes room, and otherwise ends with its context.
func TestInprocBlocksAtHWM(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		zc := NewContext()
		pull, _ := zc.NewSocket(Pull, Options{RecvHWM: HWMOf(5)})
		defer pull.Close()
		push, _ := zc.NewSocket(Push, Options{SendHWM: HWMOf(5)})
		defer push.Close()
		pull.Bind("inproc://hwm")
		push.Connect("inproc://hwm")
		n := 0
		for push.TrySend([][]byte{[]byte("x")}) == nil {
			n++
			if n > 100 {
				t.Fatal("no high-water mark")
			}
		}
		if n != 10 {
			t.Errorf("queued %d messages, want SNDHWM+RCVHWM = 10", n)
		}
		sent := make(chan error, 1)
		go func() { sent <- push.Send(context.Background(), [][]byte{[]byte("room again")}) }()
		synctest.Wait()
		select {
		case err := <-sent:
			t.Fatalf("Send at HWM returned %v", err)
		default:
		}
		recv(t, pull)
		if err := <-sent; err != nil {
			t.Fatalf("Send after room was made: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := push.Send(ctx, [][]byte{[]byte("x")}); err != context.DeadlineExceeded {
			t.Errorf("Send at HWM: %v", err)
		}
	})
}

// TestGonePipeDetachedOnceDrained: a peer that leaves with messages still
// queued is detached once they are read, so that a later Recv waits
// instead of finding the drained pipe again and again.
func TestGonePipeDetachedOnceDrained(t *testing.T) {
	for _, typ := range []SocketType{Pull, Router, Dealer} {
		t.Run(string(typ), func(t *testing.T) {
			zc := NewContext()
			s, _ := zc.NewSocket(typ, Options{})
			defer s.Close()
			if err := s.Bind("inproc://gone"); err != nil {
				t.Fatal(err)
			}
			peerType := Push
			if typ != Pull {
				peerType = Dealer
			}
			peer, _ := zc.NewSocket(peerType, Options{})
			if err := peer.Connect("inproc://gone"); err != nil {
				t.Fatal(err)
			}
			send(t, peer, "a")
			send(t, peer, "b")
			recv(t, s)
			if err := peer.Close(); err != nil {
				t.Fatal(err)
			}
			recv(t, s)
			if m, err := s.TryRecv(); err != ErrWouldBlock {
				t.Fatalf("TryRecv = %v, %v", m, err)
			}
			waitFor(t, "the drained pipe detached", func() bool { return len(s.snapshot()) == 0 })
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if m, err := s.Recv(ctx); err != context.DeadlineExceeded {
				t.Fatalf("Recv = %v, %v", m, err)
			}
		})
	}
}
