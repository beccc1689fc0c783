package frame_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
)

// FuzzLegacy feeds a peer's octets to the legacy decoders: detection on
// every prefix (decided once, for good), the 12-octet greeting, and a
// Reader in ZMTP 1.0 or 2.0 framing (chosen by mode) with a small limit,
// read whole and in fuzzed chunks. Nothing may panic; every error is a
// protocol error or the end of the input; both reads agree; and each
// header parsed re-encodes to one that parses the same.
func FuzzLegacy(f *testing.F) {
	for _, seed := range []string{
		"01 00 06 00 'hello'",
		"07 00 'peer-1' 01 01 06 00 'hello'",
		"FF 00*7 0A 7F 'server-id' 01 01 0A 00 're: hello'",
		"FF 00*7 07 7F 01 03 00 06 'peer-2' 01 00 00 05 'hello'",
		"FF 00*8 7F 00 03 01 00 01 01 06 00 'hello'",
		"FF 00*8 7F 03 01 'NULL' 00*16 00 00*31",
		"00", "FF 00*8 00", "04 05 04 'PING'", "02 FF FF FF FF FF FF FF F0",
	} {
		for mode := range uint8(2) {
			f.Add(wire(seed), mode, []byte{3, 200})
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8, cuts []byte) {
		decided := frame.PeerUndecided
		for i := 0; i <= len(data) && i <= frame.GreetingPrefixSize; i++ {
			v := frame.DetectPeer(data[:i])
			if decided != frame.PeerUndecided && v != decided {
				t.Fatalf("DetectPeer(% X) = %d after %d", data[:i], v, decided)
			}
			decided = v
		}
		if g, err := frame.ParseLegacyGreeting(data); err == nil {
			if g.Revision > frame.RevisionV2 {
				t.Fatalf("ParseLegacyGreeting(% X) = %+v", data, g)
			}
		} else if err != io.ErrUnexpectedEOF && !errors.Is(err, frame.ErrProtocol) {
			t.Fatalf("ParseLegacyGreeting: %v", err)
		}
		fr := frame.FramingV1
		if mode%2 == 1 {
			fr = frame.FramingV2
		}
		if h, n, err := frame.ParseLegacyHeader(data, fr); err == nil {
			if n > len(data) || n > frame.MaxV1HeaderSize {
				t.Fatalf("header of %d octets from %d", n, len(data))
			}
			if h.Size < 1<<40 {
				again := frame.AppendLegacyHeader(nil, fr, h.Flags, int(h.Size))
				h2, n2, err := frame.ParseLegacyHeader(again, fr)
				if err != nil || h2 != h || n2 != len(again) {
					t.Fatalf("%+v re-encoded as % X: %+v, %v", h, again, h2, err)
				}
			}
		} else if err != io.ErrUnexpectedEOF && !errors.Is(err, frame.ErrProtocol) {
			t.Fatalf("ParseLegacyHeader: %v", err)
		}
		const limit = 4 << 10
		whole := frame.NewReaderSize(bytes.NewReader(data), limit, 256)
		whole.SetFraming(fr)
		want, werr := readAll(whole)
		split := frame.NewReaderSize(&cutReader{data: data, cuts: cuts}, limit, 256)
		split.SetFraming(fr)
		got, gerr := readAll(split)
		if werr != gerr || len(got) != len(want) {
			t.Fatalf("whole: %d frames, %v; in chunks: %d frames, %v", len(want), werr, len(got), gerr)
		}
		for i := range want {
			if want[i].Flags != got[i].Flags || !bytes.Equal(want[i].Body, got[i].Body) {
				t.Fatalf("frame %d differs", i)
			}
			if want[i].Flags&^frame.FlagMore != 0 || len(want[i].Body) > limit {
				t.Fatalf("frame %d: flags %X, %d octets", i, want[i].Flags, len(want[i].Body))
			}
		}
		if werr != io.EOF && werr != io.ErrUnexpectedEOF && !errors.Is(werr, frame.ErrProtocol) {
			t.Fatalf("Reader: %v", werr)
		}
	})
}
