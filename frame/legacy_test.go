package frame_test

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtp-go/zmtp/frame"
)

// TestDetectPeer checks the detection of RFC 23 ("Detecting ZMTP 1.0 and
// 2.0 Peers") with libzmq's reading of the revision octet, on every
// prefix: undecided until the octet that decides, then decided for good.
func TestDetectPeer(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  frame.PeerVersion
		after int // octets needed to decide
	}{
		{"1.0 short identity (RFC 13 anonymous)", "01 00", frame.PeerV1, 1},
		{"1.0 short identity 'peer-1'", "07 00 'peer-1'", frame.PeerV1, 1},
		{"1.0 long identity", "FF 00*7 0A 00 'server-id'", frame.PeerV1, 10},
		{"1.0 long identity, flags 7E", "FF 00*8 7E", frame.PeerV1, 10},
		{"signature, revision 0 (1.0 framing)", "FF 00*7 01 7F 00 03 01 00", frame.PeerV1Signature, 11},
		{"2.0 (RFC 15 signature)", "FF 00*8 7F 01 05 00 00", frame.PeerV2, 11},
		{"2.0 with libzmq's padding", "FF 00*7 07 7F 01 03 00 06 'peer-2'", frame.PeerV2, 11},
		{"revision 2: libzmq takes it for 3", "FF 00*8 7F 02 00", frame.PeerV3, 11},
		{"3.1", "FF 00*8 7F 03 01 'NULL' 00*16 00 00*31", frame.PeerV3, 11},
		{"3.0 from libzmq", "FF 00*7 01 7F 03 00 'NULL' 00*16 00 00*31", frame.PeerV3, 11},
		{"4.0", "FF 00*8 7F 04 00", frame.PeerV3, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := wire(tt.in)
			for i := 0; i <= len(b); i++ {
				got := frame.DetectPeer(b[:i])
				want := tt.want
				if i < tt.after {
					want = frame.PeerUndecided
				}
				if got != want {
					t.Fatalf("DetectPeer(% X) = %d, want %d", b[:i], got, want)
				}
			}
		})
	}
	for v, want := range map[frame.PeerVersion][2]int{
		frame.PeerUndecided:   {0, 0},
		frame.PeerV1:          {1, int(frame.FramingV1)},
		frame.PeerV1Signature: {1, int(frame.FramingV1)},
		frame.PeerV2:          {2, int(frame.FramingV2)},
		frame.PeerV3:          {3, int(frame.FramingV3)},
	} {
		if v.Version() != want[0] || int(v.Framing()) != want[1] {
			t.Errorf("PeerVersion %d: version %d framing %d, want %v", v, v.Version(), v.Framing(), want)
		}
	}
}

// TestAppendSignature checks the pseudo-signature of RFC 23 and RFC 15:
// identity length plus one in the padding; the bytes are those libzmq
// 4.3.4 sends (cmd/zmtpdump/testdata/libzmq-zmtp10.txt and -zmtp20.txt).
func TestAppendSignature(t *testing.T) {
	for _, tt := range []struct {
		idLen int
		want  string
	}{
		{0, "FF 00*7 01 7F"},
		{9, "FF 00*7 0A 7F"},
		{255, "FF 00*6 01 00 7F"},
	} {
		got := frame.AppendSignature([]byte{0xAA}, tt.idLen)
		if want := append([]byte{0xAA}, wire(tt.want)...); !bytes.Equal(got, want) {
			t.Errorf("AppendSignature(%d) = % X, want % X", tt.idLen, got, want)
		}
		// The signature is a ZMTP 1.0 identity frame header (0x7F as its
		// flags) announcing idLen octets, and it is versioned to others.
		h, n, err := frame.ParseLegacyHeader(got[1:], frame.FramingV1)
		if err != nil || n != frame.SignatureSize || h.Size != uint64(tt.idLen) {
			t.Errorf("signature as a 1.0 header: %+v, %d, %v", h, n, err)
		}
		if v := frame.DetectPeer(append(got[1:], 3)); v != frame.PeerV3 {
			t.Errorf("our signature and major 3 detected as %d", v)
		}
	}
}

