package gssapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"go.uber.org/goleak"

	"github.com/zmtp-go/zmtp/auth"
	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/zmtp"
)

// TestSockets runs the mechanism between two of our sockets over TCP, with
// and without encryption: messages pass both ways and the
// server sees the client's principal as User-Id.
func TestSockets(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, plaintext := range []bool{false, true} {
		cm, sm := testPair(t, etypeID.AES256_CTS_HMAC_SHA1_96, plaintext)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		srv, err := zmtp.NewSocket(zmtp.Dealer, zmtp.Options{Mechanism: sm})
		if err != nil {
			t.Fatal(err)
		}
		cli, err := zmtp.NewSocket(zmtp.Dealer, zmtp.Options{Mechanism: cm})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Bind("tcp://127.0.0.1:*"); err != nil {
			t.Fatal(err)
		}
		if err := cli.Connect(srv.LastEndpoint()); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := cli.Send(ctx, [][]byte{[]byte("ping"), {byte(i)}}); err != nil {
				t.Fatal(err)
			}
			m, err := srv.Recv(ctx)
			if err != nil || len(m.Frames) != 2 || string(m.Frames[0]) != "ping" || m.Frames[1][0] != byte(i) {
				t.Fatalf("server got %q, %v", m.Frames, err)
			}
			if uid, _ := m.Metadata.Lookup(frame.PropUserID); string(uid) != "alice@"+testRealm {
				t.Fatalf("User-Id %q", uid)
			}
			if err := srv.Send(ctx, [][]byte{[]byte("pong")}); err != nil {
				t.Fatal(err)
			}
			if m, err := cli.Recv(ctx); err != nil || string(m.Frames[0]) != "pong" {
				t.Fatalf("client got %q, %v", m.Frames, err)
			}
		}
		cancel()
		cli.Close()
		srv.Close()
	}
}

// TestHostilePeers sends malformed GSSAPI handshakes to our server over
// TCP: each connection is closed with a protocol failure, nothing is
// delivered, and a well-behaved client on the same socket is served.
func TestHostilePeers(t *testing.T) {
	defer goleak.VerifyNone(t)
	cm, sm := testPair(t, etypeID.AES256_CTS_HMAC_SHA1_96, false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv, err := zmtp.NewSocket(zmtp.Dealer, zmtp.Options{Mechanism: sm})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	events := srv.Monitor(zmtp.EventHandshakeFailedProtocol | zmtp.EventHandshakeFailedNoDetail | zmtp.EventHandshakeFailedAuth)
	if err := srv.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(srv.LastEndpoint(), "tcp://")
	greeting := frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: frame.MechanismGSSAPI})
	for _, cmd := range [][]byte{
		frame.Command{Name: frame.CmdInitiate, Data: []byte{0, 0, 0, 9, 1}}.Append(nil),                                // length beyond the data
		frame.Command{Name: frame.CmdInitiate, Data: appendTokenData(nil, []byte{0x60, 0x7f, 6})}.Append(nil),          // DER length beyond the token
		frame.Command{Name: frame.CmdInitiate, Data: appendTokenData(nil, bytes.Repeat([]byte{0x60}, 40))}.Append(nil), // not Kerberos
		frame.Command{Name: frame.CmdReady, Data: nil}.Append(nil),                                                     // READY before any token
		{0x04, 0x00}, // the empty command before the AP-REQ
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write(greeting)
		c.Write(cmd)
		// The server sends its greeting, then closes without a word.
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || len(got) != frame.GreetingSize {
			t.Fatalf("after % x: read %d octets, %v", cmd[:min(len(cmd), 12)], len(got), err)
		}
		select {
		case ev := <-events:
			if ev.Type != zmtp.EventHandshakeFailedProtocol || !errors.Is(ev.Err, frame.ErrProtocol) {
				t.Fatalf("after % x: event %v", cmd[:min(len(cmd), 12)], ev)
			}
		case <-ctx.Done():
			t.Fatal("no handshake failure reported")
		}
	}
	cli, err := zmtp.NewSocket(zmtp.Dealer, zmtp.Options{Mechanism: cm})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if err := cli.Connect(srv.LastEndpoint()); err != nil {
		t.Fatal(err)
	}
	if err := cli.Send(ctx, [][]byte{[]byte("good")}); err != nil {
		t.Fatal(err)
	}
	if m, err := srv.Recv(ctx); err != nil || string(m.Frames[0]) != "good" {
		t.Fatalf("good client: %q %v", m.Frames, err)
	}
}

