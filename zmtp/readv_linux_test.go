package zmtp

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/frame"
)

// TestReadSourceVector checks that the frame reader of a connection over
// a kernel socket gets a frame.VectorReader that fills both buffers with
// what has arrived, counts it, and reports the end of the stream and
// deadlines as the connection does; a wrapper around a socket keeps its
// own Read.
func TestReadSourceVector(t *testing.T) {
	a, b := tcpPair(t)
	defer a.Close()
	defer b.Close()
	cc := &countingConn{Conn: b}
	vr, ok := readSource(cc).(frame.VectorReader)
	if !ok {
		t.Fatal("no VectorReader over TCP")
	}
	if _, err := a.Write([]byte("abcdefgh")); err != nil {
		t.Fatal(err)
	}
	head, tail := make([]byte, 3), make([]byte, 10)
	got := 0
	for got < 8 {
		// The octets may come in more than one piece.
		var n int
		var err error
		if got < 3 {
			n, err = vr.ReadVector(head[got:], tail)
		} else {
			n, err = vr.ReadVector(tail[got-3:5], tail[5:])
		}
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
	if string(head)+string(tail[:5]) != "abcdefgh" || got != 8 {
		t.Fatalf("read %q %q (%d octets)", head, tail[:5], got)
	}
	if n := cc.n.Load(); n != 8 {
		t.Errorf("counted %d octets, want 8", n)
	}

	b.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := vr.ReadVector(head, tail); !isTimeout(err) {
		t.Errorf("past the deadline: %v, want a timeout", err)
	}
	b.SetReadDeadline(time.Time{})

	a.Close()
	if n, err := vr.ReadVector(head, tail); n != 0 || err != io.EOF {
		t.Errorf("at the end of the stream: %d, %v, want 0, io.EOF", n, err)
	}

	b.Close()
	if _, err := vr.ReadVector(head, tail); !errors.Is(err, net.ErrClosed) {
		t.Errorf("after Close: %v, want net.ErrClosed", err)
	}

	wrapped := &countingConn{Conn: struct{ net.Conn }{b}}
	if _, ok := readSource(wrapped).(frame.VectorReader); ok {
		t.Error("a wrapper around a socket read with readv")
	}
}
