package frame_test

import (
	"bytes"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
)

func TestReaderHandOver(t *testing.T) {
	var stream []byte
	big1 := bytes.Repeat([]byte{1}, 1000)
	big2 := bytes.Repeat([]byte{2}, 1000)
	stream = frame.AppendFrame(stream, 0, big1)
	stream = frame.AppendFrame(stream, 0, []byte("small"))
	stream = frame.AppendFrame(stream, 0, big2)
	r := frame.NewReaderSize(bytes.NewReader(stream), 0, 100)
	r.SetHandOver(true)
	f1, err := r.ReadFrame()
	if err != nil || !f1.Owned {
		t.Fatalf("large frame: owned=%v err=%v", f1.Owned, err)
	}
	f2, err := r.ReadFrame()
	if err != nil || f2.Owned {
		t.Fatalf("small frame: owned=%v err=%v", f2.Owned, err)
	}
	f3, err := r.ReadFrame()
	if err != nil || !f3.Owned {
		t.Fatalf("second large frame: owned=%v err=%v", f3.Owned, err)
	}
	// The first body was handed over: reading the next large one did not
	// overwrite it.
	if !bytes.Equal(f1.Body, big1) || !bytes.Equal(f3.Body, big2) {
		t.Fatal("a handed-over body was reused")
	}
}
