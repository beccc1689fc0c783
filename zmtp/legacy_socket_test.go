package zmtp

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/zmtp/legacytest"
)

// dialLegacy connects a legacy peer to ep (tcp://host:port) and greets.
func dialLegacy(t *testing.T, ep string, peer *legacytest.Peer) legacytest.Greeting {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(waitTimeout))
	peer.Conn = nc
	g, err := peer.Greet()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// listenLegacy makes a listener for a legacy peer and returns its endpoint
// and a function that accepts one connection and greets.
func listenLegacy(t *testing.T, peer *legacytest.Peer) (string, func() legacytest.Greeting) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return "tcp://" + ln.Addr().String(), func() legacytest.Greeting {
		t.Helper()
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(waitTimeout))
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.SetDeadline(time.Now().Add(waitTimeout))
		peer.Conn = nc
		g, err := peer.Greet()
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
}

func recvLegacy(t *testing.T, p *legacytest.Peer) []string {
	t.Helper()
	m, err := p.Recv()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(m))
	for i, f := range m {
		out[i] = string(f)
	}
	return out
}

func sendLegacy(t *testing.T, p *legacytest.Peer, frames ...string) {
	t.Helper()
	m := make([][]byte, len(frames))
	for i, f := range frames {
		m[i] = []byte(f)
	}
	if err := p.Send(m...); err != nil {
		t.Fatal(err)
	}
}

func sameStrings(a []string, b ...string) bool {
	return strings.Join(a, "|") == strings.Join(b, "|") && len(a) == len(b)
}

// TestLegacyRouterIdentity: the identity frame of a legacy peer is its
// routing id at our ROUTER, which binds; the peer dials.
func TestLegacyRouterIdentity(t *testing.T) {
	for _, kind := range []legacytest.Kind{legacytest.V1, legacytest.V1Signature, legacytest.V2} {
		t.Run(kind.String(), func(t *testing.T) {
			r := newSock(t, Router, Options{})
			ep := bindLocal(t, r)
			peer := &legacytest.Peer{Kind: kind, SocketType: legacytest.Dealer, Identity: []byte("peer-2")}
			dialLegacy(t, ep, peer)
			sendLegacy(t, peer, "hello")
			if got := recv(t, r); !sameStrings(got, "peer-2", "hello") {
				t.Fatalf("ROUTER got %q", got)
			}
			send(t, r, "peer-2", "re: hello")
			if got := recvLegacy(t, peer); !sameStrings(got, "re: hello") {
				t.Fatalf("peer got %q", got)
			}
		})
	}
}

// TestLegacyReqConnects: our REQ connects to a legacy REP.
func TestLegacyReqConnects(t *testing.T) {
	for _, kind := range []legacytest.Kind{legacytest.V1, legacytest.V1Signature, legacytest.V2} {
		t.Run(kind.String(), func(t *testing.T) {
			peer := &legacytest.Peer{Kind: kind, SocketType: legacytest.Rep}
			ep, accept := listenLegacy(t, peer)
			req := newSock(t, Req, Options{RoutingID: []byte("client")})
			if err := req.Connect(ep); err != nil {
				t.Fatal(err)
			}
			if g := accept(); string(g.Identity) != "client" {
				t.Fatalf("peer read identity %q", g.Identity)
			}
			for _, body := range []string{"hello", strings.Repeat("x", 300)} {
				send(t, req, body)
				if got := recvLegacy(t, peer); !sameStrings(got, "", body) {
					t.Fatalf("REP got %q", got)
				}
				sendLegacy(t, peer, "", "re: "+body)
				if got := recv(t, req); !sameStrings(got, "re: "+body) {
					t.Fatalf("REQ got %q", got)
				}
			}
		})
	}
}

