package frame_test

import (
	"fmt"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
)

var benchSizes = []int{1, 64, 1024, 65536}

// encodedStream returns at least 256 KiB (and at least 16 frames) of
// frames with bodies of size octets.
func encodedStream(size int) []byte {
	body := make([]byte, size)
	var stream []byte
	for i := 0; i < 16 || len(stream) < 256<<10; i++ {
		stream = frame.AppendFrame(stream, 0, body)
	}
	return stream
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			body := make([]byte, size)
			buf := make([]byte, 0, frame.MaxHeaderSize+size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				buf = frame.AppendFrame(buf[:0], 0, body)
			}
		})
	}
}

func BenchmarkReadFrame(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			r := frame.NewReader(&cycleReader{data: encodedStream(size)}, 0)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				f, err := r.ReadFrame()
				if err != nil || len(f.Body) != size {
					b.Fatalf("ReadFrame: %d octets, %v", len(f.Body), err)
				}
			}
		})
	}
}

func BenchmarkParseCommand(b *testing.B) {
	body := frame.AppendPing(nil, 10, []byte("ctx"))[2:]
	b.ReportAllocs()
	for b.Loop() {
		cmd, err := frame.ParseCommand(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := frame.ParsePing(cmd.Data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSteadyStateAllocs checks that encoding into a reused buffer and
// decoding from a Reader allocate nothing once warmed up.
func TestSteadyStateAllocs(t *testing.T) {
	for _, size := range benchSizes {
		body := make([]byte, size)
		buf := make([]byte, 0, frame.MaxHeaderSize+size)
		if n := testing.AllocsPerRun(100, func() {
			buf = frame.AppendFrame(buf[:0], frame.FlagMore, body)
		}); n != 0 {
			t.Errorf("AppendFrame of %d octets: %v allocations", size, n)
		}
		r := frame.NewReader(&cycleReader{data: encodedStream(size)}, 0)
		if n := testing.AllocsPerRun(100, func() {
			f, err := r.ReadFrame()
			if err != nil || len(f.Body) != size {
				t.Fatalf("ReadFrame: %d octets, %v", len(f.Body), err)
			}
		}); n != 0 {
			t.Errorf("ReadFrame of %d octets: %v allocations", size, n)
		}
	}
	buf := make([]byte, 0, 64)
	ctx := []byte("0123456789abcdef")
	if n := testing.AllocsPerRun(100, func() {
		buf = frame.AppendPing(buf[:0], 10, ctx)
		buf = frame.AppendPong(buf, ctx)
	}); n != 0 {
		t.Errorf("PING and PONG: %v allocations", n)
	}
	// Small commands, mixed with messages, from a one-octet source.
	var stream []byte
	stream = frame.AppendPing(stream, 10, ctx)
	stream = frame.AppendFrame(stream, frame.FlagMore, []byte("key"))
	stream = frame.AppendFrame(stream, 0, make([]byte, 200))
	r := frame.NewReaderSize(&oneByteCycle{cycleReader{data: stream}}, 0, 64)
	if n := testing.AllocsPerRun(300, func() {
		if _, err := r.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("small frames one octet at a time: %v allocations", n)
	}
}

// oneByteCycle is a cycleReader that returns one octet per Read.
type oneByteCycle struct{ cycleReader }

func (r *oneByteCycle) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return r.cycleReader.Read(p[:1])
}
