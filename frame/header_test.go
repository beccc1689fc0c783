package frame_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
)

func TestAppendHeaderWire(t *testing.T) {
	tests := []struct {
		name  string
		flags byte
		size  int
		want  string
	}{
		{"empty last", 0, 0, "00 00"},
		{"short more", frame.FlagMore, 1, "01 01"},
		{"largest short", 0, 255, "00 FF"},
		{"smallest long", 0, 256, "02 00 00 00 00 00 00 01 00"},
		{"long more", frame.FlagMore, 256, "03 00 00 00 00 00 00 01 00"},
		{"short command", frame.FlagCommand, 5, "04 05"},
		{"long command", frame.FlagCommand, 0x01020304, "06 00 00 00 00 01 02 03 04"},
		{"LONG flag ignored for short size", frame.FlagCommand | frame.FlagLong, 5, "04 05"},
		{"LONG flag kept for long size", frame.FlagMore | frame.FlagLong, 300, "03 00 00 00 00 00 00 01 2C"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := frame.AppendHeader([]byte("x"), tt.flags, tt.size)
			want := append([]byte("x"), wire(tt.want)...)
			if !bytes.Equal(got, want) {
				t.Fatalf("AppendHeader(%#x, %d) = % X, want % X", tt.flags, tt.size, got, want)
			}
			if n := frame.HeaderSize(tt.size); n != len(want)-1 {
				t.Errorf("HeaderSize(%d) = %d, want %d", tt.size, n, len(want)-1)
			}
		})
	}
}

func TestAppendFrameWire(t *testing.T) {
	got := frame.AppendFrame(nil, frame.FlagMore, []byte("hello"))
	if want := wire("01 05 'hello'"); !bytes.Equal(got, want) {
		t.Fatalf("AppendFrame = % X, want % X", got, want)
	}
	body := bytes.Repeat([]byte{0xAB}, 256)
	got = frame.AppendFrame(nil, 0, body)
	want := append(wire("02 00 00 00 00 00 00 01 00"), body...)
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendFrame of 256 octets: header % X, want % X", got[:9], want[:9])
	}
}

func TestParseHeaderRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 254, 255, 256, 257, 65535, 65536, 1<<31 - 1}
	for _, flags := range []byte{0, frame.FlagMore, frame.FlagCommand} {
		for _, size := range sizes {
			b := frame.AppendHeader(nil, flags, size)
			b = append(b, "trailing"...)
			h, n, err := frame.ParseHeader(b)
			if err != nil {
				t.Fatalf("ParseHeader(AppendHeader(%#x, %d)): %v", flags, size, err)
			}
			want := frame.Header{Flags: flags, Size: uint64(size)}
			if h != want || n != frame.HeaderSize(size) {
				t.Errorf("ParseHeader(AppendHeader(%#x, %d)) = %+v, %d; want %+v, %d",
					flags, size, h, n, want, frame.HeaderSize(size))
			}
			if h.More() != (flags&frame.FlagMore != 0) || h.IsCommand() != (flags&frame.FlagCommand != 0) {
				t.Errorf("header %+v: More=%v IsCommand=%v", h, h.More(), h.IsCommand())
			}
		}
	}
}

func TestParseHeaderLongFormSizes(t *testing.T) {
	tests := []struct {
		in   string
		want frame.Header
	}{
		{"02 00 00 00 00 00 00 00 05", frame.Header{Size: 5}},
		{"06 00 00 00 00 00 00 00 00", frame.Header{Flags: frame.FlagCommand, Size: 0}},
		{"03 80 00 00 00 00 00 00 00", frame.Header{Flags: frame.FlagMore, Size: 1 << 63}},
		{"02 FF FF FF FF FF FF FF FF", frame.Header{Size: 1<<64 - 1}},
		{"02 00 02 00 00 00 00 00 00", frame.Header{Size: 1 << 49}},
	}
	for _, tt := range tests {
		h, n, err := frame.ParseHeader(wire(tt.in))
		if err != nil || n != frame.LongHeaderSize || h != tt.want {
			t.Errorf("ParseHeader(%s) = %+v, %d, %v; want %+v, 9, nil", tt.in, h, n, err, tt.want)
		}
	}
}

func TestParseHeaderTruncated(t *testing.T) {
	for _, in := range []string{"00 00", "01 FF", "04 05", "02 00 00 00 00 00 00 01 00", "06 00 00 00 00 00 00 01 00"} {
		b := wire(in)
		for i := 0; i < len(b); i++ {
			if _, _, err := frame.ParseHeader(b[:i]); err != io.ErrUnexpectedEOF {
				t.Errorf("ParseHeader(% X) = %v, want io.ErrUnexpectedEOF", b[:i], err)
			}
		}
	}
}

// TestParseHeaderAllFlags checks every value of the flags octet: the six
// valid ones parse, MORE on a command is rejected, and any reserved bit is
// rejected (FR-04, FR-05).
func TestParseHeaderAllFlags(t *testing.T) {
	for f := 0; f < 256; f++ {
		flags := byte(f)
		in := append([]byte{flags}, make([]byte, 8)...)
		h, _, err := frame.ParseHeader(in)
		// The flags octet alone decides, before the size has arrived.
		_, _, errFirst := frame.ParseHeader(in[:1])
		switch {
		case flags&0xF8 != 0:
			checkProtocolError(t, err, frame.ErrReservedFlags)
			checkProtocolError(t, errFirst, frame.ErrReservedFlags)
		case flags == 0x05 || flags == 0x07:
			checkProtocolError(t, err, frame.ErrCommandMore)
			checkProtocolError(t, errFirst, frame.ErrCommandMore)
		default:
			if err != nil {
				t.Errorf("flags %#02x: %v", flags, err)
			}
			if h.Flags != flags&^frame.FlagLong {
				t.Errorf("flags %#02x parsed as %#02x", flags, h.Flags)
			}
			if errFirst != io.ErrUnexpectedEOF {
				t.Errorf("flags %#02x alone: %v, want io.ErrUnexpectedEOF", flags, errFirst)
			}
		}
	}
}

func TestParseHeaderHostile(t *testing.T) {
	tests := []struct {
		id, in string
		want   error
	}{
		{"FR-04 reserved bit 3", "08 03 'abc'", frame.ErrReservedFlags},
		{"FR-04 all reserved bits", "F8 00", frame.ErrReservedFlags},
		{"FR-05 MORE on command", "05 07 04 'PING' 00 00", frame.ErrCommandMore},
		{"FR-05 MORE on long command", "07 00 00 00 00 00 00 00 07", frame.ErrCommandMore},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			_, _, err := frame.ParseHeader(wire(tt.in))
			checkProtocolError(t, err, tt.want)
		})
	}
}

// checkProtocolError fails unless err is the sentinel want and a protocol
// error.
func checkProtocolError(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("error %v, want %v", err, want)
	}
	if !errors.Is(err, frame.ErrProtocol) {
		t.Errorf("error %v is not frame.ErrProtocol", err)
	}
}