// TestLegacyGreeting checks the 12 octets of a ZMTP 2.0 greeting and of
// libzmq's downgraded one (RFC 15 grammar; libzmq REP: FF 00*7 0A 7F 03 04).
func TestLegacyGreeting(t *testing.T) {
	g, err := frame.ParseLegacyGreeting(wire("FF 00*8 7F 01 05 00 00"))
	if err != nil || g != (frame.LegacyGreeting{Revision: 1, SocketType: 5}) {
		t.Fatalf("ParseLegacyGreeting = %+v, %v", g, err)
	}
	g, err = frame.ParseLegacyGreeting(wire("FF 00*7 01 7F 00 08"))
	if err != nil || g != (frame.LegacyGreeting{Revision: 0, SocketType: 8}) {
		t.Fatalf("ParseLegacyGreeting revision 0 = %+v, %v", g, err)
	}
	full := wire("FF 00*8 7F 01 05")
	for i := range full {
		if _, err := frame.ParseLegacyGreeting(full[:i]); err != io.ErrUnexpectedEOF {
			t.Errorf("ParseLegacyGreeting of %d octets: %v", i, err)
		}
	}
	for _, in := range []string{"01 00", "FF 00*8 7F 03 01", "FF 00*8 7E 01 05", "FF 00*8 7F 02"} {
		_, err := frame.ParseLegacyGreeting(wire(in))
		checkProtocolError(t, err, frame.ErrBadSignature)
	}
	rep, _ := frame.LegacySocketTypeOctet("REP")
	got := frame.AppendDowngradedGreeting(frame.AppendSignature(nil, 9), rep)
	if want := wire("FF 00*7 0A 7F 03 04"); !bytes.Equal(got, want) {
		t.Errorf("downgraded greeting % X, want % X", got, want)
	}
}

// TestLegacySocketTypes checks RFC 15's socket-type octets and libzmq's
// numbers for XPUB and XSUB.
func TestLegacySocketTypes(t *testing.T) {
	rfc15 := []string{"PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH", "XPUB", "XSUB"}
	for i, name := range rfc15 {
		if got, ok := frame.LegacySocketType(uint8(i)); !ok || got != name {
			t.Errorf("LegacySocketType(%d) = %q, %v, want %s", i, got, ok, name)
		}
		if o, ok := frame.LegacySocketTypeOctet(name); !ok || o != uint8(i) {
			t.Errorf("LegacySocketTypeOctet(%s) = %d, %v", name, o, ok)
		}
	}
	if _, ok := frame.LegacySocketType(0xFF); ok {
		t.Error("octet FF names a socket type")
	}
	if _, ok := frame.LegacySocketTypeOctet("NOPE"); ok {
		t.Error("NOPE has an octet")
	}
}

// TestLegacyHeaders checks ZMTP 1.0 and 2.0 headers byte for byte (RFC 13:
// length = body + 1, one octet up to 254; RFC 15: flags then size), and
// that every truncated header is io.ErrUnexpectedEOF.
func TestLegacyHeaders(t *testing.T) {
	tests := []struct {
		f     frame.Framing
		flags byte
		size  int
		want  string
	}{
		{frame.FramingV1, 0, 0, "01 00"},
		{frame.FramingV1, frame.FlagMore, 0, "01 01"},
		{frame.FramingV1, 0, 5, "06 00"},
		{frame.FramingV1, 0, 253, "FE 00"},
		{frame.FramingV1, 0, 254, "FF 00*7 FF 00"},
		{frame.FramingV1, frame.FlagMore, 300, "FF 00*6 01 2D 01"},
		{frame.FramingV2, 0, 0, "00 00"},
		{frame.FramingV2, frame.FlagMore, 255, "01 FF"},
		{frame.FramingV2, 0, 256, "02 00*6 01 00"},
		{frame.FramingV2, frame.FlagMore, 300, "03 00*6 01 2C"},
	}
	for _, tt := range tests {
		got := frame.AppendLegacyHeader(nil, tt.f, tt.flags, tt.size)
		if want := wire(tt.want); !bytes.Equal(got, want) {
			t.Errorf("framing %d flags %d size %d: % X, want % X", tt.f, tt.flags, tt.size, got, want)
		}
		if n := frame.LegacyHeaderSize(tt.f, tt.size); n != len(got) {
			t.Errorf("LegacyHeaderSize = %d, want %d", n, len(got))
		}
		h, n, err := frame.ParseLegacyHeader(got, tt.f)
		if err != nil || n != len(got) || h != (frame.Header{Flags: tt.flags, Size: uint64(tt.size)}) {
			t.Errorf("ParseLegacyHeader(% X) = %+v, %d, %v", got, h, n, err)
		}
		for i := range got {
			if _, _, err := frame.ParseLegacyHeader(got[:i], tt.f); err != io.ErrUnexpectedEOF {
				t.Errorf("ParseLegacyHeader(% X): %v, want io.ErrUnexpectedEOF", got[:i], err)
			}
		}
	}
	// The flags of an identity frame are not validated (RFC 13), and
	// reserved bits of a 1.0 frame are ignored, as libzmq ignores them:
	// never a command.
	h, _, err := frame.ParseLegacyHeader(wire("07 FE 'peer-1'"), frame.FramingV1)
	if err != nil || h != (frame.Header{Size: 6}) {
		t.Errorf("1.0 header with reserved bits: %+v, %v", h, err)
	}
}

