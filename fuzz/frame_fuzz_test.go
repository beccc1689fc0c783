package fuzz

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/zmtp-go/zmtp/frame"
)

// fuzzWire builds bytes from hex octets, 'quoted' ASCII and repeats such
// as "00*8", the notation of the hostile-input cases.
func fuzzWire(s string) []byte {
	var out []byte
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '\'' {
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				panic("unterminated quote in " + s)
			}
			out = append(out, s[1:1+end]...)
			s = s[2+end:]
			continue
		}
		tok, rest, _ := strings.Cut(s, " ")
		s = rest
		hex, count, repeated := strings.Cut(tok, "*")
		v, err := strconv.ParseUint(hex, 16, 8)
		if err != nil {
			panic("bad octet " + tok)
		}
		n := 1
		if repeated {
			if n, err = strconv.Atoi(count); err != nil {
				panic("bad repeat " + tok)
			}
		}
		out = append(out, bytes.Repeat([]byte{byte(v)}, n)...)
	}
	return out
}

// Hostile framing inputs from the hostile-input list, as whole streams.
var hostileFrames = []string{
	"02 FF FF FF FF FF FF FF F0 'data'",
	"02 80 00 00 00 00 00 00 00",
	"02 00 02 00 00 00 00 00 00",
	"02 00 00 00 00 40 00 00 00 00*10",
	"08 03 'abc'",
	"F8 00",
	"05 07 04 'PING' 00 00",
	"04 00",
	"04 03 09 'PI'",
	"01 02 'ab' 01 02 'cd' 00 0A 'xy'",
	"04 05 04 'PING'",
	"04 06 04 'PING' 00",
	"04 0B 05 'ERROR' 04 'oops'",
	"04 08 05 'ERROR' FF 'a'",
	"04 0B 05 'READY' 00 00 00 00 00",
	"04 0F 05 'READY' 01 'A' 7F FF FF FF 'abc'",
	"04 0C 05 'READY' 01 'A' FF FF FF FF",
	"04 1D 05 'READY' 0B 'Socket-Type' 00 00 00 06 'DEALER' 01",
	"04 06 05 'HELLO'",
	"04 05 04 'XYZW'",
}

// validFrames returns streams of well-formed frames made by the encoders.
func validFrames() [][]byte {
	md := frame.Metadata{
		{Name: frame.PropSocketType, Value: []byte("DEALER")},
		{Name: frame.PropIdentity, Value: []byte("id")},
	}
	var all []byte
	seeds := [][]byte{
		frame.AppendReady(nil, md),
		frame.AppendReady(nil, nil),
		frame.AppendError(nil, "oops"),
		frame.AppendPing(nil, 10, []byte("ctx")),
		frame.AppendPong(nil, []byte("ctx")),
		frame.AppendSubscribe(nil, []byte("topic")),
		frame.AppendCancel(nil, []byte("topic")),
		frame.AppendJoin(nil, []byte("group")),
		frame.AppendLeave(nil, []byte("group")),
		frame.AppendFrame(nil, frame.FlagMore, []byte("key")),
		frame.AppendFrame(nil, 0, nil),
		frame.AppendFrame(nil, 0, bytes.Repeat([]byte{'x'}, 300)),
		fuzzWire("03 00 00 00 00 00 00 00 02 'ab'"),
	}
	for _, s := range seeds {
		all = append(all, s...)
	}
	return append(seeds, all)
}

type readResult struct {
	frames   []frame.Frame
	err      error
	consumed int64
}

// readStream reads frames from src until an error, copying each body.
func readStream(src io.Reader, limit int64, bufSize int) readResult {
	r := frame.NewReaderSize(src, limit, bufSize)
	var res readResult
	for {
		f, err := r.ReadFrame()
		if err != nil {
			res.err = err
			res.consumed = r.Consumed()
			return res
		}
		res.frames = append(res.frames, frame.Frame{Flags: f.Flags, Body: bytes.Clone(f.Body)})
	}
}

func sameFrames(a, b []frame.Frame) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Flags != b[i].Flags || !bytes.Equal(a[i].Body, b[i].Body) {
			return false
		}
	}
	return true
}

// halves returns the input in two reads, cut at the given point.
type halves struct {
	parts [2][]byte
}

