package zmtp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

func bindWS(t *testing.T, s *Socket, ep string) string {
	t.Helper()
	if err := s.Bind(ep); err != nil {
		t.Fatal(err)
	}
	return s.LastEndpoint()
}

func TestWSPairsOursVsOurs(t *testing.T) {
	pairs := []struct{ a, b SocketType }{
		{Pair, Pair}, {Push, Pull}, {Req, Rep}, {Dealer, Router}, {Router, Dealer},
		{Dealer, Rep}, {Req, Router}, {Dealer, Dealer},
	}
	for _, p := range pairs {
		for _, bindFirst := range []bool{true, false} {
			name := string(p.a) + "-" + string(p.b)
			if bindFirst {
				name += "/a-binds"
			} else {
				name += "/b-binds"
			}
			t.Run(name, func(t *testing.T) {
				// a sends first; each test binds one side, then the other.
				a := newSock(t, p.a, Options{RoutingID: []byte("A"), RouterMandatory: true})
				b := newSock(t, p.b, Options{RoutingID: []byte("B")})
				if bindFirst {
					b.Connect(bindWS(t, a, "ws://127.0.0.1:*/zmq"))
				} else {
					a.Connect(bindWS(t, b, "ws://127.0.0.1:*"))
				}
				exchange(t, a, b)
			})
		}
	}
}

// exchange sends a multipart message, one with a frame too long for the
// short ZMTP header and one empty frame from a to b, and a reply back
// when the pattern has one.
func exchange(t *testing.T, a, b *Socket) {
	t.Helper()
	big := strings.Repeat("x", 70000)
	var env []string
	switch a.typ {
	case Router:
		waitFor(t, "B routable", func() bool { return a.TrySend([][]byte{[]byte("B"), {}, []byte("probe")}) == nil })
		if b.typ == Dealer {
			recv(t, b)
		}
		env = []string{"B"}
	case Dealer:
		if b.typ == Rep {
			env = []string{""}
		}
	}
	send(t, a, append(env, "hello", big, "")...)
	got := recv(t, b)
	switch b.typ {
	case Router:
		got = got[1:]
	}
	if b.typ == Router && a.typ == Req {
		got = got[1:] // the empty delimiter
	}
	if len(got) != 3 || got[0] != "hello" || got[1] != big || got[2] != "" {
		t.Fatalf("%v received %d frames %.20q", b.typ, len(got), got)
	}
	switch b.typ {
	case Rep:
		send(t, b, "world")
	case Router:
		if a.typ == Req {
			send(t, b, "A", "", "world")
		} else {
			send(t, b, "A", "world")
		}
	case Pair, Dealer:
		send(t, b, "world")
	default:
		return
	}
	reply := recv(t, a)
	if reply[len(reply)-1] != "world" {
		t.Fatalf("%v got reply %q", a.typ, reply)
	}
}

func TestWSPubSub(t *testing.T) {
	for _, x := range []bool{false, true} {
		pubType, subType := Pub, Sub
		if x {
			pubType, subType = XPub, XSub
		}
		t.Run(string(pubType)+"-"+string(subType), func(t *testing.T) {
			pub := newSock(t, pubType, Options{})
			sub := newSock(t, subType, Options{})
			ep := bindWS(t, pub, "ws://127.0.0.1:*/feed")
			if x {
				sub.Send(testCtx(t), [][]byte{[]byte("\x01weather")})
			} else {
				sub.Subscribe([]byte("weather"))
			}
			sub.Connect(ep)
			if x {
				// The XPUB application sees the subscription message.
				if got := recv(t, pub); got[0] != "\x01weather" {
					t.Fatalf("XPUB got %q", got)
				}
			}
			waitFor(t, "the subscription at the publisher", func() bool { return subscribed(pub, "weather.x") })
			send(t, pub, "sports")
			send(t, pub, "weather.sunny")
			if got := recv(t, sub); got[0] != "weather.sunny" {
				t.Fatalf("got %q", got)
			}
		})
	}
}

