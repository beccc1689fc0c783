package zmtp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/frame"
)

// joinedBy reports how many peers of a RADIO joined group on their
// current connection.
func joinedBy(s *Socket, group string) int {
	r := s.rule.(*radioRule)
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for p, c := range r.joined[group] {
		if p.conn.Load() == c {
			n++
		}
	}
	return n
}

// waitJoined waits until n peers of radio joined group.
func waitJoined(t *testing.T, radio *Socket, group string, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d peers joined %q", n, group), func() bool { return joinedBy(radio, group) == n })
}

// recvGroup receives one message on a DISH and returns its group and body.
func recvGroup(t *testing.T, dish *Socket) (string, string) {
	t.Helper()
	m, err := dish.Recv(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Frames) != 1 {
		t.Fatalf("received %d frames, want 1", len(m.Frames))
	}
	return m.Group, string(m.Frames[0])
}

// radioDishPair makes a RADIO bound on a new endpoint of transport and a
// DISH connected to it that joined groups, and waits until the RADIO
// knows the joins.
func radioDishPair(t *testing.T, transport string, groups ...string) (radio, dish *Socket) {
	t.Helper()
	var zc Context
	radio, dish = newSock(t, Radio, Options{}), newSock(t, Dish, Options{})
	var ep string
	switch transport {
	case "tcp":
		ep = bindLocal(t, radio)
	case "ipc":
		ep = "ipc://" + filepath.Join(t.TempDir(), "radio")
	case "inproc":
		radio, dish = newInprocSock(t, &zc, Radio), newInprocSock(t, &zc, Dish)
		ep = "inproc://radio"
	}
	if transport != "tcp" {
		if err := radio.Bind(ep); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range groups {
		if err := dish.Join(g); err != nil {
			t.Fatal(err)
		}
	}
	if err := dish.Connect(ep); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		waitJoined(t, radio, g, 1)
	}
	return radio, dish
}

