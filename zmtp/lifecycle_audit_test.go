package zmtp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// unboundEndpoint returns an endpoint of transport tr where nothing
// listens (yet).
func unboundEndpoint(t *testing.T, tr string) string {
	t.Helper()
	switch tr {
	case "tcp":
		return freeEndpoint(t)
	case "ipc":
		return "ipc://" + filepath.Join(t.TempDir(), "sock")
	case "ws":
		return "ws://" + freeEndpoint(t)[len("tcp://"):] + "/zmq"
	}
	t.Fatalf("no unbound endpoint for %s", tr)
	return ""
}

// A Recv waiting on any socket type returns ErrClosed when the socket is
// closed from another goroutine, whether it began before Close or after.
func TestRecvWakesOnCloseEveryType(t *testing.T) {
	for _, typ := range []SocketType{Pull, Dealer, Router, Rep, Req, Pair, Sub, XSub, XPub, Dish, Server, Client, Gather, Peer, Channel} {
		t.Run(fmt.Sprint(typ), func(t *testing.T) {
			s, err := NewSocket(typ, Options{Linger: NoLinger})
			if err != nil {
				t.Fatal(err)
			}
			s.Connect(freeEndpoint(t))
			if typ == Req {
				send(t, s, "request") // REQ receives only after a request
			}
			errc := make(chan error, 1)
			go func() {
				_, err := s.Recv(testCtx(t))
				errc <- err
			}()
			if err := s.Close(); typ != Req && err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := within(t, "Recv to return", errc); !errors.Is(err, ErrClosed) {
				t.Errorf("Recv on a closed %v: %v", typ, err)
			}
		})
	}
}

// blockedSender is a socket type whose Send waits at the high-water mark,
// and a way to bring it there.
type blockedSender struct {
	name string
	typ  SocketType
	opts Options
	// fill brings s to the high-water mark with a peer that does not
	// read, or none, and returns a send of one more message, which waits,
	// and the peer (nil for none).
	fill func(t *testing.T, s *Socket) (sendOne func(ctx context.Context) error, peer *Socket)
}

// fillConnect fills the queue of a Connect whose peer is not there.
func fillConnect(t *testing.T, s *Socket) (func(ctx context.Context) error, *Socket) {
	s.Connect(freeEndpoint(t))
	send(t, s, "fills the queue")
	return func(ctx context.Context) error { return s.Send(ctx, [][]byte{[]byte("waits")}) }, nil
}

// fillUntilFull sends with try until it would block.
func fillUntilFull(t *testing.T, try func() error) {
	t.Helper()
	for {
		err := try()
		if errors.Is(err, ErrWouldBlock) {
			return
		}
		if err != nil {
			t.Fatalf("filling: %v", err)
		}
	}
}