// TestLegacyHeadersMalformed checks FR-11 (a 1.0 length of zero) and that
// a 2.0 peer cannot send a command.
func TestLegacyHeadersMalformed(t *testing.T) {
	for _, tt := range []struct {
		f    frame.Framing
		in   string
		want error
	}{
		{frame.FramingV1, "00", frame.ErrZeroLength},
		{frame.FramingV1, "FF 00*8 00", frame.ErrZeroLength},
		{frame.FramingV2, "04 05 04 'PING'", frame.ErrReservedFlags},
		{frame.FramingV2, "08 01 'a'", frame.ErrReservedFlags},
		{frame.FramingV2, "05 07 04 'PING' 00 00", frame.ErrReservedFlags},
	} {
		_, _, err := frame.ParseLegacyHeader(wire(tt.in), tt.f)
		checkProtocolError(t, err, tt.want)
		r := frame.NewReader(bytes.NewReader(wire(tt.in)), 0)
		r.SetFraming(tt.f)
		_, err = r.ReadFrame()
		checkProtocolError(t, err, tt.want)
	}
}

// legacyStream returns frames in framing f and what a Reader returns.
func legacyStream(f frame.Framing) ([]byte, []frame.Frame) {
	var stream []byte
	var frames []frame.Frame
	for i, size := range []int{0, 1, 253, 254, 255, 256, 300, 4000, 70000, 3} {
		flags := byte(0)
		if i%3 != 2 {
			flags = frame.FlagMore
		}
		body := bytes.Repeat([]byte{byte(i + 1)}, size)
		stream = append(frame.AppendLegacyHeader(stream, f, flags, size), body...)
		frames = append(frames, frame.Frame{Flags: flags, Body: body})
	}
	return stream, frames
}

// TestReaderLegacyFraming reads ZMTP 1.0 and 2.0 streams split at every
// octet and through small buffers: every split reads the same frames.
func TestReaderLegacyFraming(t *testing.T) {
	for _, f := range []frame.Framing{frame.FramingV1, frame.FramingV2} {
		stream, want := legacyStream(f)
		for _, size := range bufSizes {
			r := frame.NewReaderSize(&oneByteReader{data: stream}, 0, size)
			r.SetFraming(f)
			got, err := readAll(r)
			if err != io.EOF {
				t.Fatalf("framing %d buffer %d: %v", f, size, err)
			}
			if diff := cmp.Diff(want, got, frameCmp); diff != "" {
				t.Fatalf("framing %d buffer %d (-want +got):\n%s", f, size, diff)
			}
		}
		for cut := 1; cut < 40; cut++ {
			r := frame.NewReader(io.MultiReader(bytes.NewReader(stream[:cut]), bytes.NewReader(stream[cut:])), 0)
			r.SetFraming(f)
			got, err := readAll(r)
			if err != io.EOF || len(got) != len(want) {
				t.Fatalf("framing %d cut %d: %d frames, %v", f, cut, len(got), err)
			}
		}
		for i := 1; i < len(stream); i += 97 {
			r := frame.NewReader(bytes.NewReader(stream[:i]), 0)
			r.SetFraming(f)
			if _, err := readAll(r); err != io.ErrUnexpectedEOF && err != io.EOF {
				t.Fatalf("framing %d truncated at %d: %v", f, i, err)
			}
		}
	}
}

// oneByteReader returns one octet per Read.
type oneByteReader struct{ data []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	p[0] = r.data[0]
	r.data = r.data[1:]
	return 1, nil
}

