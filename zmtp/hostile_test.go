package zmtp

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/frame"
)

// GR-01: a peer that connects and says nothing is dropped at the handshake
// timeout, is never routable, and delays no one.
func TestStalledPeerIsolated(t *testing.T) {
	pull := newSock(t, Pull, Options{HandshakeTimeout: DurationOf(100 * time.Millisecond)})
	events := pull.Monitor(EventHandshakeFailedNoDetail)
	ep := bindLocal(t, pull)
	addr := strings.TrimPrefix(ep, "tcp://")
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// A trickling peer: one greeting octet, then nothing.
	trickle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer trickle.Close()
	trickle.Write([]byte{0xFF})

	push := newSock(t, Push, Options{})
	push.Connect(ep)
	send(t, push, "through")
	if got := recv(t, pull); got[0] != "through" {
		t.Fatalf("got %q", got)
	}
	start := time.Now()
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(silent); err != nil {
		t.Fatalf("silent peer not closed: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("closed after %v", d)
	}
	for range 2 {
		select {
		case ev := <-events:
			if ev.Err == nil {
				t.Errorf("event without reason: %v", ev)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no handshake failure event")
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
	select {
	case ev := <-events:
		if ev.Type != EventHandshakeFailedProtocol {
			t.Fatalf("event %v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	if n := len(rep.snapshot()); n != 0 {
		t.Errorf("%d pipes", n)
	}
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := rep.Recv(short); err != context.DeadlineExceeded {
		t.Errorf("Recv: %v", err)
	}
}
