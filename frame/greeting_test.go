package frame_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zmtp-go/zmtp/frame"
)

func TestAppendGreetingWire(t *testing.T) {
	tests := []struct {
		name string
		g    frame.Greeting
		want string
	}{
		{"G31", frame.Greeting{Major: 3, Minor: 1, Mechanism: frame.MechanismNull}, g31},
		{"3.0 CURVE server", frame.Greeting{Major: 3, Minor: 0, Mechanism: frame.MechanismCurve, AsServer: true},
			"FF 00*8 7F 03 00 'CURVE' 00*15 01 00*31"},
		{"mechanism cut to 20 octets", frame.Greeting{Major: 3, Minor: 1, Mechanism: "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
			"FF 00*8 7F 03 01 'ABCDEFGHIJKLMNOPQRST' 00 00*31"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := frame.AppendGreeting(nil, tt.g)
			want := wire(tt.want)
			if len(want) != frame.GreetingSize {
				t.Fatalf("test literal has %d octets", len(want))
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("AppendGreeting(%+v) =\n% X\nwant\n% X", tt.g, got, want)
			}
			// The two halves, as sent during version sniffing.
			split := frame.AppendGreetingRest(frame.AppendGreetingPrefix(nil, tt.g.Major), tt.g)
			if !bytes.Equal(split, want) {
				t.Fatalf("prefix+rest = % X, want % X", split, want)
			}
			if n := len(frame.AppendGreetingPrefix(nil, 3)); n != frame.GreetingPrefixSize {
				t.Fatalf("prefix is %d octets, want %d", n, frame.GreetingPrefixSize)
			}
		})
	}
}

func TestParseGreetingRoundTrip(t *testing.T) {
	for _, g := range []frame.Greeting{
		{Major: 3, Minor: 0, Mechanism: frame.MechanismNull},
		{Major: 3, Minor: 1, Mechanism: frame.MechanismNull},
		{Major: 3, Minor: 1, Mechanism: frame.MechanismPlain},
		{Major: 3, Minor: 1, Mechanism: frame.MechanismPlain, AsServer: true},
		{Major: 3, Minor: 1, Mechanism: frame.MechanismCurve, AsServer: true},
		{Major: 3, Minor: 1, Mechanism: frame.MechanismGSSAPI},
		{Major: 3, Minor: 1, Mechanism: "X-TWENTY-OCTETS-NAME"},
		{Major: 4, Minor: 0, Mechanism: frame.MechanismNull},
		{Major: 255, Minor: 255, Mechanism: frame.MechanismNull},
	} {
		got, err := frame.ParseGreeting(frame.AppendGreeting(nil, g))
		if err != nil {
			t.Errorf("ParseGreeting(AppendGreeting(%+v)): %v", g, err)
			continue
		}
		if diff := cmp.Diff(g, got); diff != "" {
			t.Errorf("round trip of %+v (-want +got):\n%s", g, diff)
		}
	}
}

func TestParseGreetingIgnoresPaddingAndFiller(t *testing.T) {
	b := wire("FF 00 00 00 00 00 00 00 2A 7F 03 01 'NULL' 00*16 00 'filler is not read' 00*13")
	g, err := frame.ParseGreeting(b)
	want := frame.Greeting{Major: 3, Minor: 1, Mechanism: frame.MechanismNull}
	if err != nil || g != want {
		t.Fatalf("ParseGreeting = %+v, %v; want %+v", g, err, want)
	}
	if g.Version() != 31 {
		t.Errorf("Version() = %d, want 31", g.Version())
	}
}

func TestParseGreetingTruncated(t *testing.T) {
	b := wire(g31)
	for i := 0; i < len(b); i++ {
		if _, err := frame.ParseGreeting(b[:i]); err != io.ErrUnexpectedEOF {
			t.Errorf("ParseGreeting of %d octets: %v, want io.ErrUnexpectedEOF", i, err)
		}
		if i <= frame.GreetingPrefixSize {
			if err := frame.CheckGreetingPrefix(b[:i]); err != nil {
				t.Errorf("CheckGreetingPrefix of %d octets: %v", i, err)
			}
		}
	}
}

