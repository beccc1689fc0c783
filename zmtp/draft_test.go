package zmtp

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/mechanism"
)

// draftTransports are the transports every draft type is tested over:
// each returns a fresh endpoint to bind.
var draftTransports = []struct {
	name string
	ep   func(t *testing.T) string
}{
	{"tcp", func(t *testing.T) string { return "tcp://127.0.0.1:*" }},
	{"ipc", func(t *testing.T) string { return "ipc://" + filepath.Join(t.TempDir(), "s") }},
	{"inproc", func(t *testing.T) string { return "inproc://" + t.Name() }},
	{"ws", func(t *testing.T) string { return "ws://127.0.0.1:*/zmtp" }},
}

// newIn makes a socket of zc, closed at the end of the test (discarding
// what is left, unless opts sets a Linger).
func newIn(t *testing.T, zc *Context, typ SocketType, opts Options) *Socket {
	t.Helper()
	if opts.Linger == (Duration{}) {
		opts.Linger = NoLinger
	}
	s, err := zc.NewSocket(typ, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// bindAt binds s to ep and returns the endpoint to connect to.
func bindAt(t *testing.T, s *Socket, ep string) string {
	t.Helper()
	if err := s.Bind(ep); err != nil {
		t.Fatal(err)
	}
	return s.LastEndpoint()
}

// recvMsg receives a message, failing the test on error.
func recvMsg(t *testing.T, s *Socket) Message {
	t.Helper()
	m, err := s.Recv(testCtx(t))
	if err != nil {
		t.Fatalf("%v recv: %v", s, err)
	}
	return m
}

// TestClientServer: a SERVER receives each CLIENT's messages with a
// routing id of its own, not zero, and answers each one by it.
func TestClientServer(t *testing.T) {
	for _, tr := range draftTransports {
		t.Run(tr.name, func(t *testing.T) {
			zc := NewContext()
			ctx := testCtx(t)
			server := newIn(t, zc, Server, Options{})
			ep := bindAt(t, server, tr.ep(t))
			clients := make([]*Socket, 3)
			for i := range clients {
				clients[i] = newIn(t, zc, Client, Options{})
				if err := clients[i].Connect(ep); err != nil {
					t.Fatal(err)
				}
			}
			ids := map[uint32]int{}
			for i, c := range clients {
				send(t, c, fmt.Sprint("hello from ", i))
				m := recvMsg(t, server)
				if want := fmt.Sprint("hello from ", i); m.Text() != want {
					t.Fatalf("server got %q, want %q", m.Frames, want)
				}
				if m.RoutingID == 0 {
					t.Fatal("routing id 0")
				}
				if j, dup := ids[m.RoutingID]; dup {
					t.Fatalf("clients %d and %d share routing id %d", j, i, m.RoutingID)
				}
				ids[m.RoutingID] = i
				if got, _ := m.Metadata.Lookup("Socket-Type"); string(got) != "CLIENT" {
					t.Errorf("Socket-Type %q", got)
				}
			}
			// Answered in another order than asked: each reply reaches
			// the client it is for.
			for id, i := range ids {
				if err := server.SendTo(ctx, id, []byte(fmt.Sprint("reply to ", i))); err != nil {
					t.Fatal(err)
				}
			}
			for i, c := range clients {
				m := recvMsg(t, c)
				if want := fmt.Sprint("reply to ", i); m.Text() != want {
					t.Errorf("client %d got %q, want %q", i, m.Frames, want)
				}
				if m.RoutingID != 0 {
					t.Errorf("a CLIENT's message has routing id %d", m.RoutingID)
				}
			}
			// RecvInto fills the routing id in too.
			send(t, clients[1], "again")
			var m Message
			if err := server.RecvInto(ctx, &m); err != nil {
				t.Fatal(err)
			}
			if ids[m.RoutingID] != 1 || m.Text() != "again" {
				t.Errorf("RecvInto: %q from %d", m.Frames, m.RoutingID)
			}
		})
	}
}

// TestClientLoadBalances: a CLIENT connected to two SERVERs sends to
// each in turn.
func TestClientLoadBalances(t *testing.T) {
	zc := NewContext()
	a := newIn(t, zc, Server, Options{})
	b := newIn(t, zc, Server, Options{})
	client := newIn(t, zc, Client, Options{})
	client.Connect(bindAt(t, a, "tcp://127.0.0.1:*"))
	client.Connect(bindAt(t, b, "inproc://b"))
	waitFor(t, "two peers", func() bool { return len(client.snapshot()) == 2 })
	for i := range 6 {
		send(t, client, fmt.Sprint(i))
	}
	// In turn: one server gets the even messages, the other the odd.
	for _, s := range []*Socket{a, b} {
		first := recvMsg(t, s).Text()
		for _, want := range []string{"2", "4"} {
			if first == "1" {
				want = fmt.Sprint(want[0] - '0' + 1)
			}
			if got := recvMsg(t, s).Text(); got != want {
				t.Errorf("%v got %q after %q, want %q", s, got, first, want)
			}
		}
		if m, err := s.TryRecv(); err == nil {
			t.Errorf("%v got a fourth message %q", s, m.Frames)
		}
	}
}

// TestScatterGather: a SCATTER load-balances over its GATHERs, which
// fair-queue; neither goes the other way.
func TestScatterGather(t *testing.T) {
	for _, tr := range draftTransports {
		t.Run(tr.name, func(t *testing.T) {
			zc := NewContext()
			scatter := newIn(t, zc, Scatter, Options{})
			ep := bindAt(t, scatter, tr.ep(t))
			g1 := newIn(t, zc, Gather, Options{})
			g2 := newIn(t, zc, Gather, Options{})
			g1.Connect(ep)
			g2.Connect(ep)
			waitFor(t, "two gathers", func() bool { return len(scatter.snapshot()) == 2 })
			for i := range 10 {
				send(t, scatter, fmt.Sprint(i))
			}
			seen := map[string]bool{}
			for range 5 {
				for _, g := range []*Socket{g1, g2} {
					seen[recvMsg(t, g).Text()] = true
				}
			}
			if len(seen) != 10 {
				t.Errorf("received %d distinct messages, want 10", len(seen))
			}
			if _, err := scatter.TryRecv(); !errors.Is(err, ErrNotSupported) {
				t.Errorf("SCATTER TryRecv = %v", err)
			}
			if err := g1.TrySend([][]byte{[]byte("x")}); !errors.Is(err, ErrNotSupported) {
				t.Errorf("GATHER TrySend = %v", err)
			}
		})
	}
}

// TestPeers: ConnectPeer returns the routing id of the peer connected to,
// usable at once; the bound PEER answers by the id its message carried.
func TestPeers(t *testing.T) {
	for _, tr := range draftTransports {
		t.Run(tr.name, func(t *testing.T) {
			zc := NewContext()
			ctx := testCtx(t)
			a := newIn(t, zc, Peer, Options{})
			ep := bindAt(t, a, tr.ep(t))
			b := newIn(t, zc, Peer, Options{})
			idA, err := b.ConnectPeer(ep)
			if err != nil || idA == 0 {
				t.Fatalf("ConnectPeer = %d, %v", idA, err)
			}
			if err := b.SendTo(ctx, idA, []byte("hi a")); err != nil {
				t.Fatal(err)
			}
			m := recvMsg(t, a)
			if m.Text() != "hi a" || m.RoutingID == 0 {
				t.Fatalf("a got %q from %d", m.Frames, m.RoutingID)
			}
			if err := a.SendTo(ctx, m.RoutingID, []byte("hi b")); err != nil {
				t.Fatal(err)
			}
			if m := recvMsg(t, b); m.Text() != "hi b" || m.RoutingID != idA {
				t.Errorf("b got %q from %d, want from %d", m.Frames, m.RoutingID, idA)
			}
			// A third peer connected to both gets two distinct ids.
			c := newIn(t, zc, Peer, Options{})
			bEP := bindAt(t, b, draftTransports[0].ep(t))
			x, err := c.ConnectPeer(ep)
			if err != nil {
				t.Fatal(err)
			}
			y, err := c.ConnectPeer(bEP)
			if err != nil || x == y {
				t.Fatalf("ids %d and %d, %v", x, y, err)
			}
			c.SendTo(ctx, x, []byte("to a"))
			c.SendTo(ctx, y, []byte("to b"))
			if got := recvMsg(t, a).Text(); got != "to a" {
				t.Errorf("a got %q", got)
			}
			if got := recvMsg(t, b).Text(); got != "to b" {
				t.Errorf("b got %q", got)
			}
		})
	}
}

// TestConnectPeerRefused: ConnectPeer is for PEER sockets without
// Immediate.
func TestConnectPeerRefused(t *testing.T) {
	s := newSock(t, Server, Options{})
	if _, err := s.ConnectPeer("tcp://127.0.0.1:5555"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("SERVER ConnectPeer = %v", err)
	}
	p := newSock(t, Peer, Options{Immediate: true})
	if _, err := p.ConnectPeer("tcp://127.0.0.1:5555"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("ConnectPeer with Immediate = %v", err)
	}
	q := newSock(t, Peer, Options{})
	if _, err := q.ConnectPeer("tcp://*:5555"); !errors.Is(err, ErrInvalidEndpoint) {
		t.Errorf("ConnectPeer(tcp://*:5555) = %v", err)
	}
	if n := len(q.rule.(*serverRule).byID); n != 0 {
		t.Errorf("a failed ConnectPeer left %d ids reserved", n)
	}
}

// TestChannel: two CHANNELs talk as a PAIR does; a second peer is refused
// while the first is there.
func TestChannel(t *testing.T) {
	for _, tr := range draftTransports {
		t.Run(tr.name, func(t *testing.T) {
			zc := NewContext()
			a := newIn(t, zc, Channel, Options{})
			events := a.Monitor(EventHandshakeSucceeded | EventDisconnected)
			ep := bindAt(t, a, tr.ep(t))
			b := newIn(t, zc, Channel, Options{})
			b.Connect(ep)
			send(t, b, "ping")
			if got := recvMsg(t, a).Text(); got != "ping" {
				t.Fatalf("a got %q", got)
			}
			send(t, a, "pong")
			if got := recvMsg(t, b).Text(); got != "pong" {
				t.Fatalf("b got %q", got)
			}
			c := newIn(t, zc, Channel, Options{ReconnectInterval: NoReconnect})
			c.Connect(ep)
			if tr.name != "inproc" {
				expectEvent(t, events, EventHandshakeSucceeded) // b
				expectEvent(t, events, EventDisconnected)       // c, refused
			} else {
				waitFor(t, "c refused", func() bool { return c.Err() != nil || len(c.snapshot()) == 0 })
			}
			c.TrySend([][]byte{[]byte("from c")})
			send(t, b, "still b")
			if got := recvMsg(t, a).Text(); got != "still b" {
				t.Errorf("a got %q", got)
			}
			if n := len(a.snapshot()); n != 1 {
				t.Errorf("a has %d peers", n)
			}
		})
	}
}

// TestSingleFrameSend: the draft types refuse a multipart message with
// ErrMultipart, in every form of send; a SERVER's Send is refused since a
// message needs a routing id.
func TestSingleFrameSend(t *testing.T) {
	two := func() [][]byte { return [][]byte{[]byte("a"), []byte("b")} }
	ctx := testCtx(t)
	for _, typ := range []SocketType{Client, Server, Scatter, Gather, Peer, Channel} {
		s := newSock(t, typ, Options{})
		if err := s.Send(ctx, two()); !errors.Is(err, ErrMultipart) {
			t.Errorf("%s Send = %v, want ErrMultipart", typ, err)
		}
		if err := s.TrySend(two()); !errors.Is(err, ErrMultipart) {
			t.Errorf("%s TrySend = %v, want ErrMultipart", typ, err)
		}
		if err := s.SendString(ctx, "a", "b"); !errors.Is(err, ErrMultipart) {
			t.Errorf("%s SendString = %v, want ErrMultipart", typ, err)
		}
	}
	srv := newSock(t, Server, Options{})
	if err := srv.TrySend([][]byte{[]byte("a")}); !errors.Is(err, ErrNotSupported) {
		t.Errorf("SERVER TrySend = %v, want ErrNotSupported", err)
	}
	if err := srv.SendTo(ctx, 12345, []byte("a")); !errors.Is(err, ErrHostUnreachable) {
		t.Errorf("SendTo an unknown id = %v, want ErrHostUnreachable", err)
	}
	cl := newSock(t, Client, Options{})
	if err := cl.SendTo(ctx, 1, []byte("a")); !errors.Is(err, ErrNotSupported) {
		t.Errorf("CLIENT SendTo = %v, want ErrNotSupported", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.SendTo(ctx, 1, []byte("a")); !errors.Is(err, ErrClosed) {
		t.Errorf("SendTo after Close = %v", err)
	}
}

// TestServerPeerLeaves: once a client has gone, its routing id is
// unreachable; the messages it sent before leaving still carry it.
func TestServerPeerLeaves(t *testing.T) {
	server := newSock(t, Server, Options{})
	ep := bindLocal(t, server)
	client := newSock(t, Client, Options{})
	client.Connect(ep)
	send(t, client, "one")
	send(t, client, "two")
	m := recvMsg(t, server)
	client.Close()
	if m2 := recvMsg(t, server); m2.RoutingID != m.RoutingID || m2.Text() != "two" {
		t.Errorf("second message %q from %d, want from %d", m2.Frames, m2.RoutingID, m.RoutingID)
	}
	// Until the server has seen the connection end, SendTo queues for
	// the client; from then on its id is unreachable.
	waitFor(t, "the client's id unreachable", func() bool {
		return errors.Is(server.TrySendTo(m.RoutingID, []byte("late")), ErrHostUnreachable)
	})
	if _, err := server.TryRecv(); !errors.Is(err, ErrWouldBlock) {
		t.Errorf("TryRecv = %v", err)
	}
	if n := len(server.snapshot()); n != 0 {
		t.Errorf("%d peers left", n)
	}
}

// TestSendToWaitsForItsPeerOnly: SendTo waits while its peer's queue is
// full, without holding up sends to other peers, and goes on when the
// peer reads; TrySendTo returns ErrWouldBlock instead.
func TestSendToWaitsForItsPeerOnly(t *testing.T) {
	zc := NewContext()
	ctx := testCtx(t)
	server := newIn(t, zc, Server, Options{SendHWM: HWMOf(1)})
	ep := bindAt(t, server, "inproc://s")
	slow := newIn(t, zc, Client, Options{RecvHWM: HWMOf(1)}) // the inproc queue holds 2
	fast := newIn(t, zc, Client, Options{})
	slow.Connect(ep)
	fast.Connect(ep)
	send(t, slow, "slow")
	send(t, fast, "fast")
	ids := map[string]uint32{}
	for range 2 {
		m := recvMsg(t, server)
		ids[m.Text()] = m.RoutingID
	}
	for i := range 2 {
		if err := server.TrySendTo(ids["slow"], []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := server.TrySendTo(ids["slow"], []byte("2")); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("TrySendTo a full peer = %v, want ErrWouldBlock", err)
	}
	done := make(chan error, 1)
	go func() { done <- server.SendTo(ctx, ids["slow"], []byte("2")) }()
	for i := range 100 {
		if err := server.SendTo(ctx, ids["fast"], []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		recvMsg(t, fast)
	}
	for i := range 3 {
		if got := recvMsg(t, slow).Text(); got != fmt.Sprint(i) {
			t.Errorf("slow got %q, want %d", got, i)
		}
	}
	if err := within(t, "the waiting SendTo", done); err != nil {
		t.Error(err)
	}
	// A SendTo waiting on a peer's room ends with its context.
	server.TrySendTo(ids["slow"], []byte("3"))
	server.TrySendTo(ids["slow"], []byte("4"))
	short, cancel := context.WithCancel(ctx)
	cancel()
	if err := server.SendTo(short, ids["slow"], []byte("5")); !errors.Is(err, context.Canceled) {
		t.Errorf("SendTo with an ended context = %v", err)
	}
}

// TestDraftIncompatiblePeer: a CLIENT does not talk to a DEALER's
// ROUTER, nor a SCATTER to a PULL: the Connect gives up for good.
func TestDraftIncompatiblePeer(t *testing.T) {
	for _, pair := range [][2]SocketType{{Client, Router}, {Scatter, Pull}, {Peer, Server}, {Channel, Pair}} {
		bound := newSock(t, pair[1], Options{})
		ep := bindLocal(t, bound)
		s := newSock(t, pair[0], Options{})
		s.Connect(ep)
		waitEndpointDone(t, endpointOf(t, s, ep))
		var ste *mechanism.SocketTypeError
		if err := s.Err(); !errors.As(err, &ste) {
			t.Errorf("%s to %s: Err() = %v, want a SocketTypeError", pair[0], pair[1], err)
		}
	}
}

// TestDraftConcurrentUse: the draft types are safe for concurrent use:
// many goroutines send and receive on the same sockets at once, and every
// message arrives once and is answered to its sender (run with -race).
func TestDraftConcurrentUse(t *testing.T) {
	const clients, workers, perWorker = 3, 4, 50
	ctx := testCtx(t)
	zc := NewContext()
	server := newIn(t, zc, Server, Options{})
	ep := bindAt(t, server, "tcp://127.0.0.1:*")
	// Echo with several goroutines on the server.
	stop := make(chan struct{})
	var echo sync.WaitGroup
	for range workers {
		echo.Add(1)
		go func() {
			defer echo.Done()
			for {
				m, err := server.Recv(ctx)
				if err != nil {
					select {
					case <-stop:
					default:
						t.Error(err)
					}
					return
				}
				if err := server.SendTo(ctx, m.RoutingID, m.Frames[0]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for c := range clients {
		client := newIn(t, zc, Client, Options{})
		client.Connect(ep)
		got := make(chan string, workers*perWorker)
		for w := range workers {
			wg.Add(2)
			go func() {
				defer wg.Done()
				for i := range perWorker {
					if err := client.SendString(ctx, fmt.Sprintf("%d/%d/%d", c, w, i)); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			go func() {
				defer wg.Done()
				for range perWorker {
					s, err := client.RecvString(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					got <- s
				}
			}()
		}
		t.Cleanup(func() {
			close(got)
			seen := map[string]bool{}
			for s := range got {
				var cc, w, i int
				if _, err := fmt.Sscanf(s, "%d/%d/%d", &cc, &w, &i); err != nil || cc != c || seen[s] {
					t.Errorf("client %d got %q", c, s)
				}
				seen[s] = true
			}
			if len(seen) != workers*perWorker {
				t.Errorf("client %d got %d replies, want %d", c, len(seen), workers*perWorker)
			}
		})
	}
	wg.Wait()
	close(stop)
	server.Close()
	echo.Wait()
}

// TestPeerIDSurvivesReconnect: the routing id ConnectPeer returned stays
// the peer's when the peer goes and comes back at the same endpoint, as
// libzmq's pipe outlives the connection.
func TestPeerIDSurvivesReconnect(t *testing.T) {
	ctx := testCtx(t)
	ep := "ipc://" + filepath.Join(t.TempDir(), "p")
	a := newSock(t, Peer, Options{})
	bindAt(t, a, ep)
	b := newSock(t, Peer, Options{ReconnectInterval: DurationOf(10 * time.Millisecond)})
	events := b.Monitor(EventDisconnected)
	id, err := b.ConnectPeer(ep)
	if err != nil {
		t.Fatal(err)
	}
	b.SendTo(ctx, id, []byte("first"))
	if got := recvMsg(t, a).Text(); got != "first" {
		t.Fatalf("got %q", got)
	}
	a.Close()
	// What b writes before it sees the connection end is lost with it, as
	// with libzmq; what it queues after goes to the new peer.
	expectEvent(t, events, EventDisconnected)
	a2 := newSock(t, Peer, Options{})
	bindAt(t, a2, ep)
	if err := b.SendTo(ctx, id, []byte("second")); err != nil {
		t.Fatal(err)
	}
	m := recvMsg(t, a2)
	if m.Text() != "second" {
		t.Fatalf("got %q", m.Frames)
	}
	a2.SendTo(ctx, m.RoutingID, []byte("back"))
	if m := recvMsg(t, b); m.RoutingID != id || m.Text() != "back" {
		t.Errorf("b got %q from %d, want from %d", m.Frames, m.RoutingID, id)
	}
}
