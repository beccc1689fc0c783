package zmtp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// newSock makes a socket closed at the end of the test; unless the test
// sets a Linger, Close discards what is left (NoLinger).
func newSock(t *testing.T, typ SocketType, opts Options) *Socket {
	t.Helper()
	if opts.Linger == (Duration{}) {
		opts.Linger = NoLinger
	}
	s, err := NewSocket(typ, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitTimeout bounds every wait for an event in these tests. It is
// generous, so that a slow or loaded machine delays a test without failing
// it; a test that reaches it has found something that never happens.
const waitTimeout = 30 * time.Second

// deadline returns a channel closed after waitTimeout: the bound of a
// wait for an event that must come.
func deadline(t testing.TB) <-chan struct{} {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx.Done()
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// nextEvent returns the next event from a monitor channel, failing the
// test after waitTimeout.
func nextEvent(t testing.TB, events <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("monitor channel closed")
		}
		return ev
	case <-deadline(t):
		t.Fatalf("no event within %v", waitTimeout)
		return Event{}
	}
}

// expectEvent is nextEvent that fails the test unless the event is of
// type want.
func expectEvent(t testing.TB, events <-chan Event, want EventType) Event {
	t.Helper()
	ev := nextEvent(t, events)
	if ev.Type != want {
		t.Fatalf("event %v, want %v", ev, want)
	}
	return ev
}

// endpointOf returns the endpoint of s made by Bind or Connect with ep.
func endpointOf(t testing.TB, s *Socket, ep string) *endpoint {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.endpoints[ep]
	if e == nil {
		t.Fatalf("%v has no endpoint %s", s, ep)
	}
	return e
}

// connectPipe returns the current pipe of the Connect of s to ep.
func connectPipe(t testing.TB, s *Socket, ep string) *pipe {
	t.Helper()
	e := endpointOf(t, s, ep)
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pipe
}

// waitEndpointDone waits until the goroutine of endpoint e has ended: a
// Connect that gave up for good makes no further attempt after that.
func waitEndpointDone(t testing.TB, e *endpoint) {
	t.Helper()
	select {
	case <-e.done:
	case <-deadline(t):
		t.Fatalf("endpoint %s still running after %v", e.addr, waitTimeout)
	}
}

func send(t *testing.T, s *Socket, frames ...string) {
	t.Helper()
	msg := make([][]byte, len(frames))
	for i, f := range frames {
		msg[i] = []byte(f)
	}
	if err := s.Send(testCtx(t), msg); err != nil {
		t.Fatalf("%v send: %v", s, err)
	}
}

func recv(t *testing.T, s *Socket) []string {
	t.Helper()
	m, err := s.Recv(testCtx(t))
	if err != nil {
		t.Fatalf("%v recv: %v", s, err)
	}
	out := make([]string, len(m.Frames))
	for i, f := range m.Frames {
		out[i] = string(f)
	}
	return out
}

func bindLocal(t *testing.T, s *Socket) string {
	t.Helper()
	if err := s.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	return s.LastEndpoint()
}

func TestPushPullRoundRobin(t *testing.T) {
	push := newSock(t, Push, Options{})
	ep1 := bindLocal(t, push)
	ep2 := bindLocal(t, push)
	a := newSock(t, Pull, Options{})
	b := newSock(t, Pull, Options{})
	a.Connect(ep1)
	b.Connect(ep2)
	// Wait until both peers are routable.
	waitPipes(t, push, 2)
	for i := range 10 {
		send(t, push, fmt.Sprint(i))
	}
	for i := 0; i < 10; i += 2 {
		ga, gb := recv(t, a), recv(t, b)
		if ga[0] == gb[0] {
			t.Fatalf("both got %v", ga)
		}
	}
}

// waitPipes waits until s has at least n routable pipes with a connection.
func waitPipes(t *testing.T, s *Socket, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d connected peers of %v", n, s), func() bool {
		cnt := 0
		for _, p := range s.snapshot() {
			if p.conn.Load() != nil {
				cnt++
			}
		}
		return cnt >= n
	})
}

func TestReqRep(t *testing.T) {
	rep := newSock(t, Rep, Options{})
	ep := bindLocal(t, rep)
	req := newSock(t, Req, Options{})
	if err := req.Connect(ep); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		send(t, req, "ping", fmt.Sprint(i))
		if got := recv(t, rep); fmt.Sprint(got) != fmt.Sprint([]string{"ping", fmt.Sprint(i)}) {
			t.Fatalf("rep got %q", got)
		}
		send(t, rep, "pong")
		if got := recv(t, req); len(got) != 1 || got[0] != "pong" {
			t.Fatalf("req got %q", got)
		}
	}
	if err := rep.Send(testCtx(t), [][]byte{[]byte("x")}); !errors.Is(err, ErrState) {
		t.Errorf("REP send out of turn: %v", err)
	}
	send(t, req, "again")
	if err := req.Send(testCtx(t), [][]byte{[]byte("x")}); !errors.Is(err, ErrState) {
		t.Errorf("REQ send out of turn: %v", err)
	}
}