// selfSigned returns a server certificate for 127.0.0.1 and a pool that
// trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "zmtp test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestWSS(t *testing.T) {
	cert, pool := selfSigned(t)
	rep := newSock(t, Rep, Options{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}})
	ep := bindWS(t, rep, "wss://127.0.0.1:*/secure")
	if !strings.HasPrefix(ep, "wss://127.0.0.1:") || !strings.HasSuffix(ep, "/secure") {
		t.Fatalf("LastEndpoint %q", ep)
	}
	req := newSock(t, Req, Options{TLSConfig: &tls.Config{RootCAs: pool}})
	req.Connect(ep)
	send(t, req, "hello")
	if got := recv(t, rep); got[0] != "hello" {
		t.Fatalf("got %q", got)
	}
	send(t, rep, "world")
	if got := recv(t, req); got[0] != "world" {
		t.Fatalf("got %q", got)
	}

	// A client that does not trust the certificate fails its handshake,
	// and keeps retrying.
	untrusting := newSock(t, Req, Options{})
	untrusting.Connect(ep)
	waitFor(t, "the failed TLS handshake reported", func() bool {
		var ce *tls.CertificateVerificationError
		return errors.As(untrusting.Err(), &ce)
	})

	// A wss Bind without a certificate is refused at the call.
	if err := newSock(t, Rep, Options{}).Bind("wss://127.0.0.1:*"); !errors.Is(err, ErrInvalidEndpoint) {
		t.Errorf("wss Bind without TLSConfig: %v", err)
	}
}

func TestWSPlainMechanism(t *testing.T) {
	auth := mechanism.AuthenticatorFunc(func(_ context.Context, r *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
		if string(r.Credentials[1]) == "secret" {
			return mechanism.ZAPResponse{StatusCode: 200, UserID: "alice"}, nil
		}
		return mechanism.ZAPResponse{StatusCode: 400}, nil
	})
	pull := newSock(t, Pull, Options{Mechanism: mechanism.Plain{Server: true, Authenticator: auth}})
	ep := bindWS(t, pull, "ws://127.0.0.1:*")
	push := newSock(t, Push, Options{Mechanism: mechanism.Plain{Username: "alice", Password: "secret"}})
	push.Connect(ep)
	send(t, push, "hi")
	m, err := pull.Recv(testCtx(t))
	if err != nil || string(m.Frames[0]) != "hi" || m.Metadata.Get("User-Id") != "alice" {
		t.Fatalf("Recv = %q %v, User-Id %q", m.Frames, err, m.Metadata.Get("User-Id"))
	}
	// A NULL client is offered nothing it can take: the server refuses
	// the upgrade.
	events := pull.Monitor(EventHandshakeFailedProtocol)
	null := newSock(t, Push, Options{})
	null.Connect(ep)
	ev := expectEvent(t, events, EventHandshakeFailedProtocol)
	if !errors.Is(ev.Err, ErrWebSocket) || !errors.Is(ev.Err, frame.ErrProtocol) {
		t.Errorf("server's error %v", ev.Err)
	}
	waitFor(t, "the client's error", func() bool { return errors.Is(null.Err(), ErrWebSocket) })
}

func TestWSReconnect(t *testing.T) {
	pull := newSock(t, Pull, Options{})
	ep := bindWS(t, pull, "ws://127.0.0.1:*/r")
	push := newSock(t, Push, Options{})
	push.Connect(ep)
	events := push.Monitor(EventDisconnected)
	send(t, push, "one")
	recv(t, pull)
	pull.Close()
	// What is sent before the PUSH sees the connection end is lost with
	// it, over ws as over tcp.
	expectEvent(t, events, EventDisconnected)
	pull2 := newSock(t, Pull, Options{})
	if err := pull2.Bind(ep); err != nil {
		t.Skipf("port taken meanwhile: %v", err)
	}
	send(t, push, "two")
	if got := recv(t, pull2); got[0] != "two" {
		t.Fatalf("got %q", got)
	}
}

func TestWSSeveralEndpoints(t *testing.T) {
	pull := newSock(t, Pull, Options{})
	ep1 := bindWS(t, pull, "ws://127.0.0.1:*/a")
	ep2 := bindWS(t, pull, "tcp://127.0.0.1:*")
	ep3 := bindWS(t, pull, "ws://127.0.0.1:*/b")
	for _, ep := range []string{ep1, ep2, ep3} {
		push := newSock(t, Push, Options{})
		push.Connect(ep)
		send(t, push, ep)
		if got := recv(t, pull); got[0] != ep {
			t.Fatalf("got %q from %s", got, ep)
		}
	}
	if err := pull.Unbind(ep1); err != nil {
		t.Fatal(err)
	}
}

