package frame

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// TestReaderMemoryFollowsBytes checks FR-03: a frame that declares 1 GiB
// (allowed by the limit) but delivers a few octets costs memory in
// proportion to what arrived, not to what was declared.
func TestReaderMemoryFollowsBytes(t *testing.T) {
	const declared = 1 << 30
	for _, tt := range []struct {
		name    string
		arrived int
		src     func([]byte) io.Reader
	}{
		{"10 octets with the header", 10, func(b []byte) io.Reader { return bytes.NewReader(b) }},
		{"10 octets one by one", 10, func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }},
		{"200 KiB", 200 << 10, func(b []byte) io.Reader { return bytes.NewReader(b) }},
		{"3 MiB in chunks", 3 << 20, func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := AppendHeader(nil, 0, declared)
			in = append(in, make([]byte, tt.arrived)...)
			r := NewReaderSize(tt.src(in), 0, 64)
			if _, err := r.ReadFrame(); err != io.ErrUnexpectedEOF {
				t.Fatalf("ReadFrame: %v, want io.ErrUnexpectedEOF", err)
			}
			// Growth doubles what has arrived, starting at largeStep.
			if c := cap(r.large); c > 2*tt.arrived+largeStep {
				t.Errorf("large buffer holds %d octets after %d arrived", c, tt.arrived)
			}
			if r.Consumed() != int64(len(in)) {
				t.Errorf("Consumed %d, want %d", r.Consumed(), len(in))
			}
		})
	}
}

// TestReaderReusesLargeBuffer checks that the buffer for large bodies is
// kept between frames and not regrown.
func TestReaderReusesLargeBuffer(t *testing.T) {
	var stream []byte
	for range 4 {
		stream = AppendFrame(stream, 0, make([]byte, 100000))
	}
	r := NewReaderSize(bytes.NewReader(stream), 0, 64)
	if _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	first := cap(r.large)
	for range 3 {
		if _, err := r.ReadFrame(); err != nil {
			t.Fatal(err)
		}
		if cap(r.large) != first {
			t.Fatalf("large buffer regrown from %d to %d", first, cap(r.large))
		}
	}
}