func TestDealerRouterIdentity(t *testing.T) {
	router := newSock(t, Router, Options{})
	ep := bindLocal(t, router)
	dealer := newSock(t, Dealer, Options{RoutingID: []byte("worker-1")})
	dealer.Connect(ep)
	send(t, dealer, "hi")
	got := recv(t, router)
	if got[0] != "worker-1" || got[1] != "hi" {
		t.Fatalf("router got %q", got)
	}
	send(t, router, "worker-1", "back")
	if got := recv(t, dealer); got[0] != "back" {
		t.Fatalf("dealer got %q", got)
	}
	// An anonymous peer gets a generated 5-octet id starting with 0.
	anon := newSock(t, Dealer, Options{})
	anon.Connect(ep)
	send(t, anon, "anon")
	got = recv(t, router)
	if len(got[0]) != 5 || got[0][0] != 0 {
		t.Errorf("generated id %q", got[0])
	}
	r2 := newSock(t, Router, Options{RouterMandatory: true})
	if err := r2.Send(testCtx(t), [][]byte{[]byte("nobody"), []byte("x")}); !errors.Is(err, ErrHostUnreachable) {
		t.Errorf("mandatory: %v", err)
	}
}

func TestPubSubFilter(t *testing.T) {
	pub := newSock(t, Pub, Options{})
	ep := bindLocal(t, pub)
	sub := newSock(t, Sub, Options{})
	sub.Subscribe([]byte("weather"))
	sub.Connect(ep)
	// Once the subscription has reached the publisher, it filters there.
	waitFor(t, "the subscription at the publisher", func() bool { return subscribed(pub, "weather.sunny") })
	if subscribed(pub, "sports.goal") {
		t.Error("the publisher matches an unsubscribed topic")
	}
	send(t, pub, "sports.goal")
	send(t, pub, "weather.sunny")
	if got := recv(t, sub); got[0] != "weather.sunny" {
		t.Fatalf("got %q, want the subscribed topic only", got)
	}
	if m, err := sub.TryRecv(); err != ErrWouldBlock {
		t.Errorf("TryRecv = %q, %v", m.Frames, err)
	}
}

// subscribed reports whether a peer of the PUB or XPUB socket s has a
// subscription matching topic.
func subscribed(s *Socket, topic string) bool {
	r := s.rule.(*pubRouter)
	r.mu.RLock()
	defer r.mu.RUnlock()
	found := false
	r.index.matchOwners([]byte(topic), func(*pipe) { found = true })
	return found
}

func TestConnectBeforeBindAndReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := "tcp://" + ln.Addr().String()
	ln.Close()
	push := newSock(t, Push, Options{ReconnectInterval: DurationOf(10 * time.Millisecond)})
	push.Connect(ep)
	send(t, push, "queued before bind")
	pull := newSock(t, Pull, Options{})
	if err := pull.Bind(ep); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, pull); got[0] != "queued before bind" {
		t.Fatalf("got %q", got)
	}
	// Restart the peer: the pusher reconnects.
	p := connectPipe(t, push, ep)
	old := p.conn.Load()
	pull.Close()
	pull2 := newSock(t, Pull, Options{})
	if err := pull2.Bind(ep); err != nil {
		t.Fatal(err)
	}
	// Messages written while the old connection was dying may be lost, as
	// with libzmq; once the new connection is up, nothing is.
	waitFor(t, "the reconnection", func() bool {
		c := p.conn.Load()
		return c != nil && c != old
	})
	send(t, push, "after restart")
	if got := recv(t, pull2); got[0] != "after restart" {
		t.Fatalf("got %q", got)
	}
}

func TestIPC(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sock")
	pair1 := newSock(t, Pair, Options{})
	if err := pair1.Bind("ipc://" + path); err != nil {
		t.Fatal(err)
	}
	pair2 := newSock(t, Pair, Options{})
	pair2.Connect("ipc://" + path)
	send(t, pair2, "over ipc")
	if got := recv(t, pair1); got[0] != "over ipc" {
		t.Fatalf("got %q", got)
	}
	send(t, pair1, "back")
	if got := recv(t, pair2); got[0] != "back" {
		t.Fatalf("got %q", got)
	}
}

func TestMonitorEvents(t *testing.T) {
	srv := newSock(t, Rep, Options{})
	events := srv.Monitor(EventAll)
	ep := bindLocal(t, srv)
	cli := newSock(t, Req, Options{})
	cevents := cli.Monitor(EventConnected | EventHandshakeSucceeded | EventDisconnected)
	cli.Connect(ep)
	for _, w := range []EventType{EventListening, EventAccepted, EventHandshakeSucceeded} {
		expectEvent(t, events, w)
	}
	for _, w := range []EventType{EventConnected, EventHandshakeSucceeded} {
		expectEvent(t, cevents, w)
	}
	srv.Close()
	expectEvent(t, cevents, EventDisconnected)
	var last Event
	for ev := range events {
		last = ev
	}
	if last.Type != EventMonitorStopped {
		t.Errorf("last server event %v", last)
	}
}