func TestWSEndpoints(t *testing.T) {
	s := newSock(t, Pull, Options{})
	for _, ep := range []string{"ws://127.0.0.1", "ws://*:5555/x", "ws://:1/", "wss://127.0.0.1:0/"} {
		err := s.Connect(ep)
		if !errors.Is(err, ErrInvalidEndpoint) {
			t.Errorf("Connect(%q) = %v", ep, err)
		}
	}
	stream := newSock(t, Stream, Options{})
	if err := stream.Bind("ws://127.0.0.1:*"); !errors.Is(err, ErrInvalidEndpoint) {
		t.Errorf("STREAM Bind ws: %v", err)
	}
	if err := stream.Connect("ws://127.0.0.1:5555"); !errors.Is(err, ErrInvalidEndpoint) {
		t.Errorf("STREAM Connect ws: %v", err)
	}
	ep := bindWS(t, s, "ws://127.0.0.1:*")
	if !strings.HasSuffix(ep, "/") {
		t.Errorf("LastEndpoint %q has no path", ep)
	}
}

// TestWSHostile feeds a ws listener what no ZWS 2.0 client sends: each is
// refused with a typed error and the connection closed, and a well-behaved
// client is served meanwhile.
func TestWSHostile(t *testing.T) {
	pull := newSock(t, Pull, Options{})
	ep := bindWS(t, pull, "ws://127.0.0.1:*/")
	hostport := strings.TrimSuffix(strings.TrimPrefix(ep, "ws://"), "/")
	events := pull.Monitor(EventHandshakeFailedProtocol | EventDisconnected)

	good := newSock(t, Push, Options{})
	good.Connect(ep)

	// Not HTTP at all: a ZMTP greeting.
	nc, err := net.Dial("tcp", hostport)
	if err != nil {
		t.Fatal(err)
	}
	nc.Write(frame.AppendGreeting(nil, frame.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"}))
	ev := expectEvent(t, events, EventHandshakeFailedProtocol)
	if !errors.Is(ev.Err, ErrWebSocket) || !errors.Is(ev.Err, frame.ErrProtocol) {
		t.Errorf("a ZMTP client: %v", ev.Err)
	}
	waitClosed(t, nc)

	// An HTTP request that is no upgrade.
	nc, _ = net.Dial("tcp", hostport)
	nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Protocol: ZWS2.0/NULL\r\n\r\n"))
	ev = expectEvent(t, events, EventHandshakeFailedProtocol)
	if !errors.Is(ev.Err, frame.ErrProtocol) {
		t.Errorf("a plain GET: %v", ev.Err)
	}
	waitClosed(t, nc)

	// WebSocket clients that send bad messages in place of READY.
	ready := frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("PUSH")}})[2:]
	for _, c := range []struct {
		name string
		typ  websocket.MessageType
		msg  []byte
	}{
		{"text", websocket.MessageText, append([]byte{zwsCommand}, ready...)},
		{"empty", websocket.MessageBinary, nil},
		{"reserved flags", websocket.MessageBinary, append([]byte{0x80 | zwsCommand}, ready...)},
		{"command with more", websocket.MessageBinary, append([]byte{zwsCommand | zwsMore}, ready...)},
		{"message before READY", websocket.MessageBinary, []byte{0, 'h', 'i'}},
	} {
		ctx := testCtx(t)
		ws, _, err := websocket.Dial(ctx, ep, &websocket.DialOptions{Subprotocols: []string{"ZWS2.0/NULL"}})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		ws.Write(ctx, c.typ, c.msg)
		ev := expectEvent(t, events, EventHandshakeFailedProtocol)
		if !errors.Is(ev.Err, frame.ErrProtocol) && !errors.Is(ev.Err, ErrMessageBeforeReady) {
			t.Errorf("%s: %v", c.name, ev.Err)
		}
		// The server closes: our reads end (after its READY).
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				if ctx.Err() != nil {
					t.Errorf("%s: the connection stays open", c.name)
				}
				break
			}
		}
		ws.CloseNow()
	}

	// The well-behaved client got through all along.
	send(t, good, "still here")
	if got := recv(t, pull); got[0] != "still here" {
		t.Fatalf("got %q", got)
	}
}

