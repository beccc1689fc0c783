package zmtp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/mechanism"
)

// freeEndpoint returns a tcp endpoint where nothing listens (yet).
func freeEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := "tcp://" + ln.Addr().String()
	ln.Close()
	return ep
}

// within returns what arrives on ch, failing the test if nothing does in
// waitTimeout (which only something that never happens reaches).
func within[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-testCtx(t).Done():
		t.Fatalf("gave up waiting for %s", what)
	}
	var zero T
	return zero
}

// closeAsync runs Close (or CloseContext) on a goroutine and returns its
// result channel once Close has begun.
func closeAsync(t *testing.T, s *Socket, ctx context.Context) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.CloseContext(ctx) }()
	waitFor(t, "Close to begin", s.isClosed)
	return done
}

// A message sent on a Connect whose peer is not there yet is delivered
// when the peer binds after Close began, with the default Linger.
func TestCloseDeliversToLateBinder(t *testing.T) {
	for _, linger := range []Duration{{}, LingerForever, DurationOf(time.Minute)} {
		t.Run(fmt.Sprint(linger), func(t *testing.T) {
			ep := freeEndpoint(t)
			push, err := NewSocket(Push, Options{Linger: linger, ReconnectInterval: DurationOf(10 * time.Millisecond)})
			if err != nil {
				t.Fatal(err)
			}
			push.Connect(ep)
			for i := range 10 {
				send(t, push, fmt.Sprint(i))
			}
			done := closeAsync(t, push, context.Background())
			pull := newSock(t, Pull, Options{})
			if err := pull.Bind(ep); err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				if got := recv(t, pull); got[0] != fmt.Sprint(i) {
					t.Fatalf("message %d: %q", i, got)
				}
			}
			if err := within(t, "Close to return after delivering", done); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if n := push.Discarded(); n != 0 {
				t.Errorf("Discarded %d", n)
			}
		})
	}
}

// NoLinger discards at once, and Close says how many.
func TestCloseNoLingerReportsDiscarded(t *testing.T) {
	push, _ := NewSocket(Push, Options{Linger: NoLinger})
	push.Connect(freeEndpoint(t))
	for range 5 {
		send(t, push, "x")
	}
	err := push.Close()
	var ue *UndeliveredError
	if !errors.As(err, &ue) || ue.Messages != 5 {
		t.Fatalf("Close: %v, want 5 undelivered", err)
	}
	if n := push.Discarded(); n != 5 {
		t.Errorf("Discarded %d, want 5", n)
	}
	if err := push.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// A bounded Linger and CloseContext both end the wait for a peer that
// never comes.
func TestCloseLingerBounds(t *testing.T) {
	t.Run("linger", func(t *testing.T) {
		push, _ := NewSocket(Push, Options{Linger: DurationOf(50 * time.Millisecond)})
		push.Connect(freeEndpoint(t))
		send(t, push, "x")
		start := time.Now()
		err := push.Close()
		var ue *UndeliveredError
		if !errors.As(err, &ue) || ue.Messages != 1 {
			t.Fatalf("Close: %v", err)
		}
		if d := time.Since(start); d < 50*time.Millisecond {
			t.Errorf("Close returned after %v, before the linger", d)
		}
	})
	t.Run("context", func(t *testing.T) {
		push, _ := NewSocket(Push, Options{}) // LingerForever
		push.Connect(freeEndpoint(t))
		send(t, push, "x")
		send(t, push, "y")
		ctx, cancel := context.WithCancel(context.Background())
		done := closeAsync(t, push, ctx)
		cancel()
		var ue *UndeliveredError
		if err := <-done; !errors.As(err, &ue) || ue.Messages != 2 {
			t.Fatalf("CloseContext: %v", err)
		}
	})
}

// A blocked Send returns ErrClosed when Close begins, even while Close
// lingers.
func TestCloseWakesBlockedSend(t *testing.T) {
	push, _ := NewSocket(Push, Options{SendHWM: HWMOf(1), Linger: DurationOf(time.Minute)})
	push.Connect(freeEndpoint(t))
	send(t, push, "fills the queue")
	errc := make(chan error, 1)
	go func() { errc <- push.Send(context.Background(), [][]byte{[]byte("blocked")}) }()
	ctx, cancel := context.WithCancel(context.Background())
	done := closeAsync(t, push, ctx)
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("blocked Send: %v", err)
	}
	cancel()
	<-done
}

