package zmtp

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/frame"
)

// draftPeers are the draft types and a type each may talk to.
var draftPeers = [][2]SocketType{
	{Client, Server}, {Server, Client}, {Scatter, Gather}, {Gather, Scatter}, {Peer, Peer}, {Channel, Channel},
}

// readyBytes is a NULL READY command carrying only Socket-Type st, written
// out as RFC 37 lays it out: a short command frame (04, size), the name
// 'READY' with its length, then the property name with its length and the
// value with a 4-octet length.
func readyBytes(st string) []byte {
	body := append([]byte{5}, "READY"...)
	body = append(body, 11)
	body = append(body, "Socket-Type"...)
	body = append(body, 0, 0, 0, byte(len(st)))
	body = append(body, st...)
	return append([]byte{0x04, byte(len(body))}, body...)
}

// dialRaw connects to ep (tcp) and performs a NULL handshake by hand as
// socket type st, returning the connection and the READY ours sent.
func dialRaw(t *testing.T, ep, st string) (net.Conn, []byte) {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(waitTimeout))
	out := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"})
	if _, err := nc.Write(append(out, readyBytes(st)...)); err != nil {
		t.Fatal(err)
	}
	greeting := make([]byte, frame.GreetingSize)
	if _, err := io.ReadFull(nc, greeting); err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 2)
	if _, err := io.ReadFull(nc, head); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, head[1])
	if _, err := io.ReadFull(nc, body); err != nil {
		t.Fatal(err)
	}
	return nc, append(head, body...)
}

// TestDraftReadyBytes: each draft type announces itself in READY with
// its RFC name and nothing else (no Identity: libzmq sends one only for
// REQ, DEALER and ROUTER), and a hand-made peer of the matching type is
// accepted.
func TestDraftReadyBytes(t *testing.T) {
	for _, pair := range draftPeers {
		s := newSock(t, pair[0], Options{})
		events := s.Monitor(EventHandshakeSucceeded)
		nc, ready := dialRaw(t, bindLocal(t, s), string(pair[1]))
		if want := readyBytes(string(pair[0])); !bytes.Equal(ready, want) {
			t.Errorf("%s READY\n got % x\nwant % x", pair[0], ready, want)
		}
		expectEvent(t, events, EventHandshakeSucceeded)
		nc.Close()
	}
}

// SS-05: a multipart message from a peer of a draft type is discarded
// whole, counted in Dropped; the connection stays, and the messages
// around it arrive in order. The receiving types answer on the same
// connection.
func TestDraftMultipartFromPeerDropped(t *testing.T) {
	for _, pair := range draftPeers {
		if pair[0] == Scatter {
			continue // receives nothing
		}
		t.Run(string(pair[0]), func(t *testing.T) {
			ctx := testCtx(t)
			s := newSock(t, pair[0], Options{})
			nc, _ := dialRaw(t, bindLocal(t, s), string(pair[1]))
			var in []byte
			in = frame.AppendFrame(in, 0, []byte("before"))
			in = frame.AppendFrame(in, frame.FlagMore, []byte("part 1"))
			in = frame.AppendFrame(in, frame.FlagMore, []byte("part 2"))
			in = frame.AppendFrame(in, 0, []byte("part 3"))
			in = frame.AppendFrame(in, 0, []byte("after"))
			if _, err := nc.Write(in); err != nil {
				t.Fatal(err)
			}
			var from uint32
			for _, want := range []string{"before", "after"} {
				m := recvMsg(t, s)
				if m.Text() != want || len(m.Frames) != 1 {
					t.Fatalf("got %q, want %q", m.Frames, want)
				}
				from = m.RoutingID
			}
			if d := s.Dropped(); d != 1 {
				t.Errorf("Dropped() = %d, want 1", d)
			}
			if pair[0] == Gather {
				return
			}
			// The same connection carries the answer.
			var err error
			if pair[0] == Server || pair[0] == Peer {
				err = s.SendTo(ctx, from, []byte("answer"))
			} else {
				err = s.Send(ctx, [][]byte{[]byte("answer")})
			}
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 8)
			if _, err := io.ReadFull(nc, got); err != nil {
				t.Fatal(err)
			}
			if want := frame.AppendFrame(nil, 0, []byte("answer")); !bytes.Equal(got, want) {
				t.Errorf("wire % x, want % x", got, want)
			}
		})
	}
}

// TestDraftWireSingleFrames: what a CLIENT and a SCATTER write for a
// message is one frame without MORE (RFC 41, 49).
func TestDraftWireSingleFrames(t *testing.T) {
	for _, pair := range [][2]SocketType{{Client, Server}, {Scatter, Gather}, {Channel, Channel}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		s := newSock(t, pair[0], Options{})
		s.Connect("tcp://" + ln.Addr().String())
		send(t, s, "hello")
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.SetDeadline(time.Now().Add(waitTimeout))
		rd, err := rawHandshake(nc, string(pair[1]))
		if err != nil {
			t.Fatal(err)
		}
		f, err := rd.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if f.Flags != 0 || string(f.Body) != "hello" {
			t.Errorf("%s wrote flags %#x body %q", pair[0], f.Flags, f.Body)
		}
	}
}
