package zmtp

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/mechanism"
)

// events returns what p reports for s right now.
func events(p *Poller, s *Socket) Events {
	ready, _ := p.Poll(0)
	for _, r := range ready {
		if r.Socket == s {
			return r.Events
		}
	}
	return 0
}

// The Guide's mspoller: a PULL of tasks and a SUB of weather updates read
// in one poll loop. Every message sent is received once, in order per
// socket, and none is left behind by the polls in between.
func TestPollerMsPoller(t *testing.T) {
	ctx := testCtx(t)
	vent := newSock(t, Push, Options{})
	pub := newSock(t, Pub, Options{})
	receiver := newSock(t, Pull, Options{})
	subscriber := newSock(t, Sub, Options{})
	receiver.Connect(bindLocal(t, vent))
	subscriber.Subscribe([]byte("10001 "))
	subscriber.Connect(bindLocal(t, pub))
	waitFor(t, "the subscription at the publisher", func() bool { return pub.Stats().Topics == 1 })

	const n = 200
	go func() {
		for i := range n {
			vent.SendString(ctx, fmt.Sprint("task ", i))
			pub.SendString(ctx, fmt.Sprint("10001 ", i))
			pub.SendString(ctx, fmt.Sprint("99999 ", i)) // not subscribed
		}
	}()

	poller := NewPoller()
	defer poller.Close()
	poller.Add(receiver, PollIn)
	poller.Add(subscriber, PollIn)
	tasks, updates := 0, 0
	for tasks < n || updates < n {
		ready, err := poller.Wait(ctx)
		if err != nil {
			t.Fatalf("Wait after %d tasks, %d updates: %v", tasks, updates, err)
		}
		for _, r := range ready {
			if r.Events != PollIn {
				t.Fatalf("events %v, want PollIn", r.Events)
			}
			switch r.Socket {
			case receiver:
				m, err := receiver.TryRecvString()
				if want := fmt.Sprint("task ", tasks); err != nil || m != want {
					t.Fatalf("task: %q, %v; want %q", m, err, want)
				}
				tasks++
			case subscriber:
				m, err := subscriber.TryRecvString()
				if want := fmt.Sprint("10001 ", updates); err != nil || m != want {
					t.Fatalf("update: %q, %v; want %q", m, err, want)
				}
				updates++
			}
		}
	}
	if ready, _ := poller.Poll(0); len(ready) != 0 {
		t.Errorf("after everything was received, Poll(0) = %v", ready)
	}
}

// A poll that is cancelled or times out takes nothing: every message is
// still there for Recv afterwards.
func TestPollerStrandsNothing(t *testing.T) {
	ctx := testCtx(t)
	zc := NewContext()
	push, _ := zc.NewSocket(Push, Options{Linger: NoLinger})
	defer push.Close()
	pull, _ := zc.NewSocket(Pull, Options{Linger: NoLinger})
	defer pull.Close()
	push.Bind("inproc://strand")
	pull.Connect("inproc://strand")

	var p Poller // the zero value works
	defer p.Close()
	p.Add(pull, PollIn)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Wait(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with nothing ready and a cancelled context: %v", err)
	}
	if ready, err := p.Poll(time.Millisecond); len(ready) != 0 || err != nil {
		t.Fatalf("Poll with nothing ready: %v, %v", ready, err)
	}
	for i := range 3 {
		push.SendString(ctx, fmt.Sprint(i))
	}
	for range 5 {
		ready, err := p.Wait(ctx)
		if err != nil || len(ready) != 1 || ready[0].Socket != pull {
			t.Fatalf("Wait: %v, %v", ready, err)
		}
		p.Poll(time.Millisecond)
		p.Wait(cancelled)
		<-p.Ready()
	}
	for i := range 3 {
		if m, err := pull.RecvString(ctx); err != nil || m != fmt.Sprint(i) {
			t.Fatalf("message %d: %q, %v", i, m, err)
		}
	}
	if _, err := pull.TryRecv(); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("TryRecv on an empty socket: %v", err)
	}
}

