package zmtp

import (
	"bytes"
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

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
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

func waitPipes(t *testing.T, s *Socket, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		cnt := 0
		for _, p := range s.snapshot() {
			if p.conn.Load() != nil {
				cnt++
			}
		}
		if cnt >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v has %d connected peers, want %d", s, cnt, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
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
	// Publish until the subscription has arrived.
	deadline := time.Now().Add(5 * time.Second)
	for {
		send(t, pub, "weather.sunny")
		send(t, pub, "sports.goal")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		m, err := sub.Recv(ctx)
		cancel()
		if err == nil {
			if !bytes.HasPrefix(m.Frames[0], []byte("weather")) {
				t.Fatalf("unsubscribed topic delivered: %q", m.Frames[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no message")
		}
	}
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
	pull.Close()
	pull2 := newSock(t, Pull, Options{})
	if err := pull2.Bind(ep); err != nil {
		t.Fatal(err)
	}
	// Messages written while the old connection was dying may be lost, as
	// with libzmq; keep sending until the new connection delivers.
	deadline := time.Now().Add(5 * time.Second)
	for {
		send(t, push, "after restart")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		m, err := pull2.Recv(ctx)
		cancel()
		if err == nil {
			if string(m.Frames[0]) != "after restart" {
				t.Fatalf("got %q", m.Frames)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no reconnect")
		}
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
	want := []EventType{EventListening, EventAccepted, EventHandshakeSucceeded}
	for _, w := range want {
		select {
		case ev := <-events:
			if ev.Type != w {
				t.Fatalf("server event %v, want %v", ev, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %v event", w)
		}
	}
	for _, w := range []EventType{EventConnected, EventHandshakeSucceeded} {
		select {
		case ev := <-cevents:
			if ev.Type != w {
				t.Fatalf("client event %v, want %v", ev, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %v event", w)
		}
	}
	srv.Close()
	select {
	case ev := <-cevents:
		if ev.Type != EventDisconnected {
			t.Fatalf("client event %v, want DISCONNECTED", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no DISCONNECTED event")
	}
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
	select {
	case ev := <-events:
		var ste interface{ Error() string }
		if ste = ev.Err; ste == nil {
			t.Fatalf("event without error: %v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no handshake failure event")
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
	if got >= 1000 {
		t.Errorf("received all %d messages: nothing conflated", got)
	}
}

func TestConnectRoutingID(t *testing.T) {
	srv := newSock(t, Router, Options{})
	ep := bindLocal(t, srv)
	r := newSock(t, Router, Options{RoutingID: []byte("client-router")})
	if err := r.ConnectWith(ep, ConnectOptions{RoutingID: []byte("the-server")}); err != nil {
		t.Fatal(err)
	}
	// Our ROUTER addresses the peer by the id given at connect time.
	deadline := time.Now().Add(5 * time.Second)
	for r.Send(testCtx(t), [][]byte{[]byte("the-server"), []byte("hi")}) == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		m, err := srv.Recv(ctx)
		cancel()
		if err == nil {
			if string(m.Frames[0]) != "client-router" || string(m.Frames[1]) != "hi" {
				t.Fatalf("got %q", m.Frames)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing routed")
		}
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
