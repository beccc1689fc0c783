package frame_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/zmtp-go/zmtp/frame"
)

// testStream returns a stream of frames of many shapes, the frames it
// holds and the offsets at which each frame ends.
func testStream() (stream []byte, frames []frame.Frame, ends []int) {
	pattern := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 7)
		}
		return b
	}
	add := func(enc []byte, f frame.Frame) {
		stream = append(stream, enc...)
		frames = append(frames, f)
		ends = append(ends, len(stream))
	}
	for _, f := range []frame.Frame{
		{Flags: frame.FlagMore, Body: []byte("a")},
		{Flags: 0, Body: []byte{}},
		{Flags: frame.FlagCommand, Body: wire(readyDealer)[2:]},
		{Flags: frame.FlagMore, Body: pattern(255)},
		{Flags: frame.FlagMore, Body: pattern(256)},
		{Flags: 0, Body: pattern(1000)},
		{Flags: frame.FlagCommand, Body: wire("04 'PING' 00 0A 'ctx'")},
	} {
		add(frame.AppendFrame(nil, f.Flags, f.Body), f)
	}
	// The long form for small bodies must be accepted.
	add(wire("03 00 00 00 00 00 00 00 05 'hello'"), frame.Frame{Flags: frame.FlagMore, Body: []byte("hello")})
	add(wire("06 00 00 00 00 00 00 00 05 04 'PONG'"), frame.Frame{Flags: frame.FlagCommand, Body: wire("04 'PONG'")})
	add(wire("02 00 00 00 00 00 00 00 00"), frame.Frame{Body: []byte{}})
	return stream, frames, ends
}

// readAll reads frames until an error and returns copies of them with the
// error.
func readAll(r *frame.Reader) ([]frame.Frame, error) {
	var out []frame.Frame
	for {
		f, err := r.ReadFrame()
		if err != nil {
			return out, err
		}
		out = append(out, frame.Frame{Flags: f.Flags, Body: bytes.Clone(f.Body)})
		if f.Body == nil {
			out[len(out)-1].Body = nil
		}
	}
}

// frameCmp compares frames, treating nil and empty bodies alike.
var frameCmp = cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })

var bufSizes = []int{64, 100, 300, frame.DefaultReadBufferSize}

func TestReaderSplits(t *testing.T) {
	stream, want, _ := testStream()
	for _, size := range bufSizes {
		for i := 0; i <= len(stream); i++ {
			src := &chunkReader{chunks: [][]byte{stream[:i], stream[i:]}}
			got, err := readAll(frame.NewReaderSize(src, 0, size))
			if err != io.EOF {
				t.Fatalf("buffer %d, split at %d: error %v, want io.EOF", size, i, err)
			}
			if diff := cmp.Diff(want, got, frameCmp); diff != "" {
				t.Fatalf("buffer %d, split at %d (-want +got):\n%s", size, i, diff)
			}
		}
	}
}

// TestReaderSplitsVector is TestReaderSplits with a source that reads
// the end of a large body and what follows it at once (the read buffers
// of 64, 100 and 300 octets make the stream's larger bodies large).
func TestReaderSplitsVector(t *testing.T) {
	stream, want, _ := testStream()
	for _, size := range bufSizes {
		for i := 0; i <= len(stream); i++ {
			for _, handOver := range []bool{false, true} {
				src := &vectorChunkReader{chunkReader: chunkReader{chunks: [][]byte{stream[:i], stream[i:]}}}
				r := frame.NewReaderSize(src, 0, size)
				r.SetHandOver(handOver)
				got, err := readAll(r)
				if err != io.EOF {
					t.Fatalf("buffer %d, split at %d: error %v, want io.EOF", size, i, err)
				}
				if diff := cmp.Diff(want, got, frameCmp); diff != "" {
					t.Fatalf("buffer %d, split at %d (-want +got):\n%s", size, i, diff)
				}
				if size < 256 && src.vectorReads == 0 {
					t.Fatalf("buffer %d, split at %d: no vectored read", size, i)
				}
			}
		}
	}
}

