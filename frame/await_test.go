package frame_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/frame"
)

// TestReaderAwaitTimeoutLosesNothing: a read deadline stops Await at any
// point of a frame, and the frame is read whole afterwards, as a caller
// that stops waiting for its peer and comes back later needs.
func TestReaderAwaitTimeoutLosesNothing(t *testing.T) {
	x, y := net.Pipe()
	defer x.Close()
	defer y.Close()
	body := bytes.Repeat([]byte("z"), 300)
	first := frame.AppendFrame(nil, frame.FlagMore, body)
	wire := frame.AppendFrame(first, 0, []byte("end"))
	rd := frame.NewReader(x, 0)
	timesOut := func(at int) {
		t.Helper()
		// Nothing more arrives: the deadline ends the wait.
		x.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		whole, err := rd.Await()
		if !errors.Is(err, os.ErrDeadlineExceeded) || whole {
			t.Fatalf("cut at %d: Await = %v, %v; want a timeout", at, whole, err)
		}
		x.SetReadDeadline(time.Time{})
	}
	awaitFrame := func() []byte {
		t.Helper()
		whole, err := rd.Await()
		if err != nil || !whole {
			t.Fatalf("Await = %v, %v", whole, err)
		}
		f, err := rd.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte(nil), f.Body...)
	}
	// Cut after one octet of the header, inside the long body, and
	// inside the second frame's header.
	prev, consumed := 0, 0
	for _, at := range []int{1, 9, 150, len(first) + 1} {
		go y.Write(wire[prev:at])
		for consumed+rd.Buffered() < at {
			// Await reads what arrives, then waits for more until the
			// deadline.
			x.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			if whole, err := rd.Await(); whole {
				break
			} else if !errors.Is(err, os.ErrDeadlineExceeded) && err != nil {
				t.Fatal(err)
			}
		}
		if at == len(first)+1 {
			if got := awaitFrame(); !bytes.Equal(got, body) {
				t.Fatalf("first frame %q", got)
			}
			consumed = len(first)
		}
		timesOut(at)
		prev = at
	}
	go y.Write(wire[prev:])
	if got := awaitFrame(); string(got) != "end" {
		t.Fatalf("second frame %q, want %q", got, "end")
	}
}

// TestReaderAwaitLargeFrame: Await does not read a frame larger than the
// read buffer; ReadFrame does, straight into the body's memory.
func TestReaderAwaitLargeFrame(t *testing.T) {
	body := bytes.Repeat([]byte("L"), 100<<10)
	wire := frame.AppendFrame(nil, 0, body)
	rd := frame.NewReaderSize(bytes.NewReader(wire[:10]), 0, 4096)
	whole, err := rd.Await()
	if err != nil || whole {
		t.Fatalf("Await on a large frame = %v, %v; want false, nil", whole, err)
	}
	rd = frame.NewReaderSize(io.MultiReader(bytes.NewReader(wire[:10]), bytes.NewReader(wire[10:])), 0, 4096)
	if whole, err := rd.Await(); err != nil || whole {
		t.Fatalf("Await on a large frame = %v, %v; want false, nil", whole, err)
	}
	f, err := rd.ReadFrame()
	if err != nil || !bytes.Equal(f.Body, body) {
		t.Fatalf("ReadFrame after Await: %d octets, %v", len(f.Body), err)
	}
}

// TestReaderAwaitErrorsStick: errors other than timeouts stay, as for
// every Reader method, and a malformed header counts as whole so that
// ReadFrame reports it.
func TestReaderAwaitErrorsStick(t *testing.T) {
	rd := frame.NewReader(bytes.NewReader([]byte{0, 5, 'a'}), 0)
	for range 2 {
		if whole, err := rd.Await(); whole || err != io.EOF {
			t.Fatalf("Await at a cut frame = %v, %v; want false, io.EOF", whole, err)
		}
	}
	rd = frame.NewReader(bytes.NewReader([]byte{0xF0, 1, 'a'}), 0)
	if whole, err := rd.Await(); !whole || err != nil {
		t.Fatalf("Await on a bad header = %v, %v; want true, nil", whole, err)
	}
	if _, err := rd.ReadFrame(); !errors.Is(err, frame.ErrReservedFlags) {
		t.Fatalf("ReadFrame = %v, want ErrReservedFlags", err)
	}
}