func (h *halves) Read(p []byte) (int, error) {
	for i := range h.parts {
		if len(h.parts[i]) > 0 {
			n := copy(p, h.parts[i])
			h.parts[i] = h.parts[i][n:]
			return n, nil
		}
	}
	return 0, io.EOF
}

func FuzzGreeting(f *testing.F) {
	for _, g := range []frame.Greeting{
		{Major: 3, Minor: 1, Mechanism: frame.MechanismNull},
		{Major: 3, Minor: 0, Mechanism: frame.MechanismPlain, AsServer: true},
		{Major: 3, Minor: 1, Mechanism: frame.MechanismCurve},
		{Major: 4, Minor: 0, Mechanism: frame.MechanismGSSAPI},
	} {
		f.Add(frame.AppendGreeting(nil, g))
	}
	for _, s := range []string{
		"FF 00*8 7F 03 01 'NULL' 00*16 00 00*31",
		"FF 00*8 7F 03",
		"01 00 08 00 'sneaky' 00",
		"FF 00*7 00 7E",
		"FF 00*8 7F 01 05",
		"FF 00*8 7F 00",
		"FF 00*8 7F 03 07 'NULL' 00*16 00 00*31",
		"FF 00*8 7F 03 01 'NULL' 01 00*15 00 00*31",
		"FF 00*8 7F 03 01 'null' 00*16 00 00*31",
		"FF 00*8 7F 03 01 00*20 00 00*31",
		"FF 00*8 7F 03 01 'PLAIN' 00*15 02 00*31",
	} {
		f.Add(fuzzWire(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Once a prefix shows a bad or legacy peer, every longer prefix
		// gives the same answer.
		var first error
		for i := 1; i <= len(b) && i <= frame.GreetingPrefixSize; i++ {
			err := frame.CheckGreetingPrefix(b[:i])
			if err != nil && !errors.Is(err, frame.ErrProtocol) {
				t.Fatalf("CheckGreetingPrefix(% X): %v is not a protocol error", b[:i], err)
			}
			if first != nil && (err == nil || err.Error() != first.Error()) {
				t.Fatalf("CheckGreetingPrefix(% X) = %v after %v on a shorter prefix", b[:i], err, first)
			}
			if first == nil {
				first = err
			}
		}
		for i := 0; i <= len(b) && i < frame.GreetingSize; i++ {
			_, err := frame.ParseGreeting(b[:i])
			want := frame.CheckGreetingPrefix(b[:min(i, frame.GreetingPrefixSize)])
			if want == nil {
				want = io.ErrUnexpectedEOF
			}
			if err == nil || err.Error() != want.Error() {
				t.Fatalf("ParseGreeting of %d octets: %v, want %v", i, err, want)
			}
		}
		g, err := frame.ParseGreeting(b)
		if err != nil {
			if err != io.ErrUnexpectedEOF && !errors.Is(err, frame.ErrProtocol) {
				t.Fatalf("ParseGreeting: unexpected error %v", err)
			}
			var le *frame.LegacyError
			if errors.As(err, &le) && le.Version != 1 && le.Version != 2 {
				t.Fatalf("legacy version %d", le.Version)
			}
			return
		}
		// libzmq takes any major version but 0 and 1 (legacy) for ZMTP 3.
		if g.Major < 2 || g.Mechanism == "" || len(g.Mechanism) > 20 {
			t.Fatalf("ParseGreeting accepted %+v", g)
		}
		enc := frame.AppendGreeting(nil, g)
		if len(enc) != frame.GreetingSize {
			t.Fatalf("AppendGreeting gave %d octets", len(enc))
		}
		// Signature, version, mechanism and as-server are kept; padding
		// and filler are not interpreted.
		if enc[0] != b[0] || enc[9]&1 != b[9]&1 || !bytes.Equal(enc[10:33], b[10:33]) {
			t.Fatalf("re-encoded greeting\n% X\ndiffers from\n% X", enc, b[:frame.GreetingSize])
		}
		g2, err := frame.ParseGreeting(enc)
		if err != nil || g2 != g {
			t.Fatalf("round trip: %+v, %v; want %+v", g2, err, g)
		}
	})
}

func FuzzReader(f *testing.F) {
	for _, s := range validFrames() {
		f.Add(s)
	}
	for _, s := range hostileFrames {
		f.Add(fuzzWire(s))
	}
	f.Add(frame.AppendHeader(nil, frame.FlagMore, 1<<20))
	f.Add(append(frame.AppendHeader(nil, 0, 1<<20+1), "body"...))
	const limit = 1 << 20
	const small = 200
	f.Fuzz(func(t *testing.T, data []byte) {
		ref := readStream(bytes.NewReader(data), limit, 64)
		others := map[string]readResult{
			"one octet per read": readStream(iotest.OneByteReader(bytes.NewReader(data)), limit, 64),
			"default buffer":     readStream(bytes.NewReader(data), limit, frame.DefaultReadBufferSize),
			"two halves":         readStream(&halves{parts: [2][]byte{data[:len(data)/2], data[len(data)/2:]}}, limit, 100),
			"data with EOF":      readStream(iotest.DataErrReader(bytes.NewReader(data)), limit, 64),
		}
		for name, res := range others {
			// How much of a frame cut short was consumed depends on the
			// buffer size; everything else must not.
			sameConsumed := res.consumed == ref.consumed || ref.err == io.ErrUnexpectedEOF
			if res.err != ref.err || !sameFrames(res.frames, ref.frames) || !sameConsumed {
				t.Fatalf("%s: %d frames, %v, %d consumed; reference %d frames, %v, %d consumed",
					name, len(res.frames), res.err, res.consumed, len(ref.frames), ref.err, ref.consumed)
			}
		}
		if ref.err != io.EOF && ref.err != io.ErrUnexpectedEOF && !errors.Is(ref.err, frame.ErrProtocol) {
			t.Fatalf("unexpected error %v", ref.err)
		}
		if ref.consumed > int64(len(data)) {
			t.Fatalf("consumed %d of %d octets", ref.consumed, len(data))
		}
		var canonical []byte
		for _, fr := range ref.frames {
			if fr.Flags&^(frame.FlagMore|frame.FlagCommand) != 0 || fr.More() && fr.IsCommand() {
				t.Fatalf("frame with flags %#x", fr.Flags)
			}
			if len(fr.Body) > limit {
				t.Fatalf("frame of %d octets over the limit", len(fr.Body))
			}
			canonical = frame.AppendFrame(canonical, fr.Flags, fr.Body)
		}
		if ref.err == io.EOF && ref.consumed != int64(len(data)) {
			t.Fatalf("io.EOF after %d of %d octets", ref.consumed, len(data))
		}
		// The frames re-encoded in canonical form read back the same.
		again := readStream(bytes.NewReader(canonical), limit, 64)
		if again.err != io.EOF || !sameFrames(again.frames, ref.frames) {
			t.Fatalf("canonical re-encoding reads back as %d frames, %v", len(again.frames), again.err)
		}
		// A lower limit stops at the first larger frame, never later.
		low := readStream(bytes.NewReader(data), small, 64)
		if !sameFrames(low.frames, ref.frames[:min(len(low.frames), len(ref.frames))]) {
			t.Fatal("a lower limit changes the frames read")
		}
		if errors.Is(low.err, frame.ErrFrameTooLarge) && len(ref.frames) > len(low.frames) &&
			len(ref.frames[len(low.frames)].Body) <= small {
			t.Fatalf("frame %d of %d octets refused under a limit of %d",
				len(low.frames), len(ref.frames[len(low.frames)].Body), small)
		}
	})
}

func FuzzCommand(f *testing.F) {
	for _, s := range validFrames() {
		if h, n, err := frame.ParseHeader(s); err == nil && h.IsCommand() && uint64(len(s)-n) == h.Size {
			f.Add(s[n:])
		}
	}
	for _, s := range hostileFrames {
		b := fuzzWire(s)
		if len(b) > 2 && b[0] == frame.FlagCommand {
			f.Add(b[2:])
		}
	}
	f.Add([]byte{})
	f.Add(fuzzWire("04 'PING' 00 00 00*58"))
	f.Add(fuzzWire("04 'JOIN' 'a' 00 'b'"))
	f.Fuzz(func(t *testing.T, body []byte) {
		cmd, err := frame.ParseCommand(body)
		if err != nil {
			if !errors.Is(err, frame.ErrMalformedCommand) || !errors.Is(err, frame.ErrProtocol) {
				t.Fatalf("ParseCommand: %v", err)
			}
			return
		}
		if cmd.BodyLen() != len(body) || !bytes.Equal(cmd.AppendBody(nil), body) {
			t.Fatalf("command %+v does not re-encode to its body", cmd)
		}
		if got := reparse(t, cmd.Append(nil)); got.Name != cmd.Name || !bytes.Equal(got.Data, cmd.Data) {
			t.Fatalf("frame round trip: %+v, want %+v", got, cmd)
		}
		data := cmd.Data

		if reason, err := frame.ParseError(data); err == nil {
			got := reparse(t, frame.AppendError(nil, reason))
			if got.Name != frame.CmdError || !bytes.Equal(got.Data, data) {
				t.Fatalf("ERROR round trip: %+v, want data % X", got, data)
			}
		} else if len(data) > 0 && int(data[0]) == len(data)-1 {
			t.Fatalf("ParseError(% X): %v", data, err)
		}

		if p, err := frame.ParsePing(data); err == nil {
			if len(p.Context) > frame.MaxPingContext || p.TTLDuration() < 0 {
				t.Fatalf("ParsePing = %+v", p)
			}
			got := reparse(t, frame.AppendPing(nil, p.TTL, p.Context))
			p2, err := frame.ParsePing(got.Data)
			if got.Name != frame.CmdPing || err != nil || p2.TTL != p.TTL || !bytes.Equal(p2.Context, p.Context) {
				t.Fatalf("PING round trip: %+v, %v; want %+v", p2, err, p)
			}
			if len(data) <= 2+frame.MaxPingContext && !bytes.Equal(got.Data, data) {
				t.Fatalf("PING re-encoded as % X, want % X", got.Data, data)
			}
			pong := reparse(t, frame.AppendPong(nil, p.Context))
			if pong.Name != frame.CmdPong || !bytes.Equal(pong.Data, p.Context) {
				t.Fatalf("PONG carries % X, want % X", pong.Data, p.Context)
			}
		} else if len(data) >= 2 {
			t.Fatalf("ParsePing(% X): %v", data, err)
		}

		if g, err := frame.ParseGroup(data); err == nil {
			if len(g) > frame.MaxGroupSize || bytes.IndexByte(g, 0) >= 0 {
				t.Fatalf("ParseGroup accepted % X", g)
			}
			for _, enc := range [][]byte{frame.AppendJoin(nil, g), frame.AppendLeave(nil, g)} {
				if got := reparse(t, enc); !bytes.Equal(got.Data, g) {
					t.Fatalf("%s round trip: % X, want % X", got.Name, got.Data, g)
				}
			}
		} else if len(data) <= frame.MaxGroupSize && bytes.IndexByte(data, 0) < 0 {
			t.Fatalf("ParseGroup(% X): %v", data, err)
		}

		for _, enc := range [][]byte{frame.AppendSubscribe(nil, data), frame.AppendCancel(nil, data)} {
			if got := reparse(t, enc); !bytes.Equal(got.Data, data) {
				t.Fatalf("%s round trip: % X, want % X", got.Name, got.Data, data)
			}
		}

		if md, err := frame.ParseMetadata(data); err == nil {
			got := reparse(t, frame.AppendReady(nil, md))
			if got.Name != frame.CmdReady || !bytes.Equal(got.Data, data) {
				t.Fatalf("READY round trip: % X, want % X", got.Data, data)
			}
		}
	})
}

// reparse parses a single command frame made by an encoder.
func reparse(t *testing.T, b []byte) frame.Command {
	t.Helper()
	h, n, err := frame.ParseHeader(b)
	if err != nil || !h.IsCommand() || h.More() || uint64(len(b)-n) != h.Size {
		t.Fatalf("encoder produced a bad frame % X: %+v, %v", b, h, err)
	}
	if h.Size > 255 && n != frame.LongHeaderSize || h.Size <= 255 && n != frame.ShortHeaderSize {
		t.Fatalf("encoder chose the wrong header form for %d octets", h.Size)
	}
	cmd, err := frame.ParseCommand(b[n:])
	if err != nil {
		t.Fatalf("encoder produced a bad command % X: %v", b, err)
	}
	return cmd
}

func FuzzMetadata(f *testing.F) {
	f.Add([]byte{})
	for _, md := range []frame.Metadata{
		{{Name: frame.PropSocketType, Value: []byte("DEALER")}, {Name: frame.PropIdentity, Value: nil}},
		{{Name: "X-a.b_c+d", Value: []byte{0, 1, 2}}, {Name: "x-A.B_C+D", Value: []byte("dup")}},
		{{Name: frame.PropResource, Value: []byte("a/b/c")}},
	} {
		f.Add(frame.AppendMetadata(nil, md))
	}
	for _, s := range []string{
		"00 00 00 00 00",
		"01 'A' 7F FF FF FF 'abc'",
		"01 'A' FF FF FF FF",
		"01 'A' 00 00 00 00 01",
		"02 'A:' 00 00 00 00",
	} {
		f.Add(fuzzWire(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		md, err := frame.ParseMetadata(data)
		if err != nil {
			if md != nil || !errors.Is(err, frame.ErrProtocol) ||
				!errors.Is(err, frame.ErrMalformedMetadata) && !errors.Is(err, frame.ErrBadPropertyName) {
				t.Fatalf("ParseMetadata: %v, %v", md, err)
			}
			return
		}
		if err := md.Validate(); err != nil {
			t.Fatalf("parsed metadata does not validate: %v", err)
		}
		if md.EncodedLen() != len(data) || !bytes.Equal(frame.AppendMetadata(nil, md), data) {
			t.Fatalf("metadata %v does not re-encode to its input", md)
		}
		if len(data) > 0 {
			// Properties fill the data exactly: one octet less or more
			// is malformed.
			if _, err := frame.ParseMetadata(data[:len(data)-1]); err == nil {
				t.Fatal("metadata cut by one octet parses")
			}
		}
		if _, err := frame.ParseMetadata(append(bytes.Clone(data), 0)); err == nil {
			t.Fatal("metadata with a stray zero octet parses")
		}
		for i, p := range md {
			first := -1
			for j := range md {
				if strings.EqualFold(md[j].Name, p.Name) {
					first = j
					break
				}
			}
			for _, name := range []string{p.Name, strings.ToUpper(p.Name), strings.ToLower(p.Name)} {
				v, ok := md.Lookup(name)
				if !ok || !bytes.Equal(v, md[first].Value) {
					t.Fatalf("Lookup(%q) = %q, %v; want property %d", name, v, ok, first)
				}
			}
			if first == i {
				clone := append(frame.Metadata(nil), md...)
				clone.Set(strings.ToUpper(p.Name), []byte("new"))
				if len(clone) != len(md) || string(clone[i].Value) != "new" {
					t.Fatalf("Set(%q) did not replace property %d", p.Name, i)
				}
			}
		}
	})
}

// FuzzParseDatagram: a udp datagram from a RADIO parses into views of the
// input that re-encode to it exactly, or is refused as malformed; a group
// message parses only as two frames with a valid group.
func FuzzParseDatagram(f *testing.F) {
	f.Add(frame.AppendDatagram(nil, []byte("weather"), []byte("sunny")))
	f.Add([]byte{})
	f.Add([]byte{0xFF, 'a'})
	f.Add([]byte{0x02, 'a', 0x00, 'b'})
	f.Fuzz(func(t *testing.T, data []byte) {
		g, body, err := frame.ParseDatagram(data)
		if err != nil {
			if !errors.Is(err, frame.ErrMalformedDatagram) || g != nil || body != nil {
				t.Fatalf("ParseDatagram(% X) = %q, %q, %v", data, g, body, err)
			}
			if len(data) > 0 && int(data[0]) <= len(data)-1 && frame.CheckGroup(data[1:1+int(data[0])]) == nil {
				t.Fatalf("ParseDatagram refused a well-formed datagram % X", data)
			}
			return
		}
		if frame.CheckGroup(g) != nil {
			t.Fatalf("ParseDatagram accepted group % X", g)
		}
		if re := frame.AppendDatagram(nil, g, body); !bytes.Equal(re, data) {
			t.Fatalf("re-encoded % X, want % X", re, data)
		}
		gm, bm, err := frame.ParseGroupMessage([][]byte{g, body})
		if err != nil || !bytes.Equal(gm, g) || !bytes.Equal(bm, body) {
			t.Fatalf("ParseGroupMessage(%q, %q) = %q, %q, %v", g, body, gm, bm, err)
		}
	})
}
