package zmtp

import (
	"errors"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
)

// TestSocketKinds: every socket type in the table can be made and handshakes
// under its own name, except STREAM, which has no handshake; an unknown
// type is refused.
func TestSocketKinds(t *testing.T) {
	for typ, k := range socketKinds {
		if k.raw == frame.KnownSocketType(string(typ)) {
			t.Errorf("%s: raw %v, but KnownSocketType %v", typ, k.raw, !k.raw)
		}
		s, err := NewSocket(typ, Options{})
		if err != nil {
			t.Errorf("NewSocket(%s): %v", typ, err)
			continue
		}
		if s.Type() != typ {
			t.Errorf("Type() = %s, want %s", s.Type(), typ)
		}
		s.Close()
	}
	for _, typ := range []SocketType{"dealer", "CLIENT", ""} {
		if s, err := NewSocket(typ, Options{}); err == nil {
			s.Close()
			t.Errorf("NewSocket(%q) succeeded", typ)
		}
	}
}

// TestSubscribeSupport: only a SUB subscribes for itself, and an XPUB or
// PUB only with XPubManual (for the peer of the last subscription).
func TestSubscribeSupport(t *testing.T) {
	for typ := range socketKinds {
		s := newSock(t, typ, Options{})
		err := s.Subscribe([]byte("a"))
		if (err == nil) != (typ == Sub) {
			t.Errorf("%s: Subscribe = %v", typ, err)
		}
		if typ != Sub && !errors.Is(err, ErrNotSupported) {
			t.Errorf("%s: Subscribe = %v, want ErrNotSupported", typ, err)
		}
		if err := s.Unsubscribe([]byte("a")); (err == nil) != (typ == Sub) {
			t.Errorf("%s: Unsubscribe = %v", typ, err)
		}
	}
	x := newSock(t, XPub, Options{XPubManual: true})
	if err := x.Subscribe([]byte("a")); !errors.Is(err, ErrState) {
		t.Errorf("XPUB_MANUAL Subscribe before any subscription = %v, want ErrState", err)
	}
}