// TestConnHeartbeats runs heartbeats both ways over an encrypting
// connection: PINGs and PONGs travel in wrap tokens, and messages still
// pass after them.
func TestConnHeartbeats(t *testing.T) {
	defer goleak.VerifyNone(t)
	cm, sm := testPair(t, etypeID.AES128_CTS_HMAC_SHA1_96, false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := func(m *Mechanism) zmtp.ConnConfig {
		return zmtp.ConnConfig{SocketType: "PAIR", Mechanism: m,
			HeartbeatInterval: 5 * time.Millisecond, HeartbeatTimeout: 10 * time.Second}
	}
	type result struct {
		c   *zmtp.Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			accepted <- result{nil, err}
			return
		}
		c, err := zmtp.NewConn(ctx, nc, cfg(sm))
		accepted <- result{c, err}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cli, err := zmtp.NewConn(ctx, nc, cfg(cm))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	r := <-accepted
	if r.err != nil {
		t.Fatal(r.err)
	}
	srv := r.c
	defer srv.Close()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for cli.Stats().PingsIn < 3 || srv.Stats().PingsIn < 3 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("PINGs in: client %d, server %d", cli.Stats().PingsIn, srv.Stats().PingsIn)
		}
	}
	if err := cli.Send(ctx, [][]byte{[]byte("after"), []byte("pings")}); err != nil {
		t.Fatal(err)
	}
	if m, err := srv.Recv(ctx); err != nil || len(m) != 2 || string(m[1]) != "pings" {
		t.Fatalf("%q %v", m, err)
	}
}

// TestSocketsAuthenticator runs our server with an auth.Authenticator:
// a client whose address is not in the allow list is refused, and once it
// is, the client (reconnecting) is served with its principal as User-Id.
func TestSocketsAuthenticator(t *testing.T) {
	defer goleak.VerifyNone(t)
	cm, sm := testPair(t, etypeID.AES256_CTS_HMAC_SHA1_96, false)
	var a auth.Authenticator
	if err := a.Allow("192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	sm.Authenticator = &a
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := zmtp.NewSocket(zmtp.Dealer, zmtp.Options{Mechanism: sm, Linger: zmtp.NoLinger})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	events := srv.Monitor(zmtp.EventHandshakeFailedAuth | zmtp.EventHandshakeFailedProtocol | zmtp.EventHandshakeFailedNoDetail)
	if err := srv.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	cli, err := zmtp.NewSocket(zmtp.Dealer, zmtp.Options{Mechanism: cm, Linger: zmtp.NoLinger})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if err := cli.Connect(srv.LastEndpoint()); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if ev.Type != zmtp.EventHandshakeFailedAuth {
			t.Fatalf("event %v", ev)
		}
	case <-ctx.Done():
		t.Fatal("no refusal reported")
	}
	if err := a.Allow("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := cli.Send(ctx, [][]byte{[]byte("hello")}); err != nil {
		t.Fatal(err)
	}
	m, err := srv.Recv(ctx)
	if err != nil || string(m.Frames[0]) != "hello" {
		t.Fatalf("server got %q, %v", m.Frames, err)
	}
	if uid, _ := m.Metadata.Lookup(frame.PropUserID); string(uid) != "alice@"+testRealm {
		t.Fatalf("User-Id %q", uid)
	}
}