func TestGreetingLegacy(t *testing.T) {
	tests := []struct {
		id      string
		in      string
		version int
		// prefix is the number of octets CheckGreetingPrefix needs to
		// see the legacy peer.
		prefix int
	}{
		{"GR-04 ZMTP 1.0 short identity", "01 00 08 00 'sneaky' 00", 1, 1},
		{"GR-04 ZMTP 1.0 long identity", "FF 00 00 00 00 00 00 00 00 7E", 1, 10},
		{"GR-04 ZMTP 1.0 long identity with more", "FF 00 00 00 00 00 00 01 00 00 'x'", 1, 10},
		{"GR-05 ZMTP 2.0 revision 01", "FF 00*8 7F 01 05", 2, 11},
		{"GR-06 revision 00", "FF 00*8 7F 00", 1, 11},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			b := wire(tt.in)
			for i := 1; i <= len(b) && i <= frame.GreetingPrefixSize; i++ {
				err := frame.CheckGreetingPrefix(b[:i])
				if i < tt.prefix {
					if err != nil {
						t.Fatalf("CheckGreetingPrefix of %d octets: %v, want nil", i, err)
					}
					continue
				}
				checkLegacy(t, err, tt.version)
			}
			_, err := frame.ParseGreeting(b)
			checkLegacy(t, err, tt.version)
			full := append(b, make([]byte, frame.GreetingSize)...)
			_, err = frame.ParseGreeting(full)
			checkLegacy(t, err, tt.version)
		})
	}
}

func checkLegacy(t *testing.T, err error, version int) {
	t.Helper()
	var le *frame.LegacyError
	if !errors.As(err, &le) {
		t.Fatalf("error %v, want *frame.LegacyError", err)
	}
	if le.Version != version {
		t.Errorf("legacy version %d, want %d", le.Version, version)
	}
	if !errors.Is(err, frame.ErrProtocol) {
		t.Errorf("%v is not frame.ErrProtocol", err)
	}
	if err.Error() == "" {
		t.Error("empty error text")
	}
}

// TestGreetingHigherVersions checks GR-07: later versions parse, and the
// caller sees the version to decide what to speak.
func TestGreetingHigherVersions(t *testing.T) {
	for _, tt := range []struct {
		in           string
		major, minor uint8
	}{
		{"FF 00*8 7F 04 00 'NULL' 00*16 00 00*31", 4, 0},
		{"FF 00*8 7F 03 07 'NULL' 00*16 00 00*31", 3, 7},
		{"FF 00*8 7F 03 00 'NULL' 00*16 00 00*31", 3, 0},
	} {
		g, err := frame.ParseGreeting(wire(tt.in))
		if err != nil || g.Major != tt.major || g.Minor != tt.minor || g.Mechanism != frame.MechanismNull {
			t.Errorf("ParseGreeting(%s) = %+v, %v", tt.in, g, err)
		}
	}
}

// TestGreetingMechanismExact checks GR-08: the mechanism field compares
// exactly, over all 20 octets and with case.
func TestGreetingMechanismExact(t *testing.T) {
	for _, in := range []string{
		"FF 00*8 7F 03 01 'NULL' 01 00*15 00 00*31",
		"FF 00*8 7F 03 01 'null' 00*16 00 00*31",
		"FF 00*8 7F 03 01 'NUL' 00 'L' 00*15 00 00*31",
		"FF 00*8 7F 03 01 00 'NULL' 00*15 00 00*31",
		"FF 00*8 7F 03 01 'PLAIN' 00*15 00 00*31",
	} {
		g, err := frame.ParseGreeting(wire(in))
		if err != nil {
			t.Errorf("ParseGreeting(%s): %v", in, err)
			continue
		}
		if g.Mechanism == frame.MechanismNull {
			t.Errorf("ParseGreeting(%s): mechanism %q equals NULL", in, g.Mechanism)
		}
	}
}

func TestParseGreetingMalformed(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
	}{
		{"empty mechanism", "FF 00*8 7F 03 01 00*20 00 00*31", frame.ErrBadMechanismName},
		{"as-server 02", "FF 00*8 7F 03 01 'PLAIN' 00*15 02 00*31", frame.ErrBadAsServer},
		{"as-server FF", "FF 00*8 7F 03 01 'NULL' 00*16 FF 00*31", frame.ErrBadAsServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := frame.ParseGreeting(wire(tt.in))
			checkProtocolError(t, err, tt.want)
		})
	}
}
