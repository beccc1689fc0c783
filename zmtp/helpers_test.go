package zmtp

import (
	"errors"
	"slices"
	"testing"
)

// SendString copies each string into a frame of its own; the frames
// share one allocation without overlapping.
func TestStringFrames(t *testing.T) {
	m := stringFrames([]string{"ab", "", "cde"})
	if got := (Message{Frames: m}).Strings(); !slices.Equal(got, []string{"ab", "", "cde"}) {
		t.Fatalf("frames %q", got)
	}
	m[0] = append(m[0], 'X') // a frame grown in place must not spill into the next
	if string(m[2]) != "cde" {
		t.Fatalf("growing frame 0 changed frame 2 to %q", m[2])
	}
	if stringFrames(nil) != nil {
		t.Fatal("no strings, but frames")
	}
}

func TestHelpersRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	pull, err := NewBound(Pull, "tcp://127.0.0.1:*")
	if err != nil {
		t.Fatal(err)
	}
	defer pull.Close()
	push, err := NewConnected(Push, pull.LastEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	defer push.Close()
	push.SendString(ctx, "one")
	push.SendString(ctx, "a", "b")
	push.SendFrames(ctx, []byte("x"), []byte("y"))
	if err := push.SendString(ctx); !errors.Is(err, ErrEmptyMessage) {
		t.Fatalf("SendString of nothing: %v", err)
	}
	if s, err := pull.RecvString(ctx); s != "one" || err != nil {
		t.Fatalf("RecvString: %q, %v", s, err)
	}
	if s, err := pull.RecvStrings(ctx); !slices.Equal(s, []string{"a", "b"}) || err != nil {
		t.Fatalf("RecvStrings: %q, %v", s, err)
	}
	if m, err := pull.Recv(ctx); err != nil || m.Text() != "xy" {
		t.Fatalf("Recv: %v, %v", m, err)
	}
	if _, err := pull.TryRecvString(); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("TryRecvString on nothing: %v", err)
	}
}

// NewBound reports an endpoint it cannot bind, and leaves nothing open.
func TestNewBoundError(t *testing.T) {
	s, err := NewBound(Pull, "tcp://127.0.0.1:*", "bogus://x")
	if err == nil || s != nil {
		t.Fatalf("NewBound with a bad endpoint: %v, %v", s, err)
	}
	if _, err := NewConnected(SocketType("NOPE")); err == nil {
		t.Fatal("NewConnected of an unknown type succeeded")
	}
}
