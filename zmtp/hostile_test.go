package zmtp

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/frame"
)

// GR-01: a peer that connects and says nothing, or stops inside its
// greeting, is never routable, delays no one, and is dropped at the
// handshake timeout.
func TestStalledPeerIsolated(t *testing.T) {
	pull := newSock(t, Pull, Options{}) // the default handshake timeout: 30 s
	accepted := pull.Monitor(EventAccepted)
	failed := pull.Monitor(EventHandshakeFailedNoDetail)
	ep := bindLocal(t, pull)
	addr := strings.TrimPrefix(ep, "tcp://")
	// stall connects a silent peer and one that sends a single greeting
	// octet, and waits until the socket has accepted both.
	stall := func() []net.Conn {
		t.Helper()
		var conns []net.Conn
		for _, greeting := range [][]byte{nil, {0xFF}} {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { nc.Close() })
			if _, err := nc.Write(greeting); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, nc)
		}
		seen := map[string]bool{}
		for _, nc := range conns {
			for !seen[nc.LocalAddr().String()] {
				seen[nextEvent(t, accepted).Remote] = true
			}
		}
		return conns
	}

	// The stalled peers are in their handshakes, far from its timeout,
	// while a good peer connects and delivers.
	stall()
	push := newSock(t, Push, Options{})
	push.Connect(ep)
	send(t, push, "through")
	if got := recv(t, pull); got[0] != "through" {
		t.Fatalf("got %q", got)
	}

	// With a short timeout, new stalled peers are dropped at it.
	if err := pull.SetOptions(func(o *Options) { o.HandshakeTimeout = DurationOf(100 * time.Millisecond) }); err != nil {
		t.Fatal(err)
	}
	for _, nc := range stall() {
		nc.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, err := io.ReadAll(nc); err != nil {
			t.Fatalf("stalled peer not closed: %v", err)
		}
	}
	for range 2 {
		var te *TimeoutError
		if ev := nextEvent(t, failed); !errors.As(ev.Err, &te) || te.Op != "handshake" {
			t.Errorf("event %v, want a handshake timeout", ev)
		}
	}
	// Only the good peer was ever routable.
	if n := len(pull.snapshot()); n != 1 {
		t.Errorf("%d pipes, want 1", n)
	}
}

// RX-04: garbage after a valid greeting costs only that connection.
func TestGarbagePeerIsolated(t *testing.T) {
	pull := newSock(t, Pull, Options{})
	ep := bindLocal(t, pull)
	push := newSock(t, Push, Options{})
	push.Connect(ep)
	ctx := testCtx(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		nc, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
		if err != nil {
			t.Fatal(err)
		}
		junk := make([]byte, 1+rng.IntN(300))
		for j := range junk {
			junk[j] = byte(rng.Uint32())
		}
		out := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"})
		if i%2 == 0 {
			out = frame.AppendReady(out, frame.Metadata{{Name: "Socket-Type", Value: []byte("PUSH")}})
		}
		nc.Write(append(out, junk...))
		if err := push.Send(ctx, [][]byte{[]byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
		m, err := pull.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Garbage that happens to parse as a message could be delivered
		// from the bad peer; the good peer's messages all arrive in order.
		for string(m.Frames[0]) != fmt.Sprint(i) {
			if m, err = pull.Recv(ctx); err != nil {
				t.Fatal(err)
			}
		}
		nc.Close()
	}
}

// HN-03: a peer of an incompatible type gets no pipe.
func TestIncompatiblePeerRefused(t *testing.T) {
	rep := newSock(t, Rep, Options{})
	events := rep.Monitor(EventHandshakeFailedProtocol | EventHandshakeSucceeded)
	ep := bindLocal(t, rep)
	other := newSock(t, Rep, Options{ReconnectInterval: NoReconnect})
	other.Connect(ep)
	expectEvent(t, events, EventHandshakeFailedProtocol)
	if n := len(rep.snapshot()); n != 0 {
		t.Errorf("%d pipes", n)
	}
	if m, err := rep.TryRecv(); err != ErrWouldBlock {
		t.Errorf("TryRecv = %q, %v", m.Frames, err)
	}
}