// HWM 0 is no limit, as in libzmq, and an unlimited queue grows with use.
func TestUnlimitedHWM(t *testing.T) {
	push := newSock(t, Push, Options{SendHWM: Unlimited})
	push.Connect(freeEndpoint(t))
	for i := range 100_000 {
		if err := push.TrySend([][]byte{{byte(i)}}); err != nil {
			t.Fatalf("TrySend %d: %v", i, err)
		}
	}
	limited := newSock(t, Push, Options{SendHWM: HWMOf(3)})
	limited.Connect(freeEndpoint(t))
	for range 3 {
		send(t, limited, "x")
	}
	if err := limited.TrySend([][]byte{[]byte("x")}); !errors.Is(err, ErrWouldBlock) {
		t.Errorf("TrySend at HWM 3: %v", err)
	}
}

// Options that cannot be meant are refused at NewSocket.
func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{
		{SendHWM: HWMOf(-1)},
		{HandshakeTimeout: DurationOf(-time.Second)},
		{RoutingID: bytes.Repeat([]byte("x"), 256)},
		{Mechanism: mechanism.Curve{}},
	} {
		if _, err := NewSocket(Dealer, o); err == nil {
			t.Errorf("NewSocket accepted %+v", o)
		}
	}
}

// SetOptions changes a live socket's options as zmq_setsockopt does.
func TestSetOptionsLive(t *testing.T) {
	r := newSock(t, Router, Options{})
	bindLocal(t, r)
	if err := r.Send(testCtx(t), [][]byte{[]byte("nobody"), []byte("x")}); err != nil {
		t.Fatalf("Send to unknown id without RouterMandatory: %v", err)
	}
	if n := r.Dropped(); n != 1 {
		t.Errorf("Dropped %d after a message to an unknown id", n)
	}
	if err := r.SetOptions(func(o *Options) { o.RouterMandatory = true }); err != nil {
		t.Fatal(err)
	}
	if err := r.Send(testCtx(t), [][]byte{[]byte("nobody"), []byte("x")}); !errors.Is(err, ErrHostUnreachable) {
		t.Errorf("Send to unknown id with RouterMandatory: %v", err)
	}
	if err := r.SetOptions(func(o *Options) { o.Conflate = true }); err == nil {
		t.Error("Conflate changed on a live socket")
	}
	if err := r.SetOptions(func(o *Options) { o.SendHWM = HWMOf(-2) }); err == nil {
		t.Error("negative HWM accepted")
	}
}

// A peer that refuses us for good reaches the caller: Recv and Send
// return why, and Err says it, without a monitor.
func TestRefusalReachesCaller(t *testing.T) {
	srv := newSock(t, Rep, Options{Mechanism: mechanism.Plain{Server: true, Authenticator: mechanism.AuthenticatorFunc(plainAuth)}})
	ep := bindLocal(t, srv)
	cli := newSock(t, Req, Options{Mechanism: mechanism.Plain{Username: "admin", Password: "wrong"}})
	cli.Connect(ep)
	err := cli.Send(testCtx(t), [][]byte{[]byte("queued")}) // queued on the pipe before the refusal
	if err == nil {
		_, err = cli.Recv(testCtx(t))
	}
	var pe *mechanism.PeerError
	var ee *EndpointError
	if !errors.As(err, &pe) || !errors.As(err, &ee) || ee.Retrying {
		t.Fatalf("Recv after a refusal: %v", err)
	}
	if !strings.Contains(err.Error(), ep) {
		t.Errorf("error %q does not name the endpoint", err)
	}
	if err := cli.Err(); !errors.As(err, &pe) {
		t.Errorf("Err: %v", err)
	}

	// An incompatible socket type: SUB to a PUSH.
	push := newSock(t, Push, Options{})
	pep := bindLocal(t, push)
	sub := newSock(t, Sub, Options{})
	sub.Subscribe(nil)
	sub.Connect(pep)
	_, err = sub.Recv(testCtx(t))
	var ste *mechanism.SocketTypeError
	if !errors.As(err, &ste) {
		t.Fatalf("Recv on SUB connected to PUSH: %v", err)
	}
}