func newInprocSock(t *testing.T, zc *Context, typ SocketType) *Socket {
	t.Helper()
	s, err := zc.NewSocket(typ, Options{Linger: NoLinger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRadioDishGroups(t *testing.T) {
	for _, transport := range []string{"tcp", "ipc", "inproc"} {
		t.Run(transport, func(t *testing.T) {
			ctx := testCtx(t)
			radio, dish := radioDishPair(t, transport, "weather", "news")
			for _, m := range []struct{ group, body string }{
				{"weather", "sunny"}, {"sports", "not joined"}, {"news", "hello"}, {"", "empty group"}, {"weather", "rain"},
			} {
				if err := radio.SendGroup(ctx, m.group, []byte(m.body)); err != nil {
					t.Fatal(err)
				}
			}
			for _, want := range [][2]string{{"weather", "sunny"}, {"news", "hello"}, {"weather", "rain"}} {
				if g, b := recvGroup(t, dish); g != want[0] || b != want[1] {
					t.Fatalf("received %q %q, want %q %q", g, b, want[0], want[1])
				}
			}
			// Leave: the RADIO forgets the group; a join made after the
			// connection reaches the RADIO too.
			if err := dish.Leave("weather"); err != nil {
				t.Fatal(err)
			}
			if err := dish.Join("late"); err != nil {
				t.Fatal(err)
			}
			waitJoined(t, radio, "weather", 0)
			waitJoined(t, radio, "late", 1)
			if st, dt := radio.Stats(), dish.Stats(); st.Topics != 2 || st.TopicBytes != len("newslate") || dt.Topics != 2 {
				t.Fatalf("Stats: RADIO %+v, DISH %+v; want the groups news and late", st, dt)
			}
			radio.SendGroup(ctx, "weather", []byte("left"))
			radio.SendGroup(ctx, "late", []byte("joined late"))
			if g, b := recvGroup(t, dish); g != "late" || b != "joined late" {
				t.Fatalf("received %q %q after Leave", g, b)
			}
			// Send on a RADIO sends one frame with the empty group.
			if err := dish.Join(""); err != nil {
				t.Fatal(err)
			}
			waitJoined(t, radio, "", 1)
			if err := radio.Send(ctx, [][]byte{[]byte("no group")}); err != nil {
				t.Fatal(err)
			}
			if g, b := recvGroup(t, dish); g != "" || b != "no group" {
				t.Fatalf("received %q %q", g, b)
			}
		})
	}
}

// A DISH filters what it receives by its joins itself: a message of a
// group left after the RADIO queued it is not received.
func TestDishFiltersQueued(t *testing.T) {
	ctx := testCtx(t)
	radio, dish := radioDishPair(t, "inproc", "a", "b")
	radio.SendGroup(ctx, "a", []byte("1"))
	radio.SendGroup(ctx, "b", []byte("2"))
	if err := dish.Leave("a"); err != nil {
		t.Fatal(err)
	}
	if g, b := recvGroup(t, dish); g != "b" || b != "2" {
		t.Fatalf("received %q %q, want b 2", g, b)
	}
	if _, err := dish.TryRecv(); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("TryRecv = %v, want ErrWouldBlock", err)
	}
}

func TestRadioDishAPIErrors(t *testing.T) {
	ctx := testCtx(t)
	radio, dish := newSock(t, Radio, Options{}), newSock(t, Dish, Options{})
	long := strings.Repeat("g", frame.MaxGroupSize+1)
	for name, err := range map[string]error{
		"Join 256 octets":      dish.Join(long),
		"Join zero octet":      dish.Join("a\x00b"),
		"Leave not joined":     dish.Leave("never"),
		"SendGroup 256 octets": radio.SendGroup(ctx, long, nil),
	} {
		if !errors.Is(err, ErrInvalidGroup) {
			t.Errorf("%s: %v, want ErrInvalidGroup", name, err)
		}
	}
	if err := dish.Join(strings.Repeat("g", frame.MaxGroupSize)); err != nil {
		t.Errorf("Join 255 octets: %v", err)
	}
	if err := dish.Join("twice"); err != nil {
		t.Fatal(err)
	}
	if err := dish.Join("twice"); !errors.Is(err, ErrInvalidGroup) {
		t.Errorf("second Join: %v, want ErrInvalidGroup", err)
	}
	if err := radio.Send(ctx, [][]byte{[]byte("a"), []byte("b")}); !errors.Is(err, ErrMultipart) {
		t.Errorf("multipart Send on RADIO: %v, want ErrMultipart", err)
	}
	for name, err := range map[string]error{
		"Send on DISH":      dish.Send(ctx, [][]byte{[]byte("x")}),
		"SendGroup on DISH": dish.SendGroup(ctx, "g", nil),
		"Join on RADIO":     radio.Join("g"),
		"Subscribe on DISH": dish.Subscribe(nil),
	} {
		if !errors.Is(err, ErrNotSupported) {
			t.Errorf("%s: %v, want ErrNotSupported", name, err)
		}
	}
	if _, err := radio.TryRecv(); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Recv on RADIO: %v", err)
	}
	pub := newSock(t, Pub, Options{})
	if err := pub.Join("g"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Join on PUB: %v", err)
	}
}

// rawPeer connects a standalone Conn of socket type typ to ep and returns
// it with the commands it receives.
func rawPeer(t *testing.T, ep, typ string) (*Conn, <-chan frame.Command) {
	t.Helper()
	return rawPeerWith(t, ep, ConnConfig{SocketType: typ})
}

// rawPeerWith is rawPeer with a configuration of the connection.
func rawPeerWith(t *testing.T, ep string, cfg ConnConfig) (*Conn, <-chan frame.Command) {
	t.Helper()
	cmds := make(chan frame.Command, 64)
	nc, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnCommand = func(cmd frame.Command) {
		cmds <- frame.Command{Name: cmd.Name, Data: bytes.Clone(cmd.Data)}
	}
	c, err := NewConn(testCtx(t), nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, cmds
}

// On the wire a RADIO sends the group frame and the body, only to DISHes
// that joined the group; a DISH sends JOIN and LEAVE commands.
func TestRadioDishWire(t *testing.T) {
	ctx := testCtx(t)
	radio := newSock(t, Radio, Options{})
	ep := bindLocal(t, radio)
	c, _ := rawPeer(t, ep, "DISH")
	if err := c.SendCommand(ctx, frame.Command{Name: frame.CmdJoin, Data: []byte("g1")}); err != nil {
		t.Fatal(err)
	}
	waitJoined(t, radio, "g1", 1)
	radio.SendGroup(ctx, "other", []byte("filtered"))
	radio.SendGroup(ctx, "g1", []byte("body"))
	m, err := c.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || string(m[0]) != "g1" || string(m[1]) != "body" {
		t.Fatalf("RADIO sent %q, want [g1 body]", m)
	}
	// A message from the DISH is dropped; the RADIO goes on.
	c.Send(ctx, [][]byte{[]byte("ignored")})
	c.SendCommand(ctx, frame.Command{Name: frame.CmdLeave, Data: []byte("g1")})
	waitJoined(t, radio, "g1", 0)

	dish := newSock(t, Dish, Options{})
	dep := bindLocal(t, dish)
	dish.Join("a")
	r, cmds := rawPeer(t, dep, "RADIO")
	if cmd := <-cmds; cmd.Name != frame.CmdJoin || string(cmd.Data) != "a" {
		t.Fatalf("DISH sent %s %q, want JOIN a", cmd.Name, cmd.Data)
	}
	dish.Join("b")
	dish.Leave("a")
	for _, want := range []frame.Command{{Name: frame.CmdJoin, Data: []byte("b")}, {Name: frame.CmdLeave, Data: []byte("a")}} {
		if cmd := <-cmds; cmd.Name != want.Name || !bytes.Equal(cmd.Data, want.Data) {
			t.Fatalf("DISH sent %s %q, want %s %q", cmd.Name, cmd.Data, want.Name, want.Data)
		}
	}
	// The DISH filters: a RADIO that sends every group reaches only the
	// joined ones.
	r.Send(ctx, [][]byte{[]byte("a"), []byte("left")})
	r.Send(ctx, [][]byte{[]byte("b"), []byte("kept")})
	if g, b := recvGroup(t, dish); g != "b" || b != "kept" {
		t.Fatalf("DISH received %q %q", g, b)
	}
}

// Hostile peers: a message that is not a group and a body, a group frame
// beyond 255 octets, a JOIN with a bad group. Each ends that connection
// with a protocol error; a good peer beside it keeps receiving.
func TestRadioDishHostile(t *testing.T) {
	long := bytes.Repeat([]byte{'g'}, frame.MaxGroupSize+1)
	for _, tt := range []struct {
		name string
		peer string // the raw peer's type, facing ours of the other type
		act  func(ctx context.Context, c *Conn)
		want error
	}{
		{"three frames", "RADIO", func(ctx context.Context, c *Conn) {
			c.Send(ctx, [][]byte{[]byte("g"), []byte("a"), []byte("b")})
		}, frame.ErrGroupMessage},
		{"one frame", "RADIO", func(ctx context.Context, c *Conn) { c.Send(ctx, [][]byte{[]byte("g")}) }, frame.ErrGroupMessage},
		{"256-octet group frame", "RADIO", func(ctx context.Context, c *Conn) { c.Send(ctx, [][]byte{long, []byte("b")}) }, frame.ErrMalformedGroup},
		{"zero octet in group frame", "RADIO", func(ctx context.Context, c *Conn) {
			c.Send(ctx, [][]byte{[]byte("g\x00"), []byte("b")})
		}, frame.ErrMalformedGroup},
		{"JOIN 256 octets", "DISH", func(ctx context.Context, c *Conn) {
			c.SendCommand(ctx, frame.Command{Name: frame.CmdJoin, Data: long})
		}, frame.ErrMalformedCommand},
		{"LEAVE with zero octet", "DISH", func(ctx context.Context, c *Conn) {
			c.SendCommand(ctx, frame.Command{Name: frame.CmdLeave, Data: []byte{'a', 0}})
		}, frame.ErrMalformedCommand},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			ours := newSock(t, Dish, Options{})
			if tt.peer == "DISH" {
				ours = newSock(t, Radio, Options{})
			}
			events := ours.Monitor(EventDisconnected)
			ep := bindLocal(t, ours)
			good, _ := rawPeer(t, ep, tt.peer)
			bad, _ := rawPeer(t, ep, tt.peer)
			if tt.peer == "RADIO" {
				ours.Join("g")
			} else {
				good.SendCommand(ctx, frame.Command{Name: frame.CmdJoin, Data: []byte("g")})
				waitJoined(t, ours, "g", 1)
			}
			tt.act(ctx, bad)
			ev := expectEvent(t, events, EventDisconnected)
			if !errors.Is(ev.Err, tt.want) || !errors.Is(ev.Err, frame.ErrProtocol) {
				t.Fatalf("connection ended with %v, want %v", ev.Err, tt.want)
			}
			select {
			case <-bad.Done():
			case <-deadline(t):
				t.Fatal("the hostile peer's connection stayed open")
			}
			// The good peer goes on.
			if tt.peer == "RADIO" {
				good.Send(ctx, [][]byte{[]byte("g"), []byte("still here")})
				if g, b := recvGroup(t, ours); g != "g" || b != "still here" {
					t.Fatalf("received %q %q", g, b)
				}
			} else {
				ours.SendGroup(ctx, "g", []byte("still here"))
				m, err := good.Recv(ctx)
				if err != nil || len(m) != 2 || string(m[1]) != "still here" {
					t.Fatalf("good peer received %q, %v", m, err)
				}
			}
		})
	}
}

