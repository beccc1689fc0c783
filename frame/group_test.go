package frame_test

import (
	"bytes"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
)

func TestDatagramBytes(t *testing.T) {
	for _, tt := range []struct {
		name        string
		group, body []byte
		want        []byte
	}{
		{"group and body", []byte("weather"), []byte("sunny"), wire("07 'weather' 'sunny'")},
		{"empty group", nil, []byte("x"), wire("00 'x'")},
		{"empty body", []byte("g"), nil, wire("01 'g'")},
		{"255-octet group", bytes.Repeat([]byte{'g'}, 255), []byte("b"), append(append([]byte{0xFF}, bytes.Repeat([]byte{'g'}, 255)...), 'b')},
	} {
		got := frame.AppendDatagram(nil, tt.group, tt.body)
		if !bytes.Equal(got, tt.want) {
			t.Errorf("%s: AppendDatagram = % X, want % X", tt.name, got, tt.want)
			continue
		}
		g, b, err := frame.ParseDatagram(got)
		if err != nil || !bytes.Equal(g, tt.group) || !bytes.Equal(b, tt.body) {
			t.Errorf("%s: ParseDatagram = %q, %q, %v", tt.name, g, b, err)
		}
	}
	// Appending keeps what dst held.
	if got := frame.AppendDatagram([]byte("ab"), []byte("g"), []byte("b")); !bytes.Equal(got, wire("'ab' 01 'g' 'b'")) {
		t.Errorf("AppendDatagram onto a prefix = % X", got)
	}
}

func TestParseDatagramRefuses(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":               {},
		"group beyond end":    wire("05 'abc'"),
		"size octet only":     wire("01"),
		"zero octet in group": wire("03 'a' 00 'b' 'body'"),
	} {
		g, body, err := frame.ParseDatagram(b)
		if g != nil || body != nil {
			t.Errorf("%s: returned %q, %q", name, g, body)
		}
		checkProtocolError(t, err, frame.ErrMalformedDatagram)
	}
	// A size octet with the whole group and no body is a message with an
	// empty body, not a malformed datagram.
	if g, b, err := frame.ParseDatagram(wire("02 'ab'")); err != nil || string(g) != "ab" || len(b) != 0 {
		t.Errorf("group without body: %q, %q, %v", g, b, err)
	}
}

func TestParseGroupMessage(t *testing.T) {
	long := bytes.Repeat([]byte{'g'}, frame.MaxGroupSize+1)
	g, b, err := frame.ParseGroupMessage([][]byte{[]byte("grp"), []byte("body")})
	if err != nil || string(g) != "grp" || string(b) != "body" {
		t.Fatalf("ParseGroupMessage = %q, %q, %v", g, b, err)
	}
	for name, tt := range map[string]struct {
		msg  [][]byte
		want error
	}{
		"one frame":    {[][]byte{[]byte("body")}, frame.ErrGroupMessage},
		"three frames": {[][]byte{[]byte("g"), []byte("a"), []byte("b")}, frame.ErrGroupMessage},
		"long group":   {[][]byte{long, []byte("b")}, frame.ErrMalformedGroup},
		"zero octet":   {[][]byte{[]byte("a\x00"), []byte("b")}, frame.ErrMalformedGroup},
	} {
		_, _, err := frame.ParseGroupMessage(tt.msg)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		checkProtocolError(t, err, tt.want)
	}
}

func TestCheckGroup(t *testing.T) {
	if err := frame.CheckGroup(bytes.Repeat([]byte{0xFF}, frame.MaxGroupSize)); err != nil {
		t.Errorf("255 octets: %v", err)
	}
	if err := frame.CheckGroup(nil); err != nil {
		t.Errorf("empty: %v", err)
	}
	checkProtocolError(t, frame.CheckGroup(bytes.Repeat([]byte{'g'}, 256)), frame.ErrMalformedGroup)
	checkProtocolError(t, frame.CheckGroup([]byte{0}), frame.ErrMalformedGroup)
}