// inprocPeer binds s to an inproc endpoint and connects a new socket of
// type typ, from the same Context, to it: over inproc the room between
// them is exactly their high-water marks, with no kernel buffer.
func inprocPeer(t *testing.T, s *Socket, typ SocketType, opts Options) *Socket {
	t.Helper()
	ep := "inproc://" + t.Name()
	if err := s.Bind(ep); err != nil {
		t.Fatal(err)
	}
	p, err := s.zctx.NewSocket(typ, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Connect(ep); err != nil {
		t.Fatal(err)
	}
	return p
}

// fillRouter fills a mandatory ROUTER's queue for a DEALER that does not
// read.
func fillRouter(t *testing.T, s *Socket) (func(ctx context.Context) error, *Socket) {
	d := inprocPeer(t, s, Dealer, Options{RecvHWM: HWMOf(1), RoutingID: []byte("peer")})
	send(t, d, "hello") // the ROUTER knows the peer once it has read this
	if got := recv(t, s); got[0] != "peer" {
		t.Fatalf("ROUTER received %q", got)
	}
	msg := func() [][]byte { return [][]byte{[]byte("peer"), []byte("x")} }
	fillUntilFull(t, func() error { return s.TrySend(msg()) })
	return func(ctx context.Context) error { return s.Send(ctx, msg()) }, d
}

// fillServer fills a SERVER's queue for a CLIENT that does not read.
func fillServer(t *testing.T, s *Socket) (func(ctx context.Context) error, *Socket) {
	c := inprocPeer(t, s, Client, Options{RecvHWM: HWMOf(1)})
	send(t, c, "hello")
	m, err := s.Recv(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	id := m.RoutingID
	fillUntilFull(t, func() error { return s.TrySendTo(id, []byte("x")) })
	return func(ctx context.Context) error { return s.SendTo(ctx, id, []byte("x")) }, c
}

// fillXPub fills an XPUB's (XPubNoDrop) queue for a SUB that does not
// read.
func fillXPub(t *testing.T, s *Socket) (func(ctx context.Context) error, *Socket) {
	sub := inprocPeer(t, s, Sub, Options{RecvHWM: HWMOf(1)})
	sub.Subscribe(nil)
	recv(t, s) // the subscription
	msg := func() [][]byte { return [][]byte{[]byte("x")} }
	fillUntilFull(t, func() error { return s.TrySend(msg()) })
	return func(ctx context.Context) error { return s.Send(ctx, msg()) }, sub
}

func blockedSenders() []blockedSender {
	one := Options{SendHWM: HWMOf(1), Linger: NoLinger}
	small := Options{SendHWM: HWMOf(1), RecvHWM: HWMOf(1), Linger: NoLinger, RouterMandatory: true}
	return []blockedSender{
		{"PUSH-connecting", Push, one, fillConnect},
		{"DEALER-connecting", Dealer, one, fillConnect},
		{"PAIR-connecting", Pair, one, fillConnect},
		{"CLIENT-connecting", Client, one, fillConnect},
		{"SCATTER-connecting", Scatter, one, fillConnect},
		{"CHANNEL-connecting", Channel, one, fillConnect},
		{"ROUTER-mandatory-peer-not-reading", Router, small, fillRouter},
		{"SERVER-peer-not-reading", Server, small, fillServer},
		{"XPUB-nodrop-peer-not-reading", XPub, Options{SendHWM: HWMOf(1), Linger: NoLinger, XPubNoDrop: true}, fillXPub},
	}
}

// A Send waiting at the high-water mark returns ErrClosed when the socket
// is closed from another goroutine, on every type whose Send waits.
func TestSendAtHWMWakesOnCloseEveryType(t *testing.T) {
	for _, b := range blockedSenders() {
		t.Run(b.name, func(t *testing.T) {
			s, err := NewContext().NewSocket(b.typ, b.opts)
			if err != nil {
				t.Fatal(err)
			}
			sendOne, _ := b.fill(t, s)
			errc := make(chan error, 1)
			go func() { errc <- sendOne(testCtx(t)) }()
			s.Close()
			if err := within(t, "Send to return", errc); !errors.Is(err, ErrClosed) {
				t.Errorf("Send at the HWM on a closed socket: %v", err)
			}
		})
	}
}

// A Send waiting at the high-water mark whose context ends returns the
// context's error and leaves nothing queued: the message it refused is
// never delivered and never counted as discarded.
func TestSendAtHWMCancelledQueuesNothing(t *testing.T) {
	for _, b := range blockedSenders() {
		t.Run(b.name, func(t *testing.T) {
			s, err := NewContext().NewSocket(b.typ, b.opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			sendOne, _ := b.fill(t, s)
			ctx, cancel := context.WithCancel(testCtx(t))
			errc := make(chan error, 1)
			go func() { errc <- sendOne(ctx) }()
			cancel()
			if err := within(t, "Send to return", errc); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled Send: %v", err)
			}
			if err := s.TrySend([][]byte{[]byte("still full")}); b.typ != Server && b.typ != Router && !errors.Is(err, ErrWouldBlock) {
				t.Errorf("TrySend after a cancelled Send: %v (the cancelled message took room?)", err)
			}
			if n := s.Discarded() + s.Dropped(); n != 0 {
				t.Errorf("Discarded+Dropped %d after a cancelled Send", n)
			}
		})
	}
}

// Close with NoLinger discards what is queued for a peer not yet there,
// on every transport and sending type, and counts every message: none is
// lost without a count.
func TestCloseNoLingerCountsEveryType(t *testing.T) {
	for _, tr := range []string{"tcp", "ipc", "ws"} {
		for _, typ := range []SocketType{Push, Dealer, Pair, Client, Scatter, Channel, Req} {
			t.Run(tr+"/"+fmt.Sprint(typ), func(t *testing.T) {
				s, err := NewSocket(typ, Options{Linger: NoLinger})
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Connect(unboundEndpoint(t, tr)); err != nil {
					t.Fatal(err)
				}
				n := 5
				if typ == Req {
					n = 1
				}
				for i := range n {
					send(t, s, fmt.Sprint(i))
				}
				err = s.Close()
				var u *UndeliveredError
				if !errors.As(err, &u) || u.Messages != n {
					t.Fatalf("Close: %v, want %d undelivered", err, n)
				}
				if got := s.Discarded(); got != int64(n) {
					t.Errorf("Discarded %d, want %d", got, n)
				}
			})
		}
	}
}

// Close with a bounded Linger gives up on a peer that never comes after
// the Linger, and counts what it discarded, on every transport.
func TestCloseBoundedLingerCounts(t *testing.T) {
	for _, tr := range []string{"tcp", "ipc", "ws"} {
		t.Run(tr, func(t *testing.T) {
			s, err := NewSocket(Dealer, Options{Linger: DurationOf(20 * time.Millisecond)})
			if err != nil {
				t.Fatal(err)
			}
			s.Connect(unboundEndpoint(t, tr))
			for i := range 3 {
				send(t, s, fmt.Sprint(i))
			}
			errc := make(chan error, 1)
			go func() { errc <- s.Close() }()
			err = within(t, "Close to return after the Linger", errc)
			var u *UndeliveredError
			if !errors.As(err, &u) || u.Messages != 3 {
				t.Fatalf("Close: %v, want 3 undelivered", err)
			}
		})
	}
}

// A Send on an inproc Connect whose peer has not bound yet waits for the
// bind (libzmq 4.3.4 queues up to SNDHWM messages instead: a difference
// the README lists); nothing is accepted, so nothing is lost: the bind
// lets it through, and a Close before the bind wakes it with ErrClosed
// and discards nothing.
func TestInprocSendBeforeBindWaits(t *testing.T) {
	zc := NewContext()
	ep := "inproc://" + t.Name()
	push, err := zc.NewSocket(Push, Options{Linger: NoLinger})
	if err != nil {
		t.Fatal(err)
	}
	if err := push.Connect(ep); err != nil {
		t.Fatal(err)
	}
	if err := push.TrySend([][]byte{[]byte("early")}); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("TrySend before the bind: %v", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- push.Send(testCtx(t), [][]byte{[]byte("waits for the bind")}) }()
	pull, err := zc.NewSocket(Pull, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pull.Close()
	if err := pull.Bind(ep); err != nil {
		t.Fatal(err)
	}
	if err := within(t, "Send to return after the bind", errc); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := recv(t, pull); got[0] != "waits for the bind" {
		t.Fatalf("received %q", got)
	}

	late, err := zc.NewSocket(Push, Options{Linger: NoLinger})
	if err != nil {
		t.Fatal(err)
	}
	late.Connect("inproc://nobody-" + t.Name())
	go func() { errc <- late.Send(testCtx(t), [][]byte{[]byte("never accepted")}) }()
	if err := late.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := within(t, "Send to return after Close", errc); !errors.Is(err, ErrClosed) {
		t.Errorf("Send waiting for a bind when closed: %v", err)
	}
	if n := late.Discarded(); n != 0 {
		t.Errorf("Discarded %d", n)
	}
}

// Disconnect of a Connect whose peer is not there discards what is queued
// for it, and counts it: nothing Send accepted goes without a count.
func TestDisconnectCountsDiscarded(t *testing.T) {
	for _, tr := range []string{"tcp", "ipc", "ws"} {
		for _, linger := range []Duration{NoLinger, DurationOf(10 * time.Millisecond)} {
			t.Run(fmt.Sprint(tr, "/", linger), func(t *testing.T) {
				s := newSock(t, Dealer, Options{Linger: linger})
				ep := unboundEndpoint(t, tr)
				if err := s.Connect(ep); err != nil {
					t.Fatal(err)
				}
				for i := range 3 {
					send(t, s, fmt.Sprint(i))
				}
				if err := s.Disconnect(ep); err != nil {
					t.Fatal(err)
				}
				if n := s.Discarded(); n != 3 {
					t.Errorf("Discarded %d after Disconnect, want 3", n)
				}
				if err := s.Close(); err != nil {
					t.Errorf("Close after Disconnect: %v", err)
				}
			})
		}
	}
}

// Messages queued for a Connect that its peer then refuses for good (an
// incompatible socket type) are counted in Discarded, and a Send waiting
// returns the refusal.
func TestRefusedConnectCountsDiscarded(t *testing.T) {
	ep := freeEndpoint(t)
	push := newSock(t, Push, Options{SendHWM: HWMOf(3)})
	push.Connect(ep)
	for i := range 3 {
		send(t, push, fmt.Sprint(i))
	}
	errc := make(chan error, 1)
	go func() { errc <- push.Send(testCtx(t), [][]byte{[]byte("waits")}) }()
	pub := newSock(t, Pub, Options{})
	if err := pub.Bind(ep); err != nil {
		t.Fatal(err)
	}
	var ee *EndpointError
	if err := within(t, "the waiting Send to fail", errc); !errors.As(err, &ee) {
		t.Fatalf("Send waiting when the peer refused: %v", err)
	}
	waitEndpointDone(t, endpointOf(t, push, ep))
	if n := push.Discarded(); n != 3 {
		t.Errorf("Discarded %d, want the 3 queued for the refused peer", n)
	}
}

// An ipc path too long for a Unix socket address is refused at the call,
// as libzmq refuses it (ENAMETOOLONG), instead of a Connect that retries
// for ever and a Send that waits for it.
func TestIPCPathTooLong(t *testing.T) {
	s := newSock(t, Push, Options{})
	dir := t.TempDir()
	long := "ipc://" + dir + "/" + strings.Repeat("x", 107-len(dir))
	if err := s.Connect(long); !errors.Is(err, ErrInvalidEndpoint) {
		t.Errorf("Connect(%d-octet path): %v", len(long)-len("ipc://"), err)
	}
	if err := s.Bind(long); !errors.Is(err, ErrInvalidEndpoint) {
		t.Errorf("Bind(%d-octet path): %v", len(long)-len("ipc://"), err)
	}
	fits := long[:len(long)-1]
	if err := s.Bind(fits); err != nil {
		t.Errorf("Bind(%d-octet path): %v", len(fits)-len("ipc://"), err)
	}
}

// Where ZeroMQ drops at the high-water mark (PUB, XPUB and RADIO to a
// full subscriber, ROUTER to a full peer without RouterMandatory), every
// message sent is either received or counted in Dropped. Over inproc the
// room is exactly the two high-water marks together, as in libzmq.
func TestDroppedAtHWMCounted(t *testing.T) {
	const sent, snd, rcv = 50, 2, 3
	cases := []struct {
		name       string
		typ, peer  SocketType
		prepare    func(t *testing.T, s, p *Socket) // once linked
		sendOne    func(ctx context.Context, s *Socket) error
		readsFirst bool
	}{
		{name: "PUB", typ: Pub, peer: Sub,
			prepare: func(t *testing.T, s, p *Socket) { p.Subscribe(nil) },
			sendOne: func(ctx context.Context, s *Socket) error { return s.Send(ctx, [][]byte{[]byte("m")}) }},
		{name: "XPUB", typ: XPub, peer: Sub,
			prepare: func(t *testing.T, s, p *Socket) {
				p.Subscribe(nil)
				recv(t, s) // the subscription
			},
			sendOne: func(ctx context.Context, s *Socket) error { return s.Send(ctx, [][]byte{[]byte("m")}) }},
		{name: "RADIO", typ: Radio, peer: Dish,
			prepare: func(t *testing.T, s, p *Socket) {
				if err := p.Join("g"); err != nil {
					t.Fatal(err)
				}
			},
			sendOne: func(ctx context.Context, s *Socket) error { return s.SendGroup(ctx, "g", []byte("m")) }},
		{name: "ROUTER", typ: Router, peer: Dealer,
			prepare: func(t *testing.T, s, p *Socket) {
				send(t, p, "hello")
				recv(t, s)
			},
			sendOne: func(ctx context.Context, s *Socket) error {
				return s.Send(ctx, [][]byte{[]byte("peer"), []byte("m")})
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			zc := NewContext()
			s, err := zc.NewSocket(c.typ, Options{SendHWM: HWMOf(snd), Linger: NoLinger})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			p := inprocPeer(t, s, c.peer, Options{RecvHWM: HWMOf(rcv), RoutingID: []byte("peer"), Linger: NoLinger})
			c.prepare(t, s, p)
			for i := range sent {
				if err := c.sendOne(testCtx(t), s); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			got := 0
			for {
				if _, err := p.TryRecv(); err != nil {
					break
				}
				got++
			}
			if got != snd+rcv || s.Dropped() != sent-snd-rcv {
				t.Errorf("received %d, Dropped %d, of %d sent; want %d and %d", got, s.Dropped(), sent, snd+rcv, sent-snd-rcv)
			}
		})
	}
}

// A Send waiting at the high-water mark of a peer that then leaves
// returns ErrHostUnreachable (ROUTER with RouterMandatory, SERVER), as
// libzmq's retry of the send finds no such peer.
func TestSendAtHWMPeerLeaves(t *testing.T) {
	for _, b := range blockedSenders() {
		if b.typ != Router && b.typ != Server {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			s, err := NewContext().NewSocket(b.typ, b.opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			sendOne, peer := b.fill(t, s)
			errc := make(chan error, 1)
			go func() { errc <- sendOne(testCtx(t)) }()
			peer.Close()
			if err := within(t, "Send to return", errc); !errors.Is(err, ErrHostUnreachable) {
				t.Errorf("Send at the HWM of a peer that left: %v", err)
			}
		})
	}
}

// Close with the default Linger lets a handshake in progress complete and
// then delivers what is queued: the peer accepted the TCP connection but
// answers the greeting only once Close has begun.
func TestCloseCompletesHandshakeInProgress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	push, err := NewSocket(Push, Options{})
	if err != nil {
		t.Fatal(err)
	}
	push.Connect("tcp://" + ln.Addr().String())
	for i := range 3 {
		send(t, push, fmt.Sprint(i))
	}
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	done := closeAsync(t, push, testCtx(t))
	c, err := NewConn(testCtx(t), nc, ConnConfig{SocketType: "PULL"})
	if err != nil {
		t.Fatalf("handshake after Close began: %v", err)
	}
	defer c.Close()
	for i := range 3 {
		m, err := c.Recv(testCtx(t))
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if string(m[0]) != fmt.Sprint(i) {
			t.Fatalf("message %d: %q", i, m)
		}
	}
	if err := within(t, "Close to return", done); err != nil {
		t.Errorf("Close: %v", err)
	}
	if n := push.Discarded(); n != 0 {
		t.Errorf("Discarded %d", n)
	}
}

// Close with the default Linger re-makes a connection that broke: what
// was queued while the peer was gone is delivered to the peer that binds
// again, after Close began.
func TestCloseDeliversAfterReconnect(t *testing.T) {
	for _, tr := range []string{"tcp", "ipc", "ws"} {
		t.Run(tr, func(t *testing.T) {
			ep := unboundEndpoint(t, tr)
			pull1 := newSock(t, Pull, Options{})
			if err := pull1.Bind(ep); err != nil {
				t.Fatal(err)
			}
			push, err := NewSocket(Push, Options{ReconnectInterval: DurationOf(10 * time.Millisecond)})
			if err != nil {
				t.Fatal(err)
			}
			events := push.Monitor(EventDisconnected)
			push.Connect(ep)
			send(t, push, "first")
			if got := recv(t, pull1); got[0] != "first" {
				t.Fatalf("received %q", got)
			}
			pull1.Close()
			expectEvent(t, events, EventDisconnected)
			for i := range 3 {
				send(t, push, fmt.Sprint(i))
			}
			done := closeAsync(t, push, testCtx(t))
			pull2 := newSock(t, Pull, Options{})
			if err := pull2.Bind(ep); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if got := recv(t, pull2); got[0] != fmt.Sprint(i) {
					t.Fatalf("message %d: %q", i, got)
				}
			}
			if err := within(t, "Close to return", done); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}