// A wrong CURVE server key keeps the client retrying (as libzmq), and Err
// says what is likely wrong.
func TestCurveWrongServerKeyExplained(t *testing.T) {
	_, ssec, _ := mechanism.GenerateCurveKeyPair(nil)
	wrong, _, _ := mechanism.GenerateCurveKeyPair(nil)
	cpub, csec, _ := mechanism.GenerateCurveKeyPair(nil)
	srv := newSock(t, Rep, Options{Mechanism: mechanism.Curve{Server: true, SecretKey: ssec, AllowAnyClient: true}})
	ep := bindLocal(t, srv)
	cli := newSock(t, Req, Options{Mechanism: mechanism.Curve{PublicKey: cpub, SecretKey: csec, ServerKey: wrong}})
	cli.Connect(ep)
	waitFor(t, "a handshake failure in Err", func() bool { return cli.Err() != nil })
	err := cli.Err()
	var ee *EndpointError
	if !errors.As(err, &ee) || !ee.Retrying || !strings.Contains(err.Error(), "ServerKey") {
		t.Errorf("Err: %v", err)
	}
}

// Subscribe never waits for a peer, even one whose queues are full: here
// an inproc XPUB whose application never reads its subscriptions.
func TestSubscribeNeverBlocks(t *testing.T) {
	zc := NewContext()
	xpub, _ := zc.NewSocket(XPub, Options{RecvHWM: HWMOf(2), XPubVerbose: true, Linger: NoLinger})
	defer xpub.Close()
	xpub.Bind("inproc://subs")
	sub, _ := zc.NewSocket(Sub, Options{Linger: NoLinger})
	defer sub.Close()
	sub.Connect("inproc://subs")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1000 {
			sub.Subscribe([]byte(fmt.Sprint(i)))
		}
	}()
	within(t, "Subscribe not to block", done)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := sub.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Recv: %v", err)
	}
	for i := range 1000 {
		m, err := xpub.TryRecv()
		if err != nil || string(m.Frames[0][1:]) != fmt.Sprint(i) {
			t.Fatalf("subscription %d: %q, %v", i, m.Frames, err)
		}
	}
}

// A second peer with a routing id in use is kept, unroutable, and takes
// the id when the first leaves (libzmq keeps it too).
func TestRouterDuplicateIDWaits(t *testing.T) {
	r := newSock(t, Router, Options{})
	ep := bindLocal(t, r)
	first := newSock(t, Dealer, Options{RoutingID: []byte("dup")})
	first.Connect(ep)
	send(t, first, "from first")
	if got := recv(t, r); got[0] != "dup" || got[1] != "from first" {
		t.Fatalf("got %q", got)
	}
	events := r.Monitor(EventHandshakeSucceeded | EventDisconnected)
	second := newSock(t, Dealer, Options{RoutingID: []byte("dup")})
	second.Connect(ep)
	send(t, second, "from second")
	waitFor(t, "the second connection", func() bool {
		r.mu.Lock()
		e := r.endpoints[ep]
		r.mu.Unlock()
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.conns) == 2
	})
	send(t, r, "dup", "to the owner")
	if got := recv(t, first); got[0] != "to the owner" {
		t.Fatalf("first got %q", got)
	}
	first.Close()
	// The second peer takes the id: its queued message is read and it is
	// routable.
	if got := recv(t, r); got[0] != "dup" || got[1] != "from second" {
		t.Fatalf("got %q", got)
	}
	send(t, r, "dup", "to the heir")
	if got := recv(t, second); got[0] != "to the heir" {
		t.Fatalf("second got %q", got)
	}
	// One handshake for the second peer (reported as libzmq reports it,
	// though the peer waits), and no reconnection.
	handshakes := 0
	for {
		select {
		case ev := <-events:
			if ev.Type == EventHandshakeSucceeded {
				handshakes++
			}
			continue
		default:
		}
		break
	}
	if handshakes != 1 {
		t.Errorf("%d handshakes of the second peer, want 1", handshakes)
	}
}