// TestReaderVectorOneReadPerLargeFrame checks that with a VectorReader
// source that has all the data, a stream of large frames takes one read
// per frame: the body's end and the next header come in together.
func TestReaderVectorOneReadPerLargeFrame(t *testing.T) {
	const large, count = 64 << 10, 8
	var stream []byte
	for i := range count {
		stream = frame.AppendFrame(stream, 0, bytes.Repeat([]byte{byte(i)}, large))
	}
	stream = frame.AppendFrame(stream, 0, []byte("small"))
	for _, handOver := range []bool{false, true} {
		src := &vectorChunkReader{chunkReader: chunkReader{chunks: [][]byte{stream}}}
		r := frame.NewReader(src, 0)
		r.SetHandOver(handOver)
		for i := range count {
			f, err := r.ReadFrame()
			if err != nil || !bytes.Equal(f.Body, bytes.Repeat([]byte{byte(i)}, large)) {
				t.Fatalf("hand-over %v, frame %d: %d octets, %v", handOver, i, len(f.Body), err)
			}
		}
		if f, err := r.ReadFrame(); err != nil || string(f.Body) != "small" {
			t.Fatalf("hand-over %v, last frame: %q, %v", handOver, f.Body, err)
		}
		// The first frame's header takes a read of its own.
		if calls := src.reads + src.vectorReads; calls != count+1 {
			t.Errorf("hand-over %v: %d reads (%d vectored) for %d large frames, want %d", handOver, calls, src.vectorReads, count, count+1)
		}
		if _, err := r.ReadFrame(); err != io.EOF {
			t.Fatalf("hand-over %v, at the end: %v", handOver, err)
		}
	}
}