// The Guide's Lazy Pirate client: a REQ polled with a timeout; when no
// reply comes, the socket is closed, a new one opened, and the request
// sent again. Here the server ignores the first request, so the first poll
// must time out and the retry must be answered.
func TestPollerLazyPirate(t *testing.T) {
	ctx := testCtx(t)
	server := newSock(t, Router, Options{})
	ep := bindLocal(t, server)
	served := make(chan error, 1)
	go func() {
		_, err := server.Recv(ctx) // lost: never answered
		if err == nil {
			var m Message
			if m, err = server.Recv(ctx); err == nil {
				err = server.Send(ctx, m.Frames)
			}
		}
		served <- err
	}()

	poller := NewPoller()
	defer poller.Close()
	client := newSock(t, Req, Options{})
	client.Connect(ep)
	poller.Add(client, PollIn)
	client.SendString(ctx, "1")
	timeout := 50 * time.Millisecond // the server never answers the first
	retries := 0
	for {
		ready, err := poller.Poll(timeout)
		if err != nil {
			t.Fatal(err)
		}
		if len(ready) > 0 {
			reply, err := client.TryRecvString()
			if err != nil || reply != "1" {
				t.Fatalf("reply: %q, %v", reply, err)
			}
			break
		}
		if retries++; retries > 1 {
			t.Fatal("the retry was not answered")
		}
		poller.Remove(client)
		client.Close()
		client = newSock(t, Req, Options{})
		client.Connect(ep)
		poller.Add(client, PollIn)
		client.SendString(ctx, "1")
		timeout = waitTimeout
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// REQ and REP are ready only for what their state allows, as libzmq's
// ZMQ_POLLIN and ZMQ_POLLOUT.
func TestPollerReqRepStates(t *testing.T) {
	ctx := testCtx(t)
	rep := newSock(t, Rep, Options{})
	req := newSock(t, Req, Options{})
	req.Connect(bindLocal(t, rep))
	p := NewPoller()
	defer p.Close()
	p.Add(req, PollIn|PollOut)
	p.Add(rep, PollIn|PollOut)

	if ready, err := p.Wait(ctx); err != nil || len(ready) != 1 || ready[0].Socket != req || ready[0].Events != PollOut {
		t.Fatalf("before any request: %v, %v; want the REQ writable", ready, err)
	}
	req.SendString(ctx, "ask")
	if ev := events(p, req); ev != 0 {
		t.Fatalf("REQ waiting for its reply: %v, want nothing", ev)
	}
	if ready, err := p.Wait(ctx); err != nil || len(ready) != 1 || ready[0].Socket != rep || ready[0].Events != PollIn {
		t.Fatalf("with a request at the REP: %v, %v; want it readable only", ready, err)
	}
	if m, err := rep.TryRecvString(); err != nil || m != "ask" {
		t.Fatalf("REP TryRecv: %q, %v", m, err)
	}
	if ev := events(p, rep); ev != PollOut {
		t.Fatalf("REP holding a request: %v, want PollOut", ev)
	}
	rep.TrySendString("answer")
	if ready, err := p.Wait(ctx); err != nil || len(ready) != 1 || ready[0].Socket != req || ready[0].Events != PollIn {
		t.Fatalf("with the reply at the REQ: %v, %v", ready, err)
	}
	if m, err := req.TryRecvString(); err != nil || m != "answer" {
		t.Fatalf("REQ TryRecv: %q, %v", m, err)
	}
	if ev := events(p, req); ev != PollOut {
		t.Fatalf("REQ after its reply: %v, want PollOut", ev)
	}
	if ev := events(p, rep); ev != 0 {
		t.Fatalf("REP after its reply: %v, want nothing", ev)
	}
}

// A SUB is readable only with a message that matches its subscriptions:
// one queued before an Unsubscribe no longer counts (and is dropped, as
// Recv drops it).
func TestPollerSubMatchesOnly(t *testing.T) {
	ctx := testCtx(t)
	zc := NewContext()
	pub, _ := zc.NewSocket(Pub, Options{Linger: NoLinger})
	defer pub.Close()
	sub, _ := zc.NewSocket(Sub, Options{Linger: NoLinger})
	defer sub.Close()
	pub.Bind("inproc://sub-match")
	sub.Connect("inproc://sub-match")
	sub.Subscribe([]byte("a"))
	p := NewPoller()
	defer p.Close()
	p.Add(sub, PollIn|PollOut)
	pub.SendString(ctx, "a1")
	if ready, err := p.Wait(ctx); err != nil || len(ready) != 1 || ready[0].Events != PollIn {
		t.Fatalf("Wait: %v, %v; want the SUB readable (and never writable)", ready, err)
	}
	sub.Unsubscribe([]byte("a"))
	if ev := events(p, sub); ev != 0 {
		t.Fatalf("with only an unsubscribed message queued: %v", ev)
	}
	if _, err := sub.TryRecv(); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("TryRecv: %v", err)
	}
}

// A PUSH at its high-water mark is not writable; it becomes writable, and
// a waiting poll returns, when the peer takes a message.
func TestPollerWritableAtHWM(t *testing.T) {
	ctx := testCtx(t)
	zc := NewContext()
	push, _ := zc.NewSocket(Push, Options{Linger: NoLinger, SendHWM: HWMOf(1), RecvHWM: HWMOf(1)})
	defer push.Close()
	pull, _ := zc.NewSocket(Pull, Options{Linger: NoLinger, SendHWM: HWMOf(1), RecvHWM: HWMOf(1)})
	defer pull.Close()
	p := NewPoller()
	defer p.Close()
	p.Add(push, PollOut)
	if ev := events(p, push); ev != 0 {
		t.Fatalf("PUSH with no peer: %v", ev)
	}
	push.Bind("inproc://hwm")
	pull.Connect("inproc://hwm")
	sent := 0
	for {
		ready, err := p.Poll(0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ready) == 0 {
			break
		}
		if err := push.TrySendString("x"); err != nil {
			t.Fatalf("TrySend on a writable PUSH: %v", err)
		}
		sent++
	}
	if sent != 2 {
		t.Fatalf("writable for %d messages, want 2 (both high-water marks)", sent)
	}
	woke := make(chan error, 1)
	go func() {
		ready, err := p.Wait(ctx)
		if err == nil && (len(ready) != 1 || ready[0].Events != PollOut) {
			err = fmt.Errorf("Wait returned %v", ready)
		}
		woke <- err
	}()
	if _, err := pull.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-woke; err != nil {
		t.Fatal(err)
	}
}

// A socket whose only Connect gave up for good wakes a waiting poll; the
// Try call then says why.
func TestPollerWokenByFailure(t *testing.T) {
	ctx := testCtx(t)
	push := newSock(t, Push, Options{})
	ep := bindLocal(t, push)
	sub := newSock(t, Sub, Options{}) // SUB and PUSH do not go together
	p := NewPoller()
	defer p.Close()
	p.Add(sub, PollIn)
	woke := make(chan error, 1)
	go func() {
		ready, err := p.Wait(ctx)
		if err == nil && len(ready) != 1 {
			err = fmt.Errorf("Wait returned %v", ready)
		}
		woke <- err
	}()
	sub.Connect(ep)
	if err := <-woke; err != nil {
		t.Fatal(err)
	}
	_, err := sub.TryRecv()
	var ste *mechanism.SocketTypeError
	if !errors.As(err, &ste) {
		t.Fatalf("TryRecv: %v, want the SocketTypeError", err)
	}
}

// Closing a socket wakes a poll waiting on it; TryRecv returns ErrClosed.
func TestPollerWokenByClose(t *testing.T) {
	ctx := testCtx(t)
	pull := newSock(t, Pull, Options{})
	other := newSock(t, Dealer, Options{})
	p := NewPoller()
	defer p.Close()
	p.Add(other, PollIn)
	p.Add(pull, PollIn)
	woke := make(chan error, 1)
	go func() {
		ready, err := p.Wait(ctx)
		if err == nil && (len(ready) != 1 || ready[0].Socket != pull) {
			err = fmt.Errorf("Wait returned %v", ready)
		}
		woke <- err
	}()
	pull.Close()
	if err := <-woke; err != nil {
		t.Fatal(err)
	}
	if _, err := pull.TryRecv(); !errors.Is(err, ErrClosed) {
		t.Fatalf("TryRecv: %v", err)
	}
}

// Ready fits a poll into a select: it fires for a message that is already
// there and for one that comes later, beside another channel.
func TestPollerReadyInSelect(t *testing.T) {
	ctx := testCtx(t)
	zc := NewContext()
	dealer, _ := zc.NewSocket(Dealer, Options{Linger: NoLinger})
	defer dealer.Close()
	router, _ := zc.NewSocket(Router, Options{Linger: NoLinger})
	defer router.Close()
	router.Bind("inproc://select")
	dealer.Connect("inproc://select")
	p := NewPoller()
	defer p.Close()
	p.Add(router, PollIn)

	jobs := make(chan string)
	go func() {
		jobs <- "job"
		dealer.SendString(ctx, "late")
	}()
	var got []string
	for len(got) < 3 {
		select {
		case j := <-jobs:
			got = append(got, j)
			dealer.SendString(ctx, "early") // there before the next Ready
		case <-p.Ready():
			ready, _ := p.Poll(0)
			for range ready {
				m, err := router.TryRecv()
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(m.Frames[1]))
			}
		case <-ctx.Done():
			t.Fatalf("got only %q", got)
		}
	}
	if fmt.Sprint(got) != "[job early late]" && fmt.Sprint(got) != "[job late early]" {
		t.Fatalf("got %q", got)
	}
}

