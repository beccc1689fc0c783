package zmtp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/frame"
)

// readingDirectly waits until a Recv on s reads the connection itself
// (see Socket.recvDirect), and returns that connection.
func readingDirectly(t *testing.T, s *Socket) *Conn {
	t.Helper()
	var c *Conn
	waitFor(t, "a Recv reading the connection itself", func() bool {
		c = s.direct.Load()
		return c != nil
	})
	return c
}

// recvWaiting waits until a Recv on s waits for a message from its one
// peer, or reads it itself.
func recvWaiting(t *testing.T, s *Socket) {
	t.Helper()
	waitFor(t, "a Recv waiting", func() bool {
		if s.direct.Load() != nil {
			return true
		}
		p := s.snapshot()
		if len(p) != 1 {
			return false
		}
		c := p[0].conn.Load()
		return c != nil && c.wantLease.Load()
	})
}

// keepLease makes the read lease of s's connections stay free until a
// Recv takes it, however long that takes, so that the tests know when a
// Recv reads the connection itself.
func keepLease(s *Socket) *Socket {
	s.leaseIdle = time.Hour
	return s
}

// recvAsync runs s.Recv(ctx) on a goroutine of its own.
func recvAsync(s *Socket, ctx context.Context) <-chan recvResult {
	ch := make(chan recvResult, 1)
	go func() {
		m, err := s.Recv(ctx)
		ch <- recvResult{m, err}
	}()
	return ch
}

type recvResult struct {
	m   Message
	err error
}

func waitRecv(t *testing.T, ch <-chan recvResult) recvResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-deadline(t):
		t.Fatalf("Recv still blocked after %v", waitTimeout)
		return recvResult{}
	}
}

// TestRecvDirectRoundTrips: REQ and REP with one peer each read their
// connection in Recv, and the round trips go on whichever goroutine reads.
func TestRecvDirectRoundTrips(t *testing.T) {
	rep := keepLease(newSock(t, Rep, Options{}))
	req := keepLease(newSock(t, Req, Options{}))
	if err := req.Connect(bindLocal(t, rep)); err != nil {
		t.Fatal(err)
	}
	waitPipes(t, rep, 1)
	for i := range 50 {
		got := recvAsync(rep, testCtx(t))
		if i == 0 {
			recvWaiting(t, rep)
		} else {
			readingDirectly(t, rep)
		}
		send(t, req, "ping")
		if r := waitRecv(t, got); r.err != nil || string(r.m.Frames[0]) != "ping" {
			t.Fatalf("round %d: REP got %q, %v", i, r.m.Frames, r.err)
		}
		got = recvAsync(req, testCtx(t))
		if i == 0 {
			recvWaiting(t, req)
		} else {
			readingDirectly(t, req)
		}
		send(t, rep, "pong")
		if r := waitRecv(t, got); r.err != nil || string(r.m.Frames[0]) != "pong" {
			t.Fatalf("round %d: REQ got %q, %v", i, r.m.Frames, r.err)
		}
	}
}

// TestRecvDirectCancelLosesNothing: a Recv reading the connection itself
// returns when its context ends, even with half a message read, and the
// next Recv gets that message whole.
func TestRecvDirectCancelLosesNothing(t *testing.T) {
	ep, accept := rawServer(t, "REP")
	req := keepLease(newSock(t, Req, Options{}))
	if err := req.Connect(ep); err != nil {
		t.Fatal(err)
	}
	peer := accept()
	// The first reply is read by the connection's reader goroutine, which
	// then leaves the reading to the Recv.
	for i := range 2 {
		send(t, req, "request")
		for range 2 {
			if _, err := peer.rd.ReadFrame(); err != nil {
				t.Fatal(err)
			}
		}
		if i == 0 {
			got := recvAsync(req, testCtx(t))
			recvWaiting(t, req)
			reply := frame.AppendFrame(frame.AppendFrame(nil, frame.FlagMore, nil), 0, []byte("first"))
			if _, err := peer.Write(reply); err != nil {
				t.Fatal(err)
			}
			if r := waitRecv(t, got); r.err != nil || string(r.m.Frames[0]) != "first" {
				t.Fatalf("REQ got %q, %v", r.m.Frames, r.err)
			}
		}
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	got := recvAsync(req, ctx)
	c := readingDirectly(t, req)
	reply := frame.AppendFrame(frame.AppendFrame(nil, frame.FlagMore, nil), 0, []byte("second"))
	before := c.Stats().BytesIn
	if _, err := peer.Write(reply[:4]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Recv to read half the reply", func() bool { return c.Stats().BytesIn >= before+4 })
	cancel()
	if r := waitRecv(t, got); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Recv after cancel: %q, %v; want context.Canceled", r.m.Frames, r.err)
	}
	if _, err := peer.Write(reply[4:]); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, req); len(got) != 1 || got[0] != "second" {
		t.Fatalf("REQ got %q, want the second reply", got)
	}
}

// TestRecvDirectClose: Close ends a Recv that reads the connection itself.
func TestRecvDirectClose(t *testing.T) {
	rep := keepLease(newSock(t, Rep, Options{}))
	req := newSock(t, Req, Options{})
	if err := req.Connect(bindLocal(t, rep)); err != nil {
		t.Fatal(err)
	}
	waitPipes(t, rep, 1)
	roundTrip(t, req, rep)
	got := recvAsync(rep, testCtx(t))
	readingDirectly(t, rep)
	rep.Close()
	if r := waitRecv(t, got); !errors.Is(r.err, ErrClosed) {
		t.Fatalf("Recv after Close: %q, %v; want ErrClosed", r.m.Frames, r.err)
	}
}

