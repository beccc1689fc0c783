package zmtp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/frame"
)

// rawServer accepts one connection on a fresh listener and completes a
// NULL handshake as socket type st by hand. The returned function waits
// for that and returns the connection.
func rawServer(t *testing.T, st string) (string, func() rawConnReader) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	type res struct {
		rc  rawConnReader
		err error
	}
	ch := make(chan res, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			ch <- res{err: err}
			return
		}
		t.Cleanup(func() { nc.Close() })
		rd, err := rawHandshake(nc, st)
		ch <- res{rawConnReader{nc, rd}, err}
	}()
	accept := func() rawConnReader {
		t.Helper()
		select {
		case r := <-ch:
			if r.err != nil {
				t.Fatalf("raw %s peer: %v", st, r.err)
			}
			return r.rc
		case <-deadline(t):
			t.Fatalf("no connection to the raw %s peer within %v", st, waitTimeout)
			return rawConnReader{}
		}
	}
	return "tcp://" + ln.Addr().String(), accept
}

// rawConnReader is a hand-driven peer's connection and its frame reader.
type rawConnReader struct {
	net.Conn
	rd *frame.Reader
}

// SS-02: a reply without the empty delimiter is dropped; a valid one after
// it is delivered. With ReqCorrelate, a reply with the wrong request id is
// dropped.
func TestReqDropsBadReplies(t *testing.T) {
	for _, correlate := range []bool{false, true} {
		ep, accept := rawServer(t, "REP")
		req := newSock(t, Req, Options{ReqCorrelate: correlate})
		req.Connect(ep)
		send(t, req, "question")
		nc := accept()
		rd := nc.rd
		var env [][]byte
		for {
			f, err := rd.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			env = append(env, append([]byte(nil), f.Body...))
			if !f.More() {
				break
			}
		}
		var out []byte
		if correlate {
			wrong := binary.BigEndian.AppendUint32(nil, binary.BigEndian.Uint32(env[0])+1)
			out = frame.AppendFrame(out, frame.FlagMore, wrong)
			out = frame.AppendFrame(out, frame.FlagMore, nil)
			out = frame.AppendFrame(out, 0, []byte("wrong id"))
			out = frame.AppendFrame(out, frame.FlagMore, env[0])
		}
		out = frame.AppendFrame(out, 0, []byte("no delimiter"))
		if correlate {
			out = frame.AppendFrame(out, frame.FlagMore, env[0])
		}
		out = frame.AppendFrame(out, frame.FlagMore, nil)
		out = frame.AppendFrame(out, 0, []byte("answer"))
		nc.Write(out)
		if got := recv(t, req); len(got) != 1 || got[0] != "answer" {
			t.Fatalf("correlate=%v: got %q", correlate, got)
		}
	}
}

// SS-03: two peers claiming one Identity: the first keeps it, the second
// waiting until the first leaves; or with RouterHandover the second takes
// it over and the first is disconnected.
func TestRouterDuplicateIdentity(t *testing.T) {
	for _, handover := range []bool{false, true} {
		t.Run(fmt.Sprintf("handover=%v", handover), func(t *testing.T) {
			router := newSock(t, Router, Options{RouterHandover: handover})
			events := router.Monitor(EventHandshakeSucceeded)
			ep := bindLocal(t, router)
			// Neither peer reconnects: a handed-over peer would take its id
			// back.
			first := newSock(t, Dealer, Options{RoutingID: []byte("dup"), ReconnectInterval: NoReconnect})
			first.Connect(ep)
			send(t, first, "one")
			if got := recv(t, router); got[0] != "dup" || got[1] != "one" {
				t.Fatalf("got %q", got)
			}
			expectEvent(t, events, EventHandshakeSucceeded)
			second := newSock(t, Dealer, Options{RoutingID: []byte("dup"), ReconnectInterval: NoReconnect})
			second.Connect(ep)
			send(t, second, "two")
			var waiting *pipe // the second peer's pipe at the router, without handover
			if handover {
				expectEvent(t, events, EventHandshakeSucceeded)
			} else {
				waitFor(t, "the second peer waiting for its id", func() bool {
					waiting = waitingFor(router, "dup")
					return waiting != nil
				})
			}
			send(t, router, "dup", "to the owner")
			owner, other := first, second
			if handover {
				owner, other = second, first
			}
			if got := recv(t, owner); got[0] != "to the owner" {
				t.Fatalf("owner got %q", got)
			}
			if handover {
				// The first peer was disconnected, and gives up: its Recv
				// ends with that rather than a message.
				if m, err := other.Recv(testCtx(t)); err == nil {
					t.Fatalf("the other peer got %q", m.Frames)
				} else if ee := (*EndpointError)(nil); !errors.As(err, &ee) {
					t.Fatalf("the other peer's Recv: %v", err)
				}
				if got := recv(t, router); got[0] != "dup" || got[1] != "two" {
					t.Fatalf("got %q", got)
				}
				return
			}
			// Nothing was ever queued for the waiting peer.
			if n, c := waiting.out.len(), waiting.conn.Load(); n != 0 || c == nil || c.Stats().MessagesOut != 0 {
				t.Fatalf("waiting peer: %d queued, connection %v", n, c)
			}
			// Once the owner leaves, the waiting peer takes the id: its
			// message is read, and it is the one addressed.
			first.Close()
			if got := recv(t, router); got[0] != "dup" || got[1] != "two" {
				t.Fatalf("got %q", got)
			}
			send(t, router, "dup", "to the new owner")
			if got := recv(t, other); got[0] != "to the new owner" {
				t.Fatalf("second peer got %q", got)
			}
		})
	}
}