// TestLegacyPubToV1Sub: a ZMTP 1.0 subscriber sends no subscriptions (it
// filters what it receives); our PUB sends it everything, as libzmq does.
// An XPUB application sees that subscription as libzmq gives it: 0x01.
func TestLegacyPubToV1Sub(t *testing.T) {
	for _, typ := range []SocketType{Pub, XPub} {
		t.Run(string(typ), func(t *testing.T) {
			pub := newSock(t, typ, Options{})
			ep := bindLocal(t, pub)
			peer := &legacytest.Peer{Kind: legacytest.V1}
			dialLegacy(t, ep, peer)
			if typ == XPub {
				if got := recv(t, pub); !sameStrings(got, "\x01") {
					t.Fatalf("XPUB got %q", got)
				}
			}
			waitFor(t, "the subscription of the 1.0 peer", func() bool { return pubHasTopics(pub) })
			send(t, pub, "weather", "sunny")
			if got := recvLegacy(t, peer); !sameStrings(got, "weather", "sunny") {
				t.Fatalf("SUB got %q", got)
			}
		})
	}
}

// pubHasTopics reports whether a PUB or XPUB has a subscription.
func pubHasTopics(s *Socket) bool { return s.Stats().Topics > 0 }

// TestLegacyPubSubscriptions: a ZMTP 2.0 subscriber sends its
// subscriptions as messages (RFC 15), and our PUB filters on them.
func TestLegacyPubSubscriptions(t *testing.T) {
	pub := newSock(t, Pub, Options{})
	ep := bindLocal(t, pub)
	peer := &legacytest.Peer{Kind: legacytest.V2, SocketType: legacytest.Sub}
	dialLegacy(t, ep, peer)
	sendLegacy(t, peer, "\x01A")
	waitFor(t, "the subscription", func() bool { return pubHasTopics(pub) })
	for _, m := range []string{"B1", "A1", "B2", "A2"} {
		send(t, pub, m)
	}
	for _, want := range []string{"A1", "A2"} {
		if got := recvLegacy(t, peer); !sameStrings(got, want) {
			t.Fatalf("SUB got %q, want %s", got, want)
		}
	}
}

// TestLegacySubConnects: our SUB connects to a legacy PUB and sends its
// subscription as a message (0x01 and the topic), not a command.
func TestLegacySubConnects(t *testing.T) {
	for _, kind := range []legacytest.Kind{legacytest.V1Signature, legacytest.V2} {
		t.Run(kind.String(), func(t *testing.T) {
			peer := &legacytest.Peer{Kind: kind, SocketType: legacytest.Pub}
			ep, accept := listenLegacy(t, peer)
			sub := newSock(t, Sub, Options{})
			if err := sub.Subscribe([]byte("A")); err != nil {
				t.Fatal(err)
			}
			if err := sub.Connect(ep); err != nil {
				t.Fatal(err)
			}
			accept()
			if got := recvLegacy(t, peer); !sameStrings(got, "\x01A") {
				t.Fatalf("PUB got %q, want the subscription message", got)
			}
			sendLegacy(t, peer, "B1")
			sendLegacy(t, peer, "A1")
			if got := recv(t, sub); !sameStrings(got, "A1") {
				t.Fatalf("SUB got %q", got)
			}
		})
	}
}

// TestLegacyRefuseLegacyOption: a socket with RefuseLegacy reports the
// refused peer as a protocol failure with a *LegacyPeerError, and a ZMTP
// 3 peer still connects.
func TestLegacyRefuseLegacyOption(t *testing.T) {
	rep := newSock(t, Rep, Options{RefuseLegacy: true})
	events := rep.Monitor(EventHandshakeFailedProtocol)
	ep := bindLocal(t, rep)
	nc, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(waitTimeout))
	peer := &legacytest.Peer{Conn: nc, Kind: legacytest.V2, SocketType: legacytest.Req}
	if _, err := peer.Greet(); err == nil {
		t.Fatal("a refused peer completed its greeting")
	}
	ev := expectEvent(t, events, EventHandshakeFailedProtocol)
	var lpe *LegacyPeerError
	if !errors.As(ev.Err, &lpe) || lpe.Version != 2 {
		t.Fatalf("event error %v", ev.Err)
	}
	req := newSock(t, Req, Options{})
	if err := req.Connect(ep); err != nil {
		t.Fatal(err)
	}
	send(t, req, "hello")
	if got := recv(t, rep); !sameStrings(got, "hello") {
		t.Fatalf("REP got %q", got)
	}
}