// RADIO and DISH are safe for concurrent use: several goroutines send,
// join and receive at once; every message of a joined group arrives once.
func TestRadioDishConcurrent(t *testing.T) {
	ctx := testCtx(t)
	radio, dish := radioDishPair(t, "tcp", "g")
	const senders, each = 4, 200
	radio.SetOptions(func(o *Options) { o.XPubNoDrop = true })
	var wg sync.WaitGroup
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range each {
				if err := radio.SendGroup(ctx, "g", []byte(fmt.Sprint(i, "-", k))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// Joins and leaves of other groups meanwhile change nothing for g.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := range 50 {
			g := fmt.Sprint("other", k)
			dish.Join(g)
			dish.Leave(g)
		}
	}()
	seen := make(map[string]bool)
	var mu sync.Mutex
	var rg sync.WaitGroup
	rctx, done := context.WithCancel(ctx)
	defer done()
	for range 2 {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for {
				m, err := dish.Recv(rctx)
				if rctx.Err() != nil {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[string(m.Frames[0])] || m.Group != "g" {
					t.Errorf("duplicate or wrong group: %q %q", m.Group, m.Frames[0])
				}
				seen[string(m.Frames[0])] = true
				if len(seen) == senders*each {
					done()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	rg.Wait()
}

// A ZMTP 3.0 peer gets JOIN and LEAVE as commands too, as libzmq sends
// them (it has no message form for them), and a 3.0 DISH's JOIN counts.
func TestRadioDishZMTP30(t *testing.T) {
	ctx := testCtx(t)
	dish := newSock(t, Dish, Options{})
	dish.Join("a")
	r, cmds := rawPeerWith(t, bindLocal(t, dish), ConnConfig{SocketType: "RADIO", ZMTP30: true})
	if cmd := <-cmds; cmd.Name != frame.CmdJoin || string(cmd.Data) != "a" {
		t.Fatalf("DISH sent %s %q to a ZMTP 3.0 RADIO, want JOIN a", cmd.Name, cmd.Data)
	}
	r.Send(ctx, [][]byte{[]byte("a"), []byte("from 3.0")})
	if g, b := recvGroup(t, dish); g != "a" || b != "from 3.0" {
		t.Fatalf("received %q %q", g, b)
	}

	radio := newSock(t, Radio, Options{})
	d, _ := rawPeerWith(t, bindLocal(t, radio), ConnConfig{SocketType: "DISH", ZMTP30: true})
	d.SendCommand(ctx, frame.Command{Name: frame.CmdJoin, Data: []byte("b")})
	waitJoined(t, radio, "b", 1)
	radio.SendGroup(ctx, "b", []byte("to 3.0"))
	if m, err := d.Recv(ctx); err != nil || len(m) != 2 || string(m[0]) != "b" || string(m[1]) != "to 3.0" {
		t.Fatalf("ZMTP 3.0 DISH received %q, %v", m, err)
	}
}

// RecvInto on a DISH fills the group too.
func TestDishRecvInto(t *testing.T) {
	ctx := testCtx(t)
	radio, dish := radioDishPair(t, "inproc", "g")
	radio.SendGroup(ctx, "g", []byte("one"))
	var m Message
	if err := dish.RecvInto(ctx, &m); err != nil {
		t.Fatal(err)
	}
	if m.Group != "g" || len(m.Frames) != 1 || string(m.Frames[0]) != "one" {
		t.Fatalf("RecvInto: %q %q", m.Group, m.Frames)
	}
}

// A RADIO that connects forgets a DISH's joins with its connection: what
// it sends while the DISH is away is not queued for it, and on the next
// connection only the joins sent again count.
func TestRadioForgetsJoinsOnReconnect(t *testing.T) {
	ctx := testCtx(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accept := func() *Conn {
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewConn(ctx, nc, ConnConfig{SocketType: "DISH"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	radio := newSock(t, Radio, Options{ReconnectInterval: DurationOf(time.Millisecond)})
	if err := radio.Connect("tcp://" + ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	first := accept()
	first.SendCommand(ctx, frame.Command{Name: frame.CmdJoin, Data: []byte("g")})
	waitJoined(t, radio, "g", 1)
	first.Close()
	waitFor(t, "the RADIO to see the connection end", func() bool {
		for _, p := range radio.snapshot() {
			if p.conn.Load() != nil {
				return false
			}
		}
		return true
	})
	radio.SendGroup(ctx, "g", []byte("while away"))
	second := accept()
	waitPipes(t, radio, 1)
	if n := joinedBy(radio, "g"); n != 0 {
		t.Fatalf("the old connection's join still counts (%d)", n)
	}
	second.SendCommand(ctx, frame.Command{Name: frame.CmdJoin, Data: []byte("g")})
	waitJoined(t, radio, "g", 1)
	radio.SendGroup(ctx, "g", []byte("marker"))
	m, err := second.Recv(ctx)
	if err != nil || string(m[1]) != "marker" {
		t.Fatalf("first message on the new connection: %q, %v", m, err)
	}
}

// A Poller sees a DISH readable only for a message of a joined group.
func TestDishPoll(t *testing.T) {
	ctx := testCtx(t)
	radio, dish := radioDishPair(t, "inproc", "g")
	p := NewPoller()
	defer p.Close()
	p.Add(dish, PollIn)
	radio.SendGroup(ctx, "x", []byte("not joined"))
	if got, err := p.Poll(0); err != nil || len(got) != 0 {
		t.Fatalf("Poll after an unjoined group's message: %v, %v", got, err)
	}
	radio.SendGroup(ctx, "g", []byte("joined"))
	got, err := p.Wait(ctx)
	if err != nil || len(got) != 1 || got[0].Socket != dish {
		t.Fatalf("Wait: %v, %v", got, err)
	}
	if m, err := dish.TryRecv(); err != nil || m.Group != "g" {
		t.Fatalf("TryRecv: %+v, %v", m, err)
	}
}

// A Proxy from a DISH to a RADIO keeps each message's group.
func TestProxyDishRadio(t *testing.T) {
	ctx := testCtx(t)
	var zc Context
	upstream, front := newInprocSock(t, &zc, Radio), newInprocSock(t, &zc, Dish)
	back, downstream := newInprocSock(t, &zc, Radio), newInprocSock(t, &zc, Dish)
	upstream.Bind("inproc://up")
	back.Bind("inproc://down")
	front.Join("a")
	front.Join("b")
	front.Connect("inproc://up")
	downstream.Join("b")
	downstream.Connect("inproc://down")
	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- (&Proxy{Frontend: front, Backend: back}).Run(pctx) }()
	defer func() {
		stop()
		<-done
	}()
	upstream.SendGroup(ctx, "a", []byte("for a"))
	upstream.SendGroup(ctx, "b", []byte("for b"))
	if g, b := recvGroup(t, downstream); g != "b" || b != "for b" {
		t.Fatalf("through the proxy: %q %q", g, b)
	}
}