// Routing ids may start with a zero octet, as in libzmq; generated ids
// never collide with them.
func TestRoutingIDZeroPrefix(t *testing.T) {
	r := newSock(t, Router, Options{})
	ep := bindLocal(t, r)
	id := []byte{0, 0xFF, 'b', 'i', 'n'}
	d := newSock(t, Dealer, Options{RoutingID: id})
	d.Connect(ep)
	send(t, d, "hi")
	got := recv(t, r)
	if got[0] != string(id) {
		t.Fatalf("id %x", got[0])
	}
	send(t, r, string(id), "back")
	if got := recv(t, d); got[0] != "back" {
		t.Fatalf("got %q", got)
	}
}

// The send high-water mark counts messages a connection's writer holds:
// over a transport with no buffer, a peer that does not read lets exactly
// HWM messages be accepted.
func TestHWMCountsWriterHeld(t *testing.T) {
	x, y := net.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	var peer *Conn
	go func() {
		defer wg.Done()
		peer, _ = NewConn(context.Background(), y, ConnConfig{SocketType: "PULL", RecvQueueLen: 1})
	}()
	c, err := NewConn(context.Background(), x, ConnConfig{SocketType: "PUSH", SendQueueLen: 4, CloseTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	defer c.Close()
	defer peer.Close()
	big := bytes.Repeat([]byte("x"), 64<<10)
	accepted := 0
	for range 100 {
		if c.TrySend([][]byte{big}) != nil {
			break
		}
		accepted++
	}
	// The peer's reader takes one message and blocks on its full queue of
	// one; ours holds up to SendQueueLen, wherever they are.
	if accepted > 4+2 {
		t.Errorf("accepted %d messages with a queue of 4", accepted)
	}
}

// Subscriptions are counted: what a PUB holds for its peers, and what is
// given back when a peer leaves.
func TestSubscriptionStats(t *testing.T) {
	pub := newSock(t, Pub, Options{})
	ep := bindLocal(t, pub)
	sub := newSock(t, Sub, Options{})
	sub.Subscribe([]byte("weather"))
	sub.Subscribe([]byte("news"))
	sub.Connect(ep)
	waitFor(t, "the subscriptions at the PUB", func() bool { return pub.Stats().Topics == 2 })
	if st := pub.Stats(); st.TopicBytes != len("weather")+len("news") || st.Peers != 1 {
		t.Errorf("PUB stats %+v", st)
	}
	if st := sub.Stats(); st.Topics != 2 || st.TopicBytes != 11 {
		t.Errorf("SUB stats %+v", st)
	}
	sub.Close()
	waitFor(t, "the subscriptions to go with the peer", func() bool { return pub.Stats().Topics == 0 })
}

// No call waits on a lock another call holds while it waits: TrySend
// beside a blocked Send, TryRecv beside a blocked Recv, and an XPUB_MANUAL
// Subscribe beside a blocked Recv all return at once.
func TestNoWaitBehindBlockedCalls(t *testing.T) {
	push := newSock(t, Push, Options{SendHWM: HWMOf(1)})
	push.Connect(freeEndpoint(t))
	send(t, push, "fills the queue")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	blocked := make(chan error, 1)
	go func() { blocked <- push.Send(ctx, [][]byte{[]byte("waits")}) }()
	waitFor(t, "the Send to hold the send side", func() bool {
		if push.sendMu.TryLock() {
			push.sendMu.Unlock()
			return false
		}
		return true
	})
	if err := push.TrySend([][]byte{[]byte("x")}); !errors.Is(err, ErrWouldBlock) {
		t.Errorf("TrySend beside a blocked Send: %v", err)
	}
	cancel()
	<-blocked

	xpub := newSock(t, XPub, Options{XPubManual: true})
	ep := bindLocal(t, xpub)
	sub := newSock(t, Sub, Options{})
	sub.Subscribe([]byte("a"))
	sub.Connect(ep)
	if m, err := xpub.Recv(testCtx(t)); err != nil || string(m.Frames[0]) != "\x01a" {
		t.Fatalf("subscription: %q %v", m.Frames, err)
	}
	rctx, rcancel := context.WithCancel(context.Background())
	defer rcancel()
	go xpub.Recv(rctx) // waits for ever
	waitFor(t, "the Recv to hold the receive side", func() bool {
		if xpub.recvMu.TryLock() {
			xpub.recvMu.Unlock()
			return false
		}
		return true
	})
	if _, err := xpub.TryRecv(); !errors.Is(err, ErrWouldBlock) {
		t.Errorf("TryRecv beside a blocked Recv: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- xpub.Subscribe([]byte("a")) }()
	if err := within(t, "an XPUB_MANUAL Subscribe beside a blocked Recv", done); err != nil {
		t.Errorf("Subscribe: %v", err)
	}
}

// A message written on its own (a CURVE frame larger than the batch
// buffer) stops counting once written: Close with the default Linger
// returns at once after it is received.
func TestCloseAfterLargeCurveMessage(t *testing.T) {
	spub, ssec, _ := mechanism.GenerateCurveKeyPair(nil)
	cpub, csec, _ := mechanism.GenerateCurveKeyPair(nil)
	pull := newSock(t, Pull, Options{Mechanism: mechanism.Curve{Server: true, SecretKey: ssec, AllowAnyClient: true}})
	ep := bindLocal(t, pull)
	push, err := NewSocket(Push, Options{Mechanism: mechanism.Curve{PublicKey: cpub, SecretKey: csec, ServerKey: spub}})
	if err != nil {
		t.Fatal(err)
	}
	push.Connect(ep)
	big := bytes.Repeat([]byte("c"), 70_000)
	if err := push.Send(testCtx(t), [][]byte{big, big}); err != nil {
		t.Fatal(err)
	}
	if m, err := pull.Recv(testCtx(t)); err != nil || len(m.Frames) != 2 || !bytes.Equal(m.Frames[1], big) {
		t.Fatalf("Recv: %d frames, %v", len(m.Frames), err)
	}
	done := make(chan error, 1)
	go func() { done <- push.Close() }()
	if err := within(t, "Close after a delivered message", done); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// Two ROUTERs that bind and connect to each other (the Guide's peering)
// route over the same connection at both ends: the first message sent
// once the peer is routable is never lost.
func TestRouterPeeringFirstMessage(t *testing.T) {
	for run := range 30 {
		a := newSock(t, Router, Options{RoutingID: []byte("A"), RouterMandatory: true})
		b := newSock(t, Router, Options{RoutingID: []byte("B"), RouterMandatory: true})
		aep, bep := bindLocal(t, a), bindLocal(t, b)
		if run%2 == 0 {
			a.Connect(bep)
			b.Connect(aep)
		} else {
			b.Connect(aep)
			a.Connect(bep)
		}
		ctx := testCtx(t)
		waitFor(t, "B to be routable at A", func() bool {
			err := a.Send(ctx, [][]byte{[]byte("B"), []byte(fmt.Sprint(run))})
			if err != nil && !errors.Is(err, ErrHostUnreachable) {
				t.Fatal(err)
			}
			return err == nil
		})
		m, err := b.Recv(ctx)
		if err != nil || string(m.Frames[0]) != "A" || string(m.Frames[1]) != fmt.Sprint(run) {
			t.Fatalf("run %d: %q, %v", run, m.Frames, err)
		}
		a.Close()
		b.Close()
	}
}