// Removing a socket stops reporting it; a Poller with no sockets waits
// until its context ends.
func TestPollerRemove(t *testing.T) {
	ctx := testCtx(t)
	pub := newSock(t, Pub, Options{})
	p := NewPoller()
	p.Add(pub, PollOut)
	if ev := events(p, pub); ev != PollOut {
		t.Fatalf("PUB: %v, want always writable", ev)
	}
	p.Add(pub, 0)
	if ready, _ := p.Poll(0); len(ready) != 0 {
		t.Fatalf("after removal: %v", ready)
	}
	if pub.watch.list.Load() != nil {
		t.Fatal("the socket still wakes the Poller")
	}
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if _, err := p.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on nothing: %v", err)
	}
}

// The cost of a poll: a message sent, the poll that reports it, and its
// TryRecv; and a poll that finds one socket of ten ready.
func BenchmarkPoll(b *testing.B) {
	zc := NewContext()
	ctx := context.Background()
	push, _ := zc.NewSocket(Push, Options{Linger: NoLinger})
	defer push.Close()
	push.Bind("inproc://bench")
	p := NewPoller()
	defer p.Close()
	var socks []*Socket
	for range 10 {
		s, _ := zc.NewSocket(Pull, Options{Linger: NoLinger})
		defer s.Close()
		s.Connect("inproc://bench")
		p.Add(s, PollIn)
		socks = append(socks, s)
	}
	msg := [][]byte{[]byte("x")}
	b.Run("send-wait-recv", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			push.Send(ctx, msg)
			ready, err := p.Wait(ctx)
			if err != nil || len(ready) != 1 {
				b.Fatal(ready, err)
			}
			if _, err := ready[0].Socket.TryRecv(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("one-of-ten-ready", func(b *testing.B) {
		push.Send(ctx, msg)
		b.ReportAllocs()
		for b.Loop() {
			if ready, err := p.Wait(ctx); err != nil || len(ready) != 1 {
				b.Fatal(ready, err)
			}
		}
		ready, _ := p.Poll(0)
		ready[0].Socket.TryRecv() // for the next run
	})
}

// What each socket type reports with a peer and nothing queued, and once
// the peer has sent something, as libzmq's ZMQ_EVENTS.
func TestPollerSocketTypes(t *testing.T) {
	for _, c := range []struct {
		typ, peer      SocketType
		opts           Options
		idle, received Events // with nothing queued; with a message from the peer
	}{
		{Push, Pull, Options{}, PollOut, PollOut},
		{Pull, Push, Options{}, 0, PollIn},
		{Dealer, Router, Options{}, PollOut, PollIn | PollOut},
		{Pair, Pair, Options{}, PollOut, PollIn | PollOut},
		{Router, Dealer, Options{}, PollOut, PollIn | PollOut},
		{Router, Dealer, Options{RouterMandatory: true}, PollOut, PollIn | PollOut},
		{Pub, Sub, Options{}, PollOut, PollOut},
		{XPub, Sub, Options{}, PollOut, PollIn | PollOut}, // the subscription
		{XSub, Pub, Options{}, PollOut, PollIn | PollOut},
		{Sub, Pub, Options{}, 0, PollIn},
	} {
		t.Run(fmt.Sprintf("%s-%s-%v", c.typ, c.peer, c.opts.RouterMandatory), func(t *testing.T) {
			ctx := testCtx(t)
			zc := NewContext()
			c.opts.Linger = NoLinger
			c.opts.RoutingID = []byte("id")
			s, _ := zc.NewSocket(c.typ, c.opts)
			defer s.Close()
			peer, _ := zc.NewSocket(c.peer, Options{Linger: NoLinger})
			defer peer.Close()
			p := NewPoller()
			defer p.Close()
			p.Add(s, PollIn|PollOut)
			if c.typ == Router && c.opts.RouterMandatory {
				if ev := events(p, s); ev != 0 {
					t.Fatalf("mandatory ROUTER with no peer: %v", ev)
				}
			}
			s.Bind("inproc://t")
			peer.Connect("inproc://t")
			waitFor(t, "the peer", func() bool { return len(s.snapshot()) == 1 })
			if ev := events(p, s); ev != c.idle {
				t.Fatalf("idle: %v, want %v", ev, c.idle)
			}
			switch c.peer {
			case Sub:
				if c.typ == XPub {
					peer.Subscribe([]byte("t"))
				}
			case Pull, Pub:
				if c.typ == Sub {
					s.Subscribe(nil)
				} else if c.typ == XSub {
					s.TrySend([][]byte{{1}}) // a subscription to everything
				}
				if c.peer == Pub {
					waitFor(t, "the subscription", func() bool { return peer.Stats().Topics == 1 })
				}
				peer.TrySendString("m")
			case Router:
				peer.SendString(ctx, "id", "m")
			default:
				peer.SendString(ctx, "m")
			}
			if c.received&PollIn != 0 {
				in := NewPoller()
				defer in.Close()
				in.Add(s, PollIn)
				if _, err := in.Wait(ctx); err != nil {
					t.Fatal(err)
				}
				if ev := events(p, s); ev != c.received {
					t.Fatalf("with a message: %v; want %v", ev, c.received)
				}
				if _, err := s.TryRecv(); err != nil {
					t.Fatalf("TryRecv: %v", err)
				}
			} else if ev := events(p, s); ev != c.received {
				t.Fatalf("after the peer sent: %v, want %v", ev, c.received)
			}
		})
	}
}

// Waits cancelled at every point of a stream of messages lose none of
// them: the loop that mostly times out still receives all, in order.
func TestPollerCancelledWaitsLoseNothing(t *testing.T) {
	ctx := testCtx(t)
	push := newSock(t, Push, Options{})
	pull := newSock(t, Pull, Options{})
	pull.Connect(bindLocal(t, push))
	const n = 2000
	go func() {
		for i := range n {
			push.SendString(ctx, fmt.Sprint(i))
		}
	}()
	p := NewPoller()
	defer p.Close()
	p.Add(pull, PollIn)
	for got, i := 0, 0; got < n; i++ {
		short, cancel := context.WithTimeout(ctx, time.Duration(i%50)*time.Microsecond)
		ready, err := p.Wait(short)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("received %d of %d", got, n)
			}
			continue
		}
		if len(ready) != 1 {
			t.Fatalf("Wait: %v", ready)
		}
		m, err := pull.TryRecvString()
		if err != nil || m != fmt.Sprint(got) {
			t.Fatalf("message %d: %q, %v", got, m, err)
		}
		got++
	}
}