// TestReaderLegacyFrameBuffered checks FrameBuffered in legacy framing:
// true for a whole frame (or a bad header) in the buffer, false for part
// of one.
func TestReaderLegacyFrameBuffered(t *testing.T) {
	for _, f := range []frame.Framing{frame.FramingV1, frame.FramingV2} {
		stream := frame.AppendLegacyHeader(nil, f, 0, 3)
		stream = append(stream, "abc"...)
		stream = frame.AppendLegacyHeader(stream, f, 0, 2)
		stream = append(stream, "de"...)
		stream = append(stream, frame.AppendLegacyHeader(nil, f, 0, 300)[:4]...) // a long header, cut
		r := frame.NewReader(&chunkReader{chunks: [][]byte{stream}}, 0)
		r.SetFraming(f)
		if r.FrameBuffered() {
			t.Fatal("FrameBuffered before any read")
		}
		if fr, err := r.ReadFrame(); err != nil || string(fr.Body) != "abc" {
			t.Fatalf("ReadFrame = %q, %v", fr.Body, err)
		}
		if !r.FrameBuffered() {
			t.Fatal("second frame not buffered")
		}
		if fr, err := r.ReadFrame(); err != nil || string(fr.Body) != "de" {
			t.Fatalf("ReadFrame = %q, %v", fr.Body, err)
		}
		if r.FrameBuffered() {
			t.Fatal("FrameBuffered with half a header")
		}
	}
}

// TestReaderLegacyHugeHeader checks FR-01 and FR-11 in legacy framing: a
// declared size beyond the limit is refused before its body is read, and
// a huge size under the hard cap costs nothing until octets arrive.
func TestReaderLegacyHugeHeader(t *testing.T) {
	for _, tt := range []struct {
		f  frame.Framing
		in string
	}{
		{frame.FramingV1, "FF FF FF FF FF FF FF FF F0 00"},
		{frame.FramingV1, "FF 80 00 00 00 00 00 00 00 00"},
		{frame.FramingV1, "FF 00 00 00 00 3F FF FF FF 00"},
		{frame.FramingV2, "02 FF FF FF FF FF FF FF F0"},
		{frame.FramingV2, "02 00 00 00 00 3F FF FF FF"},
	} {
		b := wire(tt.in)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := frame.NewReaderSize(bytes.NewReader(b), 0, 64)
		r.SetFraming(tt.f)
		_, err := r.ReadFrame()
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("%s: no error", tt.in)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<10 {
			t.Errorf("%s: allocated %d octets", tt.in, grew)
		}
	}
	r := frame.NewReader(bytes.NewReader(wire("0B 00 'abcdefghij'")), 5)
	r.SetFraming(frame.FramingV1)
	if _, err := r.ReadFrame(); err != frame.ErrFrameTooLarge {
		t.Errorf("10-octet body with a limit of 5: %v", err)
	}
}

// TestIdentityFrame checks the identity frames libzmq sends after a
// downgraded greeting (testdata of cmd/zmtpdump): 2.0 "00 09 'server-id'",
// and in 1.0 framing a length of ten, flags 0.
func TestIdentityFrame(t *testing.T) {
	id := []byte("server-id")
	if got, want := frame.AppendIdentityFrame(nil, frame.FramingV2, id), wire("00 09 'server-id'"); !bytes.Equal(got, want) {
		t.Errorf("2.0 identity % X, want % X", got, want)
	}
	if got, want := frame.AppendIdentityFrame(nil, frame.FramingV1, id), wire("0A 00 'server-id'"); !bytes.Equal(got, want) {
		t.Errorf("1.0 identity % X, want % X", got, want)
	}
	if got, want := frame.AppendIdentityFrame(nil, frame.FramingV2, nil), wire("00 00"); !bytes.Equal(got, want) {
		t.Errorf("2.0 empty identity % X, want % X", got, want)
	}
}

// ExampleDetectPeer classifies the first octets of three peers' greetings:
// a ZMTP 1.0 identity frame, a ZMTP 2.0 signature and revision, and a
// ZMTP 3 greeting's start.
func ExampleDetectPeer() {
	for _, b := range [][]byte{
		{0x07, 0x00},
		{0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 0x01},
		{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 0x03},
	} {
		v := frame.DetectPeer(b)
		fmt.Println(v.Version(), v.Framing() == frame.FramingV3)
	}
	// Output:
	// 1 false
	// 2 false
	// 3 true
}
