package frame_test

import (
	"fmt"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
)

// BenchmarkReadFrameDrained reads frames from a source that has one frame
// ready at a time, as from a peer whose messages the Reader keeps up with:
// every Read returns the rest of one frame, less than asked for.
func BenchmarkReadFrameDrained(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			src := &oneFrameAtATime{frame: frame.AppendFrame(nil, 0, make([]byte, size))}
			r := frame.NewReader(src, 0)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				f, err := r.ReadFrame()
				if err != nil || len(f.Body) != size {
					b.Fatalf("ReadFrame: %d octets, %v", len(f.Body), err)
				}
			}
			b.ReportMetric(float64(src.reads)/float64(b.N), "reads/op")
		})
	}
}

// oneFrameAtATime returns the same encoded frame over and over, never more
// than the rest of one frame per Read.
type oneFrameAtATime struct {
	frame []byte
	pos   int
	reads int
}

func (s *oneFrameAtATime) Read(p []byte) (int, error) {
	s.reads++
	n := copy(p, s.frame[s.pos:])
	if s.pos += n; s.pos == len(s.frame) {
		s.pos = 0
	}
	return n, nil
}

// BenchmarkReadLargeBody reads a stream of 64 KiB frames, as a socket
// receiving them back to back delivers it (every Read fills what it is
// given): keeping one buffer for large bodies (the default), handing each
// body over in new memory (SetHandOver), and handing it over in memory
// given back, as a receiver that copies each message out and returns its
// memory does (SetBodyMemory). copied/op is the octets that went through
// the read buffer per frame.
func BenchmarkReadLargeBody(b *testing.B) {
	const size = 64 << 10
	for _, mode := range []string{"keep", "handover", "handover+memory"} {
		b.Run(mode, func(b *testing.B) {
			src := &cycleReader{data: frame.AppendFrame(nil, 0, make([]byte, size))}
			r := frame.NewReader(src, 0)
			var last []byte
			switch mode {
			case "handover+memory":
				r.SetBodyMemory(func(int) []byte { return last })
				fallthrough
			case "handover":
				r.SetHandOver(true)
			}
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				f, err := r.ReadFrame()
				if err != nil || len(f.Body) != size {
					b.Fatalf("ReadFrame: %d octets, %v", len(f.Body), err)
				}
				last = f.Body
			}
		})
	}
}
