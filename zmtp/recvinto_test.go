package zmtp

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

func TestRecvIntoReusesMemory(t *testing.T) {
	pull := newSock(t, Pull, Options{})
	ep := bindLocal(t, pull)
	push := newSock(t, Push, Options{})
	push.Connect(ep)
	ctx := testCtx(t)
	var m Message
	for i := range 200 {
		body := []byte(fmt.Sprintf("message %d", i))
		if err := push.Send(ctx, [][]byte{body}); err != nil {
			t.Fatal(err)
		}
		if err := pull.RecvInto(ctx, &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Frames) != 1 || !bytes.Equal(m.Frames[0], body) {
			t.Fatalf("message %d: got %q", i, m.Frames)
		}
		if m.Metadata.Get("Socket-Type") != "PUSH" {
			t.Fatalf("metadata %v", m.Metadata)
		}
	}
	// Multipart messages are copied too.
	send(t, push, "a", "", "ccc")
	if err := pull.RecvInto(ctx, &m); err != nil || len(m.Frames) != 3 || string(m.Frames[2]) != "ccc" || len(m.Frames[1]) != 0 {
		t.Fatalf("multipart: %q %v", m.Frames, err)
	}
}

// The memory an application sent over inproc is never recycled into
// another message.
func TestRecvIntoKeepsInprocMemory(t *testing.T) {
	zc := NewContext()
	pull, _ := zc.NewSocket(Pull, Options{})
	defer pull.Close()
	push, _ := zc.NewSocket(Push, Options{})
	defer push.Close()
	pull.Bind("inproc://keep")
	push.Connect("inproc://keep")
	body := []byte("mine")
	send := [][]byte{body}
	push.Send(context.Background(), send)
	var m Message
	if err := pull.RecvInto(context.Background(), &m); err != nil {
		t.Fatal(err)
	}
	if len(pull.free) != 0 {
		t.Fatal("an inproc message was recycled")
	}
	if &m.Frames[0][0] == &body[0] {
		t.Fatal("RecvInto returned the sender's memory")
	}
}

// With reused buffers on both sides, a PUSH/PULL exchange over TCP
// allocates nothing per message once warm.
func TestZeroAllocsPerMessage(t *testing.T) {
	pull := newSock(t, Pull, Options{})
	ep := bindLocal(t, pull)
	push := newSock(t, Push, Options{})
	push.Connect(ep)
	ctx := context.Background()
	out := [][]byte{make([]byte, 64)}
	var in Message
	roundTrip := func() {
		if err := push.Send(ctx, out); err != nil {
			t.Fatal(err)
		}
		if err := pull.RecvInto(ctx, &in); err != nil {
			t.Fatal(err)
		}
	}
	for range 1000 {
		roundTrip() // warm up: buffers, free list, goroutine stacks
	}
	if n := testing.AllocsPerRun(2000, roundTrip); n != 0 {
		t.Errorf("%.2f allocations per message, want 0", n)
	}
}