// waitClosed reads from nc until the peer closes it.
func waitClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(waitTimeout))
	var b [512]byte
	for {
		if _, err := nc.Read(b[:]); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server left the connection open")
			}
			return
		}
	}
}

// TestWSConnectToNonWebSocket connects over ws to an HTTP server that
// is no WebSocket server: the upgrade fails with an error of the
// WebSocket layer, which the socket reports while it retries.
func TestWSConnectToNonWebSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(ln)
	defer srv.Close()
	push := newSock(t, Push, Options{})
	push.Connect("ws://" + ln.Addr().String() + "/zmq")
	waitFor(t, "the upgrade failure", func() bool {
		var ee *EndpointError
		return errors.As(push.Err(), &ee) && errors.Is(ee, ErrWebSocket) && errors.Is(ee, frame.ErrProtocol)
	})
	if !strings.Contains(push.Err().Error(), "404") {
		t.Errorf("Err() = %v, want the server's 404", push.Err())
	}
}

func TestZWSEncoderSplits(t *testing.T) {
	// Our greeting, a READY command, a two-frame message with a long
	// frame and an empty last frame, written in every two-way split.
	var stream []byte
	stream = frame.AppendGreeting(stream, frame.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"})
	ready := (&frame.Command{Name: "READY"}).AppendBody(nil)
	stream = frame.AppendFrame(stream, frame.FlagCommand, ready)
	long := bytes.Repeat([]byte{7}, 300)
	stream = frame.AppendFrame(stream, frame.FlagMore, long)
	stream = frame.AppendFrame(stream, 0, nil)
	want := [][]byte{append([]byte{zwsCommand}, ready...), append([]byte{zwsMore}, long...), {0}}
	for i := 0; i <= len(stream); i++ {
		e := zwsEncoder{skip: frame.GreetingSize}
		var got [][]byte
		send := func(m []byte) error { got = append(got, bytes.Clone(m)); return nil }
		if err := e.feed(stream[:i], send); err != nil {
			t.Fatal(err)
		}
		if err := e.feed(stream[i:], send); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("split %d: %d messages", i, len(got))
		}
		for k := range want {
			if !bytes.Equal(got[k], want[k]) {
				t.Fatalf("split %d: message %d is %x, want %x", i, k, got[k], want[k])
			}
		}
	}
}

func TestZWSToZMTP(t *testing.T) {
	for _, c := range []struct {
		in      []byte
		hdr     []byte
		wantErr bool
	}{
		{[]byte{0, 'a'}, []byte{0, 1}, false},
		{[]byte{1}, []byte{1, 0}, false},
		{[]byte{2, 4, 'P', 'I', 'N', 'G'}, []byte{4, 5}, false},
		{append([]byte{0}, make([]byte, 256)...), []byte{2, 0, 0, 0, 0, 0, 0, 1, 0}, false},
		{nil, nil, true},
		{[]byte{4, 'x'}, nil, true},
		{[]byte{0x80}, nil, true},
	} {
		hdr, body, err := zwsToZMTP(c.in)
		if c.wantErr {
			if !errors.Is(err, frame.ErrProtocol) {
				t.Errorf("%x: err %v", c.in, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(hdr, c.hdr) || !bytes.Equal(body, c.in[1:]) {
			t.Errorf("%x: %x %x %v", c.in, hdr, body, err)
		}
	}
}

// TestWSHeartbeat: with heartbeats on, a peer that answers no WebSocket
// ping is dropped after HeartbeatTimeout.
func TestWSHeartbeat(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			Subprotocols:   []string{"ZWS2.0/NULL"},
			OnPingReceived: func(context.Context, []byte) bool { return false }, // never answers
		})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ready := frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("PULL")}})[2:]
		ws.Write(r.Context(), websocket.MessageBinary, append([]byte{zwsCommand}, ready...))
		for {
			if _, _, err := ws.Read(context.Background()); err != nil {
				return
			}
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()

	push := newSock(t, Push, Options{HeartbeatInterval: 20 * time.Millisecond, HeartbeatTimeout: 100 * time.Millisecond})
	events := push.Monitor(EventHandshakeSucceeded | EventDisconnected)
	push.Connect("ws://" + ln.Addr().String() + "/")
	expectEvent(t, events, EventHandshakeSucceeded)
	ev := expectEvent(t, events, EventDisconnected)
	var te *TimeoutError
	if !errors.As(ev.Err, &te) {
		t.Errorf("disconnected with %v, want a TimeoutError", ev.Err)
	}
}