func TestHandshakeFailureEvent(t *testing.T) {
	srv := newSock(t, Pull, Options{})
	events := srv.Monitor(EventHandshakeFailedProtocol)
	ep := bindLocal(t, srv)
	cli := newSock(t, Pub, Options{})
	cli.Connect(ep)
	if ev := nextEvent(t, events); ev.Err == nil {
		t.Fatalf("event without error: %v", ev)
	}
}

func TestConflateKeepsNewest(t *testing.T) {
	zc := NewContext()
	sub, _ := zc.NewSocket(Sub, Options{Conflate: true})
	defer sub.Close()
	sub.Subscribe(nil)
	pub, _ := zc.NewSocket(Pub, Options{})
	defer pub.Close()
	pub.Bind("inproc://conflate")
	sub.Connect("inproc://conflate")
	for i := range 100 {
		send(t, pub, fmt.Sprint(i))
	}
	// The newest message is always the last one delivered.
	var last string
	n := 0
	for {
		m, err := sub.TryRecv()
		if err != nil {
			break
		}
		last = string(m.Frames[0])
		n++
	}
	if last != "99" || n == 100 {
		t.Fatalf("last message %q after %d", last, n)
	}
}

func TestConflateOverTCP(t *testing.T) {
	pull := newSock(t, Pull, Options{Conflate: true})
	ep := bindLocal(t, pull)
	push := newSock(t, Push, Options{})
	push.Connect(ep)
	waitPipes(t, push, 1)
	for i := range 1000 {
		send(t, push, fmt.Sprint(i))
	}
	// Once the puller's connection has read all 1000, its queue holds the
	// newest alone (or, at that very moment, the one before it).
	waitFor(t, "1000 messages read", func() bool {
		for _, p := range pull.snapshot() {
			if c := p.conn.Load(); c != nil && c.Stats().MessagesIn >= 1000 {
				return true
			}
		}
		return false
	})
	got := 0
	for {
		m, err := pull.Recv(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		got++
		if string(m.Frames[0]) == "999" {
			break
		}
	}
	if got > 2 {
		t.Errorf("received %d messages after all had arrived: nothing conflated", got)
	}
	if m, err := pull.TryRecv(); err != ErrWouldBlock {
		t.Errorf("TryRecv = %q, %v", m.Frames, err)
	}
}

func TestConnectRoutingID(t *testing.T) {
	srv := newSock(t, Router, Options{})
	ep := bindLocal(t, srv)
	r := newSock(t, Router, Options{RoutingID: []byte("client-router")})
	if err := r.ConnectWith(ep, ConnectOptions{RoutingID: []byte("the-server")}); err != nil {
		t.Fatal(err)
	}
	// Our ROUTER addresses the peer by the id given at connect time, once
	// the connection is up.
	waitPipes(t, r, 1)
	send(t, r, "the-server", "hi")
	if got := recv(t, srv); got[0] != "client-router" || got[1] != "hi" {
		t.Fatalf("got %q", got)
	}
}

func TestXPubManual(t *testing.T) {
	zc := NewContext()
	xpub, _ := zc.NewSocket(XPub, Options{XPubManual: true})
	defer xpub.Close()
	xpub.Bind("inproc://manual")
	sub, _ := zc.NewSocket(Sub, Options{})
	defer sub.Close()
	sub.Connect("inproc://manual")
	sub.Subscribe(nil) // everything, as far as the subscriber is concerned
	m, err := xpub.Recv(testCtx(t))
	if err != nil || string(m.Frames[0]) != "\x01" {
		t.Fatalf("got %q %v", m.Frames, err)
	}
	// The application grants another topic instead.
	if err := xpub.Subscribe([]byte("granted")); err != nil {
		t.Fatal(err)
	}
	send(t, xpub, "other: not delivered")
	send(t, xpub, "granted: delivered")
	if got := recv(t, sub); got[0] != "granted: delivered" {
		t.Fatalf("got %q", got)
	}
}

// A monitor nobody reads drops events rather than delaying the socket.
func TestMonitorNeverBlocks(t *testing.T) {
	s := newSock(t, Pull, Options{})
	events := s.Monitor(EventAll)
	for range monitorQueueLen {
		if err := s.Bind("tcp://127.0.0.1:*"); err != nil {
			t.Fatal(err)
		}
		if err := s.Unbind(s.LastEndpoint()); err != nil {
			t.Fatal(err)
		}
	}
	if len(events) != monitorQueueLen {
		t.Fatalf("%d events queued, want a full buffer of %d", len(events), monitorQueueLen)
	}
}