func TestReaderOddSources(t *testing.T) {
	stream, want, _ := testStream()
	sources := map[string]func() io.Reader{
		"OneByteReader": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(stream)) },
		"HalfReader":    func() io.Reader { return iotest.HalfReader(bytes.NewReader(stream)) },
		"DataErrReader": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(stream)) },
		"DataErrReader(OneByteReader)": func() io.Reader {
			return iotest.DataErrReader(iotest.OneByteReader(bytes.NewReader(stream)))
		},
	}
	for name, src := range sources {
		for _, size := range bufSizes {
			t.Run(fmt.Sprintf("%s/%d", name, size), func(t *testing.T) {
				got, err := readAll(frame.NewReaderSize(src(), 0, size))
				if err != io.EOF {
					t.Fatalf("error %v, want io.EOF", err)
				}
				if diff := cmp.Diff(want, got, frameCmp); diff != "" {
					t.Fatalf("(-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestReaderTruncated reads every prefix of the stream: the frames that
// are complete come out, then io.EOF at a frame boundary or
// io.ErrUnexpectedEOF inside a frame.
func TestReaderTruncated(t *testing.T) {
	stream, frames, ends := testStream()
	for _, size := range bufSizes {
		for i := 0; i <= len(stream); i++ {
			var want []frame.Frame
			wantErr := io.ErrUnexpectedEOF
			if i == 0 {
				wantErr = io.EOF
			}
			for k, end := range ends {
				if end <= i {
					want = append(want, frames[k])
				}
				if end == i {
					wantErr = io.EOF
				}
			}
			for name, src := range map[string]io.Reader{
				"bytes":   bytes.NewReader(stream[:i]),
				"one":     iotest.OneByteReader(bytes.NewReader(stream[:i])),
				"dataErr": iotest.DataErrReader(bytes.NewReader(stream[:i])),
			} {
				got, err := readAll(frame.NewReaderSize(src, 0, size))
				if err != wantErr {
					t.Fatalf("%s, buffer %d, %d octets: error %v, want %v", name, size, i, err, wantErr)
				}
				if diff := cmp.Diff(want, got, frameCmp); diff != "" {
					t.Fatalf("%s, buffer %d, %d octets (-want +got):\n%s", name, size, i, diff)
				}
			}
		}
	}
}

func TestReaderLargeFrame(t *testing.T) {
	body := make([]byte, 1<<20)
	for i := range body {
		body[i] = byte(i ^ i>>8)
	}
	var stream []byte
	stream = frame.AppendFrame(stream, frame.FlagMore, body)
	stream = frame.AppendFrame(stream, 0, []byte("tail"))
	stream = frame.AppendFrame(stream, frame.FlagMore, body[:70000])
	stream = frame.AppendFrame(stream, 0, body[1:])
	want := []frame.Frame{
		{Flags: frame.FlagMore, Body: body},
		{Flags: 0, Body: []byte("tail")},
		{Flags: frame.FlagMore, Body: body[:70000]},
		{Flags: 0, Body: body[1:]},
	}
	chunked := func() io.Reader {
		var chunks [][]byte
		for b := stream; len(b) > 0; {
			n := min(len(b), 1000)
			chunks = append(chunks, b[:n])
			b = b[n:]
		}
		return &chunkReader{chunks: chunks}
	}
	for name, src := range map[string]func() io.Reader{
		"bytes":   func() io.Reader { return bytes.NewReader(stream) },
		"chunks":  chunked,
		"dataErr": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(stream)) },
	} {
		for _, size := range []int{64, frame.DefaultReadBufferSize} {
			got, err := readAll(frame.NewReaderSize(src(), 1<<20, size))
			if err != io.EOF {
				t.Fatalf("%s, buffer %d: error %v", name, size, err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s, buffer %d: %d frames, want %d", name, size, len(got), len(want))
			}
			for i := range want {
				if got[i].Flags != want[i].Flags || !bytes.Equal(got[i].Body, want[i].Body) {
					t.Fatalf("%s, buffer %d: frame %d differs (flags %#x, %d octets)",
						name, size, i, got[i].Flags, len(got[i].Body))
				}
			}
		}
	}
}

func TestReaderHeaderAndBody(t *testing.T) {
	stream := frame.AppendFrame(nil, frame.FlagCommand, wire("04 'PONG'"))
	stream = frame.AppendFrame(stream, 0, []byte("x"))
	r := frame.NewReader(bytes.NewReader(stream), 0)
	h, err := r.ReadHeader()
	if err != nil || h != (frame.Header{Flags: frame.FlagCommand, Size: 5}) {
		t.Fatalf("ReadHeader = %+v, %v", h, err)
	}
	if r.Consumed() != 2 || r.Buffered() != len(stream)-2 {
		t.Errorf("after header: Consumed %d, Buffered %d", r.Consumed(), r.Buffered())
	}
	body, err := r.ReadBody(h.Size)
	if err != nil || !bytes.Equal(body, wire("04 'PONG'")) {
		t.Fatalf("ReadBody = % X, %v", body, err)
	}
	if r.Consumed() != 7 {
		t.Errorf("Consumed %d, want 7", r.Consumed())
	}
	f, err := r.ReadFrame()
	if err != nil || f.IsCommand() || f.More() || string(f.Body) != "x" {
		t.Fatalf("ReadFrame = %+v, %v", f, err)
	}
	if r.Consumed() != int64(len(stream)) || r.Buffered() != 0 {
		t.Errorf("at end: Consumed %d, Buffered %d", r.Consumed(), r.Buffered())
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
	if _, err := r.ReadBody(1 << 40); !errors.Is(err, frame.ErrFrameTooLarge) {
		t.Errorf("ReadBody over the limit: %v", err)
	}
}

func TestReaderNext(t *testing.T) {
	stream := append(wire(g31), frame.AppendFrame(nil, 0, []byte("msg"))...)
	for _, src := range []io.Reader{
		bytes.NewReader(stream),
		iotest.OneByteReader(bytes.NewReader(stream)),
	} {
		r := frame.NewReaderSize(src, 0, 64)
		var greeting []byte
		for _, n := range []int{1, 9, 1} {
			b, err := r.Next(n)
			if err != nil {
				t.Fatalf("Next(%d): %v", n, err)
			}
			greeting = append(greeting, b...)
			if err := frame.CheckGreetingPrefix(greeting); err != nil {
				t.Fatalf("CheckGreetingPrefix: %v", err)
			}
		}
		b, err := r.Next(frame.GreetingSize - frame.GreetingPrefixSize)
		if err != nil {
			t.Fatal(err)
		}
		greeting = append(greeting, b...)
		g, err := frame.ParseGreeting(greeting)
		if err != nil || g.Mechanism != frame.MechanismNull {
			t.Fatalf("ParseGreeting = %+v, %v", g, err)
		}
		f, err := r.ReadFrame()
		if err != nil || string(f.Body) != "msg" {
			t.Fatalf("ReadFrame after the greeting = %+v, %v", f, err)
		}
		if r.Consumed() != int64(len(stream)) {
			t.Errorf("Consumed %d, want %d", r.Consumed(), len(stream))
		}
	}
	r := frame.NewReaderSize(bytes.NewReader(wire(g31)[:30]), 0, 64)
	if _, err := r.Next(frame.GreetingSize); err != io.ErrUnexpectedEOF {
		t.Errorf("Next on a truncated greeting: %v, want io.ErrUnexpectedEOF", err)
	}
	r = frame.NewReaderSize(bytes.NewReader(nil), 0, 64)
	if _, err := r.Next(1); err != io.EOF {
		t.Errorf("Next on an empty stream: %v, want io.EOF", err)
	}
	if _, err := r.Next(65); err == nil {
		t.Error("Next larger than the buffer succeeded")
	}
}

// stuckReader returns data, then no data and no error forever.
type stuckReader struct{ data []byte }

func (r *stuckReader) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReaderNoProgress(t *testing.T) {
	for name, data := range map[string][]byte{
		"nothing":     nil,
		"half header": {0x02, 0},
		"small body":  wire("00 05 'ab'"),
		"large body":  append(frame.AppendHeader(nil, 0, 1000), "abc"...),
	} {
		r := frame.NewReaderSize(&stuckReader{data: data}, 0, 64)
		if _, err := r.ReadFrame(); err != io.ErrNoProgress {
			t.Errorf("%s: %v, want io.ErrNoProgress", name, err)
		}
	}
}

func TestReaderSourceError(t *testing.T) {
	errBoom := errors.New("boom")
	stream := frame.AppendFrame(nil, 0, []byte("ok"))
	for name, tail := range map[string][]byte{
		"between frames": nil,
		"in a header":    {0x02, 0, 0},
		"in a body":      wire("00 05 'ab'"),
		"in a large":     append(frame.AppendHeader(nil, 0, 1000), "abc"...),
	} {
		src := io.MultiReader(bytes.NewReader(stream), bytes.NewReader(tail), iotest.ErrReader(errBoom))
		got, err := readAll(frame.NewReaderSize(src, 0, 64))
		if err != errBoom || len(got) != 1 {
			t.Errorf("%s: %d frames, %v; want 1 frame and the source's error", name, len(got), err)
		}
	}
}

// TestReaderHostile runs the framing cases of the hostile-input list
// through a Reader over a source that fails the read if the Reader asks
// for anything beyond the bytes given.
func TestReaderHostile(t *testing.T) {
	tests := []struct {
		id   string
		in   []byte
		max  int64
		want error
	}{
		{"FR-01 CVE-2019-6250 shape", wire("02 FF FF FF FF FF FF FF F0"), 0, frame.ErrFrameTooLarge},
		{"FR-01 2^63", wire("02 80 00 00 00 00 00 00 00"), 0, frame.ErrFrameTooLarge},
		{"FR-01 2^49 no limit", wire("02 00 02 00 00 00 00 00 00"), 0, frame.ErrFrameTooLarge},
		{"FR-01 2^49 on a command", wire("06 00 02 00 00 00 00 00 00"), 0, frame.ErrFrameTooLarge},
		{"hard cap over a higher limit", frame.AppendHeader(nil, 0, frame.HardMaxFrameSize+1), 1 << 40, frame.ErrFrameTooLarge},
		{"FR-02 1 MiB + 1", frame.AppendHeader(nil, 0, 1<<20+1), 1 << 20, frame.ErrFrameTooLarge},
		{"small limit", wire("00 0B"), 10, frame.ErrFrameTooLarge},
		{"FR-04 reserved bit, first octet only", wire("08"), 0, frame.ErrReservedFlags},
		{"FR-04 F8 00", wire("F8 00"), 0, frame.ErrReservedFlags},
		{"FR-05 MORE on command, first octet only", wire("05"), 0, frame.ErrCommandMore},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			for _, size := range []int{64, frame.DefaultReadBufferSize} {
				src := &strictReader{data: tt.in}
				r := frame.NewReaderSize(src, tt.max, size)
				_, err := r.ReadFrame()
				checkProtocolError(t, err, tt.want)
				if src.reads != 1 {
					t.Errorf("buffer %d: %d reads, want 1", size, src.reads)
				}
				// Asking again gives the same answer, allocates nothing
				// and reads nothing.
				allocs := testing.AllocsPerRun(20, func() {
					if _, err := r.ReadFrame(); !errors.Is(err, tt.want) {
						t.Fatalf("second read: %v", err)
					}
				})
				if allocs != 0 || src.reads != 1 {
					t.Errorf("buffer %d: repeated reads allocate %v times and read %d times", size, allocs, src.reads)
				}
			}
		})
	}
}

// TestReaderHugeHeaderMemory checks that a fresh Reader that meets a
// header declaring an enormous frame allocates only its own read buffer.
func TestReaderHugeHeaderMemory(t *testing.T) {
	for _, in := range []string{
		"02 FF FF FF FF FF FF FF F0",
		"02 80 00 00 00 00 00 00 00",
		"02 00 02 00 00 00 00 00 00",
		"02 00 00 00 00 3F FF FF FF", // under the hard cap, but no body arrives
	} {
		b := wire(in)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := frame.NewReaderSize(&strictReader{data: b}, 0, 64)
		_, err := r.ReadFrame()
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("%s: no error", in)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<10 {
			t.Errorf("%s: allocated %d octets", in, grew)
		}
	}
}

// TestReaderLimit checks FR-02: a frame of exactly the limit is read, one
// octet more is refused before its body is read.
func TestReaderLimit(t *testing.T) {
	const limit = 1 << 20
	body := bytes.Repeat([]byte{0x5A}, limit)
	stream := frame.AppendFrame(nil, 0, body)
	stream = frame.AppendFrame(stream, 0, append(body, 0x5A))
	r := frame.NewReaderSize(bytes.NewReader(stream), limit, 4096)
	f, err := r.ReadFrame()
	if err != nil || !bytes.Equal(f.Body, body) {
		t.Fatalf("frame of exactly the limit: %d octets, %v", len(f.Body), err)
	}
	consumed := r.Consumed()
	_, err = r.ReadFrame()
	checkProtocolError(t, err, frame.ErrFrameTooLarge)
	if r.Consumed() != consumed {
		t.Errorf("the refused frame consumed %d octets", r.Consumed()-consumed)
	}
}

func TestReaderBadFramesInStream(t *testing.T) {
	for _, tt := range []struct {
		id, in string
		want   error
	}{
		{"FR-04", "00 01 'a' 08 03 'abc'", frame.ErrReservedFlags},
		{"FR-04 F8", "01 00 F8 00", frame.ErrReservedFlags},
		{"FR-05", "00 00 05 07 04 'PING' 00 00", frame.ErrCommandMore},
	} {
		for _, src := range []io.Reader{
			bytes.NewReader(wire(tt.in)),
			iotest.OneByteReader(bytes.NewReader(wire(tt.in))),
		} {
			got, err := readAll(frame.NewReaderSize(src, 0, 64))
			if len(got) != 1 {
				t.Errorf("%s: %d frames before the error, want 1", tt.id, len(got))
			}
			checkProtocolError(t, err, tt.want)
		}
	}
	// FR-07: an empty command frame is a valid frame; its body is not a
	// valid command.
	r := frame.NewReader(bytes.NewReader(wire("04 00 04 03 09 'PI'")), 0)
	for range 2 {
		f, err := r.ReadFrame()
		if err != nil || !f.IsCommand() {
			t.Fatalf("ReadFrame = %+v, %v", f, err)
		}
		_, err = frame.ParseCommand(f.Body)
		checkProtocolError(t, err, frame.ErrMalformedCommand)
	}
}

func TestReaderSetMaxFrameSize(t *testing.T) {
	var stream []byte
	for _, size := range []int{100, 100, 101, 5000} {
		stream = frame.AppendFrame(stream, 0, make([]byte, size))
	}
	r := frame.NewReaderSize(bytes.NewReader(stream), 0, 1) // the buffer is raised to 64
	if _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	r.SetMaxFrameSize(100)
	if _, err := r.ReadFrame(); err != nil {
		t.Fatalf("frame of exactly the new limit: %v", err)
	}
	_, err := r.ReadFrame()
	checkProtocolError(t, err, frame.ErrFrameTooLarge)
	r.SetMaxFrameSize(0) // back to the hard cap
	for _, want := range []int{101, 5000} {
		if f, err := r.ReadFrame(); err != nil || len(f.Body) != want {
			t.Fatalf("after lifting the limit: %d octets, %v; want %d", len(f.Body), err, want)
		}
	}
	r = frame.NewReader(bytes.NewReader(frame.AppendHeader(nil, 0, frame.HardMaxFrameSize+1)), 0)
	r.SetMaxFrameSize(1 << 40)
	_, err = r.ReadFrame()
	checkProtocolError(t, err, frame.ErrFrameTooLarge)
}