// scriptedConn is a connection whose peer sends in and then closes; what
// is written to it is dropped.
type scriptedConn struct {
	r *bytes.Reader
}

func (c *scriptedConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *scriptedConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *scriptedConn) Close() error                     { return nil }
func (c *scriptedConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *scriptedConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *scriptedConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptedConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzZWSServer feeds a ws listener's connection what a client might send:
// the upgrade request and frames. It must end in an error, never a panic
// or a hang, and hand out only well-formed ZMTP frames.
func FuzzZWSServer(f *testing.F) {
	req := "GET /zmq HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: ZWS2.0/NULL\r\nSec-WebSocket-Version: 13\r\n\r\n"
	ready := append([]byte{zwsCommand}, frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("PUSH")}})[2:]...)
	// A client's frame, masked with the key 0.
	masked := func(op byte, p []byte) []byte {
		return append([]byte{0x80 | op, 0x80 | byte(len(p)), 0, 0, 0, 0}, p...)
	}
	f.Add([]byte(req))
	f.Add(append([]byte(req), masked(2, ready)...))
	f.Add(append(append([]byte(req), masked(2, ready)...), masked(2, []byte{0, 'h', 'i'})...))
	f.Add(append([]byte(req), masked(1, ready)...))
	f.Add(append([]byte(req), masked(9, []byte("ping"))...))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		z := newZWSConn(&scriptedConn{r: bytes.NewReader(in)}, false, "", &Options{MaxMessageSize: 1 << 16})
		var stream []byte
		buf := make([]byte, 512)
		for {
			n, err := z.Read(buf)
			stream = append(stream, buf[:n]...)
			if err != nil {
				break
			}
			if len(stream) > 1<<20 {
				t.Fatalf("%d octets out of %d in", len(stream), len(in))
			}
		}
		z.Close()
		if len(stream) == 0 {
			return
		}
		// The greeting, then whole frames (the last may be cut short).
		if len(stream) < frame.GreetingSize {
			t.Fatalf("a greeting of %d octets", len(stream))
		}
		rest := stream[frame.GreetingSize:]
		for len(rest) > 0 {
			h, n, err := frame.ParseHeader(rest)
			if errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("a header cut short: %x", rest)
			}
			if err != nil && !errors.Is(err, frame.ErrProtocol) {
				t.Fatal(err)
			}
			if err != nil {
				// command+more passes through for the reader to refuse.
				return
			}
			if uint64(len(rest)-n) < h.Size {
				t.Fatalf("a frame of %d octets with %d", h.Size, len(rest)-n)
			}
			rest = rest[n+int(h.Size):]
		}
	})
}

// TestZWSWireBytes pins what our client sends, as libzmq 4.3.5 sends it:
// a GET of the endpoint's path offering ZWS2.0/NULL, then, once the server
// took it, no greeting but READY as a masked binary message whose first
// octet is the command flag; and what it accepts from a libzmq server
// (whose 101 response carries headers in libzmq's order and case).
func TestZWSWireBytes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	push := newSock(t, Push, Options{})
	push.Connect("ws://" + ln.Addr().String() + "/some/path")
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(waitTimeout))
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != "GET" || req.URL.Path != "/some/path" || req.Header.Get("Sec-WebSocket-Protocol") != "ZWS2.0/NULL" ||
		req.Header.Get("Upgrade") != "websocket" || req.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Fatalf("upgrade request %s %s %v", req.Method, req.URL, req.Header)
	}
	// libzmq 4.3.5's answer, byte for byte but for the key.
	accept := websocketAccept(req.Header.Get("Sec-WebSocket-Key"))
	nc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + accept + "\r\nSec-WebSocket-Protocol: ZWS2.0/NULL\r\n\r\n" +
		"\x82\x1b\x02\x05READY\x0bSocket-Type\x00\x00\x00\x04PULL"))
	// Our READY: FIN+binary, masked, 27 octets.
	var hdr [6]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		t.Fatal(err)
	}
	if hdr[0] != 0x82 || hdr[1] != 0x80|0x1b {
		t.Fatalf("frame header %x, want 82 9b", hdr[:2])
	}
	body := make([]byte, 0x1b)
	io.ReadFull(br, body)
	for i := range body {
		body[i] ^= hdr[2+i%4]
	}
	if want := "\x02\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH"; string(body) != want {
		t.Fatalf("READY %q, want %q", body, want)
	}
	// A message is then one frame per ZMTP frame: 01 'a', 00 'b'.
	send(t, push, "a", "b")
	for _, want := range []string{"\x01a", "\x00b"} {
		io.ReadFull(br, hdr[:])
		m := make([]byte, hdr[1]&0x7f)
		io.ReadFull(br, m)
		for i := range m {
			m[i] ^= hdr[2+i%4]
		}
		if hdr[0] != 0x82 || string(m) != want {
			t.Fatalf("frame %x %q, want 82 %q", hdr[0], m, want)
		}
	}
}

