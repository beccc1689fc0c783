package zmtp

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
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
		case <-time.After(waitTimeout):
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

// SS-03: two peers claiming one Identity: the first keeps it, or with
// RouterHandover the second takes it over.
func TestRouterDuplicateIdentity(t *testing.T) {
	for _, handover := range []bool{false, true} {
		router := newSock(t, Router, Options{RouterHandover: handover})
		events := router.Monitor(EventHandshakeSucceeded)
		ep := bindLocal(t, router)
		first := newSock(t, Dealer, Options{RoutingID: []byte("dup")})
		first.Connect(ep)
		send(t, first, "one")
		if got := recv(t, router); got[0] != "dup" {
			t.Fatalf("got %q", got)
		}
		<-events
		second := newSock(t, Dealer, Options{RoutingID: []byte("dup"), ReconnectInterval: NoReconnect})
		second.Connect(ep)
		if handover {
			<-events
		}
		send(t, second, "two")
		send(t, router, "dup", "to the owner")
		owner, other := first, second
		if handover {
			owner, other = second, first
		}
		if got := recv(t, owner); got[0] != "to the owner" {
			t.Fatalf("handover=%v: owner got %q", handover, got)
		}
		short, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		if m, err := other.Recv(short); err == nil {
			t.Errorf("handover=%v: the other peer got %q", handover, m.Frames)
		}
		cancel()
	}
}

// RC-03: with reconnection off, a lost connection is not remade.
func TestNoReconnectWhenDisabled(t *testing.T) {
	ep, accept := rawServer(t, "PULL")
	push := newSock(t, Push, Options{ReconnectInterval: NoReconnect})
	events := push.Monitor(EventConnectRetried | EventDisconnected)
	push.Connect(ep)
	nc := accept()
	nc.Close()
	select {
	case ev := <-events:
		if ev.Type != EventDisconnected {
			t.Fatalf("event %v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no disconnect")
	}
	select {
	case ev := <-events:
		t.Fatalf("unexpected %v", ev)
	case <-time.After(100 * time.Millisecond):
	}
}

// RC-05: with Immediate, messages go only to connected peers; without it,
// they queue on the pipe of a peer that is not there yet.
func TestImmediate(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
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
	lazy := newSock(t, Push, Options{})
	lazy.Connect(dead)
	lazy.Connect(live)
	waitPipes(t, lazy, 1)
	for range 10 {
		send(t, lazy, "lazy")
	}
	// Round-robin puts half of them on the dead endpoint's pipe.
	got := 0
	for {
		short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := pull.Recv(short)
		cancel()
		if err != nil {
			break
		}
		got++
	}
	if got != 5 {
		t.Errorf("live peer got %d of 10, want 5", got)
	}
	// With no peer at all, an Immediate socket cannot send.
	none := newSock(t, Push, Options{Immediate: true})
	none.Connect(dead)
	if err := none.TrySend([][]byte{[]byte("x")}); !errors.Is(err, ErrWouldBlock) {
		t.Errorf("TrySend with no peer: %v", err)
	}
}

// RX-02: a peer that never reads blocks only its own queue; Close with a
// negative Linger returns at once.
func TestStuckPeerAndLingerZero(t *testing.T) {
	ep, accept := rawServer(t, "PULL")
	pull := newSock(t, Pull, Options{})
	good := bindLocal(t, pull)
	push, _ := NewSocket(Push, Options{SendHWM: HWMOf(10), Linger: NoLinger})
	push.Connect(ep)
	accept() // handshake done; this peer never reads
	push.Connect(good)
	waitPipes(t, push, 2)
	big := [][]byte{make([]byte, 64<<10)}
	deadline := time.Now().Add(10 * time.Second)
	delivered := 0
	for delivered < 50 && time.Now().Before(deadline) {
		if err := push.Send(testCtx(t), big); err != nil {
			t.Fatal(err)
		}
		if _, err := pull.TryRecv(); err == nil {
			delivered++
		}
	}
	if delivered < 50 {
		t.Fatalf("good peer starved: %d delivered", delivered)
	}
	start := time.Now()
	push.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	_ = strings.TrimSpace
}
