package frame

import "testing"

var allSocketTypes = []string{
	SocketReq, SocketRep, SocketDealer, SocketRouter, SocketPub, SocketXPub,
	SocketSub, SocketXSub, SocketPush, SocketPull, SocketPair,
	SocketClient, SocketServer, SocketRadio, SocketDish,
	SocketScatter, SocketGather, SocketPeer, SocketChannel,
}

// TestCompatibleSocketTypesSymmetric: a pair is legal both ways round, and
// every type has a peer.
func TestCompatibleSocketTypesSymmetric(t *testing.T) {
	for _, a := range allSocketTypes {
		peers := 0
		for _, b := range allSocketTypes {
			if CompatibleSocketTypes(a, b) != CompatibleSocketTypes(b, a) {
				t.Errorf("%s/%s legal one way only", a, b)
			}
			if CompatibleSocketTypes(a, b) {
				peers++
			}
		}
		if peers == 0 {
			t.Errorf("%s has no peer type", a)
		}
	}
}

func TestCompatibleSocketTypes(t *testing.T) {
	for _, c := range []struct {
		a, b string
		ok   bool
	}{
		{SocketReq, SocketRouter, true},
		{SocketDealer, SocketDealer, true},
		{SocketReq, SocketReq, false},
		{SocketPub, SocketXSub, true},
		{SocketPub, SocketPub, false},
		{SocketPush, SocketPull, true},
		{SocketPush, SocketPush, false},
		{SocketClient, SocketServer, true},
		{SocketRadio, SocketDish, true},
		{SocketScatter, SocketGather, true},
		{SocketPeer, SocketPeer, true},
		{SocketChannel, SocketChannel, true},
		{SocketChannel, SocketPair, false},
		{SocketStream, SocketStream, false},
		{"dealer", SocketRouter, false},
	} {
		if got := CompatibleSocketTypes(c.a, c.b); got != c.ok {
			t.Errorf("CompatibleSocketTypes(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

// TestKnownSocketType: every type a handshake can carry, and not STREAM,
// which never performs one.
func TestKnownSocketType(t *testing.T) {
	for _, n := range allSocketTypes {
		if !KnownSocketType(n) {
			t.Errorf("KnownSocketType(%s) = false", n)
		}
	}
	for _, n := range []string{SocketStream, "", "dealer", "DEALER "} {
		if KnownSocketType(n) {
			t.Errorf("KnownSocketType(%q) = true", n)
		}
	}
}
