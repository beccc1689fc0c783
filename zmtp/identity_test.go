package zmtp

import (
	"bytes"
	"context"
	"net"
	"testing"

	"github.com/zmtp-go/zmtp/mechanism"
)

// zeroID is a routing id starting with a zero octet, which libzmq 4.3
// accepts as ZMQ_ROUTING_ID and from peers.
var zeroID = []byte{0, 0xFF, 'b', 'i', 'n'}

// pipePair runs the handshakes of ca and cb over a net.Pipe.
func pipePair(t *testing.T, ca, cb ConnConfig) (*Conn, *Conn) {
	t.Helper()
	a, b := net.Pipe()
	ch := make(chan error, 1)
	var y *Conn
	go func() {
		var err error
		y, err = NewConn(context.Background(), b, cb)
		ch <- err
	}()
	x, err := NewConn(context.Background(), a, ca)
	errB := <-ch
	if x != nil {
		t.Cleanup(func() { x.Close() })
	}
	if y != nil {
		t.Cleanup(func() { y.Close() })
	}
	if err != nil || errB != nil {
		t.Fatalf("handshake: %v / %v", err, errB)
	}
	return x, y
}

// TestZeroPrefixedIdentity checks that an Identity starting with 0 is sent
// and accepted with every mechanism.
func TestZeroPrefixedIdentity(t *testing.T) {
	spub, ssec, err := mechanism.GenerateCurveKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, csec, err := mechanism.GenerateCurveKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	accept := mechanism.AuthenticatorFunc(func(context.Context, *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
		return mechanism.ZAPResponse{StatusCode: 200}, nil
	})
	for _, tt := range []struct {
		name           string
		client, server mechanism.Mechanism
	}{
		{"NULL", mechanism.Null{}, mechanism.Null{}},
		{"PLAIN", mechanism.Plain{Username: "u", Password: "p"}, mechanism.Plain{Server: true, Authenticator: accept}},
		{"CURVE", mechanism.Curve{SecretKey: csec, ServerKey: spub}, mechanism.Curve{Server: true, SecretKey: ssec, AllowAnyClient: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			routerID := []byte{0}
			dealer, router := pipePair(t,
				ConnConfig{SocketType: "DEALER", Identity: zeroID, Mechanism: tt.client},
				ConnConfig{SocketType: "ROUTER", Identity: routerID, Mechanism: tt.server})
			if got, _ := router.PeerMetadata().Lookup("Identity"); !bytes.Equal(got, zeroID) {
				t.Errorf("ROUTER sees Identity % X, want % X", got, zeroID)
			}
			if got, _ := dealer.PeerMetadata().Lookup("Identity"); !bytes.Equal(got, routerID) {
				t.Errorf("DEALER sees Identity % X, want % X", got, routerID)
			}
		})
	}
}

// TestRoutingIDLength checks the routing id options: 1 to 255 octets, a
// leading zero octet allowed, as libzmq's ZMQ_ROUTING_ID.
func TestRoutingIDLength(t *testing.T) {
	long := bytes.Repeat([]byte{0}, 256)
	if _, err := NewSocket(Dealer, Options{RoutingID: long}); err == nil {
		t.Error("NewSocket took a RoutingID of 256 octets")
	}
	s := newSock(t, Dealer, Options{RoutingID: long[:255]})
	if err := s.ConnectWith("tcp://127.0.0.1:1", ConnectOptions{RoutingID: long}); err == nil {
		t.Error("ConnectWith took a RoutingID of 256 octets")
	}
	if err := s.ConnectWith("tcp://127.0.0.1:1", ConnectOptions{RoutingID: long[:255]}); err != nil {
		t.Errorf("ConnectWith, RoutingID of 255 zero octets: %v", err)
	}
	a, _ := net.Pipe()
	if _, err := NewConn(context.Background(), a, ConnConfig{SocketType: "DEALER", Identity: long}); err == nil {
		t.Error("NewConn took an Identity of 256 octets")
	}
}

// TestDealerZeroPrefixedRoutingID checks that a ROUTER addresses a peer
// by a routing id starting with 0, chosen by the peer or given to
// ConnectWith.
func TestDealerZeroPrefixedRoutingID(t *testing.T) {
	router := newSock(t, Router, Options{})
	ep := bindLocal(t, router)
	dealer := newSock(t, Dealer, Options{RoutingID: zeroID})
	if err := dealer.Connect(ep); err != nil {
		t.Fatal(err)
	}
	send(t, dealer, "hi")
	if got := recv(t, router); got[0] != string(zeroID) || got[1] != "hi" {
		t.Fatalf("router got %q", got)
	}
	send(t, router, string(zeroID), "back")
	if got := recv(t, dealer); got[0] != "back" {
		t.Fatalf("dealer got %q", got)
	}

	// The id given to ConnectWith may start with 0 too.
	bound := newSock(t, Dealer, Options{})
	ep = bindLocal(t, bound)
	r := newSock(t, Router, Options{})
	if err := r.ConnectWith(ep, ConnectOptions{RoutingID: []byte{0, 's'}}); err != nil {
		t.Fatal(err)
	}
	send(t, bound, "from bound")
	if got := recv(t, r); got[0] != "\x00s" || got[1] != "from bound" {
		t.Fatalf("router got %q", got)
	}
}