// websocketAccept is RFC 6455's Sec-WebSocket-Accept for a key.
func websocketAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// pingPeer is the server end of a ZWS connection, written by hand so that
// it can answer WebSocket pings as a given peer does: "empty" with an empty
// pong, as libzmq 4.3.5 does; "echo" with a pong echoing the ping's
// payload, as RFC 6455 asks; "none" not at all. It counts the pings it
// receives and returns when the connection ends.
func pingPeer(nc net.Conn, answer string, pings *atomic.Int64) error {
	defer nc.Close()
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil {
		return err
	}
	if _, err := nc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + websocketAccept(req.Header.Get("Sec-WebSocket-Key")) +
		"\r\nSec-WebSocket-Protocol: ZWS2.0/NULL\r\n\r\n")); err != nil {
		return err
	}
	for {
		// A client's frame: short (a ping's payload is at most 125 octets,
		// and nothing else is sent here) and masked.
		var hdr [6]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return nil
		}
		p := make([]byte, hdr[1]&0x7f)
		if _, err := io.ReadFull(br, p); err != nil {
			return nil
		}
		for i := range p {
			p[i] ^= hdr[2+i%4]
		}
		if hdr[0]&0x0f != 0x9 {
			continue
		}
		pings.Add(1)
		var pong []byte
		switch answer {
		case "empty":
			pong = []byte{0x8a, 0}
		case "echo":
			pong = append([]byte{0x8a, byte(len(p))}, p...)
		default:
			continue
		}
		if _, err := nc.Write(pong); err != nil {
			return nil
		}
	}
}

// TestWSHeartbeatPongs runs a ws client connection with heartbeats against
// peers answering pings in each way, on synctest's fake clock: a peer that
// answers with any pong, empty as libzmq's or echoing the ping, keeps the
// connection up through many timeouts, every ping answered; one that never
// answers has it end with a timeout exactly HeartbeatTimeout after the
// first ping.
func TestWSHeartbeatPongs(t *testing.T) {
	const ivl, timeout = 100 * time.Millisecond, 300 * time.Millisecond
	for _, answer := range []string{"empty", "echo", "none"} {
		t.Run(answer, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x, y := net.Pipe()
				var pings atomic.Int64
				peer := make(chan error, 1)
				go func() { peer <- pingPeer(y, answer, &pings) }()
				z := newZWSConn(x, true, "ws://peer/", &Options{HeartbeatInterval: ivl, HeartbeatTimeout: timeout})
				start := time.Now()
				readErr := make(chan error, 1)
				go func() {
					buf := make([]byte, 256)
					for {
						if _, err := z.Read(buf); err != nil {
							readErr <- err
							return
						}
					}
				}()
				if answer == "none" {
					err := <-readErr
					if !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Errorf("read: %v, want a deadline exceeded", err)
					}
					if d := time.Since(start); d != ivl+timeout {
						t.Errorf("dropped after %v, want %v", d, ivl+timeout)
					}
					if n := pings.Load(); n != 1 {
						t.Errorf("%d pings sent, want 1", n)
					}
					z.Close()
				} else {
					time.Sleep(10 * timeout)
					synctest.Wait()
					select {
					case err := <-readErr:
						t.Fatalf("connection ended: %v", err)
					default:
					}
					n, answered := pings.Load(), z.pongs.Load()
					if n < 5 || answered != uint64(n) {
						t.Errorf("%d pings sent, %d pongs received over %v", n, answered, 10*timeout)
					}
					z.Close()
					<-readErr
				}
				if err := <-peer; err != nil {
					t.Errorf("peer: %v", err)
				}
			})
		})
	}
}