// waitingFor returns the oldest peer of ROUTER s waiting for routing id id,
// or nil.
func waitingFor(s *Socket, id string) *pipe {
	r := s.rule.(*idRouter)
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := r.waiting[id]; len(l) > 0 {
		return l[0]
	}
	return nil
}

// RC-03: with reconnection off, a lost connection is not remade: the
// Connect gives up for good, and its goroutine ends without a retry.
func TestNoReconnectWhenDisabled(t *testing.T) {
	ep, accept := rawServer(t, "PULL")
	push := newSock(t, Push, Options{ReconnectInterval: NoReconnect})
	events := push.Monitor(EventConnectRetried | EventDisconnected)
	push.Connect(ep)
	nc := accept()
	nc.Close()
	expectEvent(t, events, EventDisconnected)
	waitEndpointDone(t, endpointOf(t, push, ep))
	select {
	case ev := <-events:
		t.Fatalf("unexpected %v", ev)
	default:
	}
	var ee *EndpointError
	if err := push.Err(); !errors.As(err, &ee) || ee.Retrying {
		t.Errorf("Err = %v, want the endpoint given up", err)
	}
}

// RC-05: with Immediate, messages go only to connected peers; without it,
// they queue on the pipe of a peer that is not there yet.
func TestImmediate(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "tcp://" + ln.Addr().String()
	ln.Close()
	pull := newSock(t, Pull, Options{})
	live := bindLocal(t, pull)

	imm := newSock(t, Push, Options{Immediate: true})
	imm.Connect(dead)
	imm.Connect(live)
	waitPipes(t, imm, 1)
	for range 10 {
		send(t, imm, "imm")
	}
	for range 10 {
		if got := recv(t, pull); got[0] != "imm" {
			t.Fatalf("got %q", got)
		}
	}
	if n := connectPipe(t, imm, dead).out.len(); n != 0 {
		t.Errorf("Immediate: %d messages queued for the absent peer", n)
	}
	lazy := newSock(t, Push, Options{})
	lazy.Connect(dead)
	lazy.Connect(live)
	waitPipes(t, lazy, 1)
	for range 10 {
		send(t, lazy, "lazy")
	}
	// Round-robin puts half of them on the dead endpoint's pipe, where they
	// wait; the live peer gets the other half, and nothing more.
	for range 5 {
		if got := recv(t, pull); got[0] != "lazy" {
			t.Fatalf("got %q", got)
		}
	}
	if n := connectPipe(t, lazy, dead).out.len(); n != 5 {
		t.Errorf("%d of 10 messages queued for the absent peer, want 5", n)
	}
	if m, err := pull.TryRecv(); err != ErrWouldBlock {
		t.Errorf("live peer got more than 5 of 10: TryRecv = %q, %v", m.Frames, err)
	}
	// With no peer at all, an Immediate socket cannot send.
	none := newSock(t, Push, Options{Immediate: true})
	none.Connect(dead)
	if err := none.TrySend([][]byte{[]byte("x")}); !errors.Is(err, ErrWouldBlock) {
		t.Errorf("TrySend with no peer: %v", err)
	}
}

// RX-02: a peer that never reads blocks only its own queue; Close with
// NoLinger returns without waiting for it, counting what it discarded.
func TestStuckPeerAndLingerZero(t *testing.T) {
	ep, accept := rawServer(t, "PULL")
	pull := newSock(t, Pull, Options{})
	good := bindLocal(t, pull)
	const hwm = 10
	push, err := NewSocket(Push, Options{SendHWM: HWMOf(hwm), Linger: NoLinger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { push.Close() })
	push.Connect(ep)
	accept() // handshake done; this peer never reads
	push.Connect(good)
	waitPipes(t, push, 2)
	stuck := connectPipe(t, push, ep)
	big := [][]byte{make([]byte, 64<<10)}
	// Send until the network buffers towards the stuck peer are full and
	// its queue is at the high-water mark; the good peer keeps receiving.
	giveUp := time.Now().Add(waitTimeout)
	delivered := 0
	for delivered < 50 || !stuck.out.isFull() {
		if time.Now().After(giveUp) {
			t.Fatalf("good peer got %d, stuck peer's queue %d", delivered, stuck.out.len())
		}
		if err := push.Send(testCtx(t), big); err != nil {
			t.Fatal(err)
		}
		if _, err := pull.TryRecv(); err == nil {
			delivered++
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- push.Close() }()
	select {
	case err := <-closed:
		var ue *UndeliveredError
		if !errors.As(err, &ue) || ue.Messages < hwm {
			t.Errorf("Close = %v, want at least %d messages undelivered", err, hwm)
		}
	case <-deadline(t):
		t.Fatalf("Close still waiting after %v", waitTimeout)
	}
}