// TestRecvDirectSecondPeer: a Recv reading its one peer's connection
// itself gets the message of a peer that comes meanwhile.
func TestRecvDirectSecondPeer(t *testing.T) {
	rep := keepLease(newSock(t, Rep, Options{}))
	ep := bindLocal(t, rep)
	quiet := newSock(t, Req, Options{})
	if err := quiet.Connect(ep); err != nil {
		t.Fatal(err)
	}
	waitPipes(t, rep, 1)
	roundTrip(t, quiet, rep)
	got := recvAsync(rep, testCtx(t))
	readingDirectly(t, rep)
	other := newSock(t, Req, Options{})
	if err := other.Connect(ep); err != nil {
		t.Fatal(err)
	}
	send(t, other, "from the second")
	if r := waitRecv(t, got); r.err != nil || string(r.m.Frames[0]) != "from the second" {
		t.Fatalf("REP got %q, %v", r.m.Frames, r.err)
	}
}

// TestRecvDirectHeartbeatsWhileIdle: once the application stops calling
// Recv, the connection's reader goroutine reads again: PINGs are
// answered, and a peer that leaves is seen. (The REQ's HeartbeatTimeout
// is long: a loaded machine may delay a PONG, which would end the
// connection under test.)
func TestRecvDirectHeartbeatsWhileIdle(t *testing.T) {
	rep := newSock(t, Rep, Options{})
	mon := rep.Monitor(EventDisconnected)
	req := newSock(t, Req, Options{HeartbeatInterval: 5 * time.Millisecond, HeartbeatTimeout: waitTimeout})
	if err := req.Connect(bindLocal(t, rep)); err != nil {
		t.Fatal(err)
	}
	waitPipes(t, rep, 1)
	for range 3 {
		roundTrip(t, req, rep)
	}
	// Nobody calls Recv on the REP from now on.
	c := rep.snapshot()[0].conn.Load()
	pings := c.Stats().PingsIn
	waitFor(t, "the REP to read PINGs", func() bool { return c.Stats().PingsIn >= pings+3 })
	rc := req.snapshot()[0].conn.Load()
	pongs := rc.Stats().BytesIn
	waitFor(t, "the REQ to read PONGs", func() bool { return rc.Stats().BytesIn > pongs })
	req.Close()
	for {
		if ev := nextEvent(t, mon); ev.Type == EventDisconnected {
			break
		}
	}
}

// roundTrip makes a request and its reply go between req and rep, each
// Recv waiting before the message is sent, so that the connections'
// reader goroutines leave the reading to the next Recv.
func roundTrip(t *testing.T, req, rep *Socket) {
	t.Helper()
	got := recvAsync(rep, testCtx(t))
	recvWaiting(t, rep)
	send(t, req, "ping")
	if r := waitRecv(t, got); r.err != nil {
		t.Fatal(r.err)
	}
	got = recvAsync(req, testCtx(t))
	recvWaiting(t, req)
	send(t, rep, "pong")
	if r := waitRecv(t, got); r.err != nil {
		t.Fatal(r.err)
	}
}

// TestRecvDirectLeaseFreeThenPollOrTryRecv: once a Recv has left the
// connection's read lease free, a REQ client that waits for its next reply
// with a Poller or a TryRecv loop (as the Lazy Pirate client does) gets
// it: the reader goroutine takes the lease back for it at once, not when
// the lease's idle time has passed (an hour here).
func TestRecvDirectLeaseFreeThenPollOrTryRecv(t *testing.T) {
	for _, how := range []string{"Poller", "TryRecv"} {
		t.Run(how, func(t *testing.T) {
			rep := newSock(t, Rep, Options{})
			req := keepLease(newSock(t, Req, Options{}))
			if err := req.Connect(bindLocal(t, rep)); err != nil {
				t.Fatal(err)
			}
			echo := func() {
				m, err := rep.Recv(testCtx(t))
				if err != nil {
					t.Fatal(err)
				}
				if err := rep.Send(testCtx(t), m.Frames); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "the connection", func() bool {
				p := req.snapshot()
				return len(p) == 1 && p[0].conn.Load() != nil
			})
			send(t, req, "first")
			got := recvAsync(req, testCtx(t))
			recvWaiting(t, req)
			echo()
			if r := waitRecv(t, got); r.err != nil || string(r.m.Frames[0]) != "first" {
				t.Fatalf("REQ got %q, %v", r.m.Frames, r.err)
			}
			c := req.snapshot()[0].conn.Load()
			waitFor(t, "the read lease left free", func() bool { return c.lease.Load() == leaseFree })

			send(t, req, "second")
			echo()
			ctx := testCtx(t)
			var m Message
			switch how {
			case "Poller":
				p := NewPoller()
				p.Add(req, PollIn)
				if _, err := p.Wait(ctx); err != nil {
					t.Fatalf("no reply readable: %v", err)
				}
				var err error
				if m, err = req.TryRecv(); err != nil {
					t.Fatal(err)
				}
			case "TryRecv":
				for {
					var err error
					if m, err = req.TryRecv(); err == nil {
						break
					}
					if !errors.Is(err, ErrWouldBlock) {
						t.Fatal(err)
					}
					select {
					case <-ctx.Done():
						t.Fatal("no reply for TryRecv")
					case <-time.After(time.Millisecond):
					}
				}
			}
			if string(m.Frames[0]) != "second" {
				t.Fatalf("REQ got %q", m.Frames)
			}
		})
	}
}
