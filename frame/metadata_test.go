package frame_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zmtp-go/zmtp/frame"
)

func TestMetadataLookup(t *testing.T) {
	md := frame.Metadata{
		{Name: "Socket-Type", Value: []byte("DEALER")},
		{Name: "Identity", Value: []byte{}},
		{Name: "X-Dup", Value: []byte("first")},
		{Name: "x-dup", Value: []byte("second")},
	}
	tests := []struct {
		name  string
		value string
		ok    bool
	}{
		{"Socket-Type", "DEALER", true},
		{"socket-type", "DEALER", true},
		{"SOCKET-TYPE", "DEALER", true},
		{"Identity", "", true},
		{"X-DUP", "first", true},
		{"Resource", "", false},
		{"Socket-Typ", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		v, ok := md.Lookup(tt.name)
		if ok != tt.ok || string(v) != tt.value {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.name, v, ok, tt.value, tt.ok)
		}
		if got := md.Get(tt.name); got != tt.value {
			t.Errorf("Get(%q) = %q, want %q", tt.name, got, tt.value)
		}
	}
	if _, ok := frame.Metadata(nil).Lookup("Identity"); ok {
		t.Error("Lookup in nil metadata found a property")
	}
}

func TestMetadataSet(t *testing.T) {
	var md frame.Metadata
	md.Set("Socket-Type", []byte("REQ"))
	md.Set("Identity", []byte("id"))
	md.Set("SOCKET-TYPE", []byte("REP"))
	want := frame.Metadata{
		{Name: "Socket-Type", Value: []byte("REP")},
		{Name: "Identity", Value: []byte("id")},
	}
	if diff := cmp.Diff(want, md); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestValidPropertyName(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"Socket-Type", true},
		{"X-my_prop.v2+ext", true},
		{"a", true},
		{"0", true},
		{strings.Repeat("n", 255), true},
		{"", false},
		{strings.Repeat("n", 256), false},
		{"has space", false},
		{"colon:", false},
		{"slash/", false},
		{"nul\x00", false},
		{"é", false},
		{"tab\t", false},
	} {
		if got := frame.ValidPropertyName(tt.name); got != tt.ok {
			t.Errorf("ValidPropertyName(%q) = %v, want %v", tt.name, got, tt.ok)
		}
		err := frame.Metadata{{Name: tt.name, Value: []byte("v")}}.Validate()
		if tt.ok && err != nil {
			t.Errorf("Validate with name %q: %v", tt.name, err)
		}
		if !tt.ok {
			checkProtocolError(t, err, frame.ErrBadPropertyName)
		}
	}
	if err := frame.Metadata(nil).Validate(); err != nil {
		t.Errorf("Validate(nil) = %v", err)
	}
}

func TestParseMetadataRoundTrip(t *testing.T) {
	tests := []frame.Metadata{
		{},
		{{Name: frame.PropSocketType, Value: []byte("PUB")}},
		{{Name: frame.PropSocketType, Value: []byte("ROUTER")}, {Name: frame.PropIdentity, Value: []byte{1, 2, 3}}},
		{{Name: "X-Zero", Value: []byte{}}, {Name: "X-Zero", Value: []byte{0}}},
		{{Name: strings.Repeat("N", 255), Value: bytes.Repeat([]byte{0xFF}, 300)}},
		{{Name: frame.PropResource, Value: []byte("a/b/c")}, {Name: frame.PropUserID, Value: []byte("admin")}},
	}
	for _, md := range tests {
		if err := md.Validate(); err != nil {
			t.Fatalf("Validate(%v): %v", md, err)
		}
		enc := frame.AppendMetadata([]byte("pre"), md)[3:]
		if len(enc) != md.EncodedLen() {
			t.Errorf("EncodedLen() = %d, encoding has %d octets", md.EncodedLen(), len(enc))
		}
		got, err := frame.ParseMetadata(enc)
		if err != nil {
			t.Errorf("ParseMetadata(AppendMetadata(%v)): %v", md, err)
			continue
		}
		if len(md) == 0 {
			if len(got) != 0 {
				t.Errorf("empty metadata parsed as %v", got)
			}
			continue
		}
		if diff := cmp.Diff(md, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		// Names are copied, values are views into the input.
		enc[1] ^= 0x20
		if got[0].Name != md[0].Name {
			t.Errorf("parsed name aliases the input")
		}
	}
}

func TestParseMetadataValuesDoNotOverrun(t *testing.T) {
	enc := frame.AppendMetadata(nil, frame.Metadata{
		{Name: "A", Value: []byte("xy")},
		{Name: "B", Value: []byte("z")},
	})
	md, err := frame.ParseMetadata(enc)
	if err != nil {
		t.Fatal(err)
	}
	// Appending to a value must not overwrite the next property.
	_ = append(md[0].Value, "!!!!!!!!"...)
	if md.Get("B") != "z" {
		t.Fatalf("appending to a value overwrote the next property: %q", md.Get("B"))
	}
}

func TestParseMetadataHostile(t *testing.T) {
	tests := []struct {
		id, in string
		want   error
	}{
		{"MD-01 zero-length name", "00 00 00 00 00", frame.ErrMalformedMetadata},
		{"MD-02 value length 7FFFFFFF with 3 octets", "01 'A' 7F FF FF FF 'abc'", frame.ErrMalformedMetadata},
		{"MD-02 value length FFFFFFFF", "01 'A' FF FF FF FF 'abc'", frame.ErrMalformedMetadata},
		{"MD-02 value length 80000000", "01 'A' 80 00 00 00", frame.ErrMalformedMetadata},
		{"MD-02 stray octet after the last property", "01 'A' 00 00 00 00 01", frame.ErrMalformedMetadata},
		{"MD-02 stray zero octet", "01 'A' 00 00 00 00 00", frame.ErrMalformedMetadata},
		{"value one octet short", "01 'A' 00 00 00 04 'abc'", frame.ErrMalformedMetadata},
		{"name beyond data", "05 'ab'", frame.ErrMalformedMetadata},
		{"length field cut", "01 'A' 00 00 00", frame.ErrMalformedMetadata},
		{"name with space", "02 'A ' 00 00 00 00", frame.ErrBadPropertyName},
		{"name with colon", "02 'A:' 00 00 00 00", frame.ErrBadPropertyName},
		{"name with NUL", "02 'A' 00 00 00 00 00", frame.ErrBadPropertyName},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			md, err := frame.ParseMetadata(wire(tt.in))
			checkProtocolError(t, err, tt.want)
			if md != nil {
				t.Errorf("metadata %v returned with the error", md)
			}
		})
	}
	// MD-01 as the whole READY body of the hostile case.
	cmd, err := frame.ParseCommand(wire("05 'READY' 00 00 00 00 00"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = frame.ParseMetadata(cmd.Data)
	checkProtocolError(t, err, frame.ErrMalformedMetadata)
}

func TestParseMetadataTruncated(t *testing.T) {
	enc := frame.AppendMetadata(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("SUB")}})
	for i := 1; i < len(enc); i++ {
		_, err := frame.ParseMetadata(enc[:i])
		checkProtocolError(t, err, frame.ErrMalformedMetadata)
	}
}

func TestMetadataValidateValueSize(t *testing.T) {
	if frame.MaxPropertyValueSize != 1<<31-1 {
		t.Fatalf("MaxPropertyValueSize = %d", frame.MaxPropertyValueSize)
	}
	md := frame.Metadata{{Name: "X-Big", Value: make([]byte, 1<<16)}}
	if err := md.Validate(); err != nil {
		t.Errorf("Validate of a 64 KiB value: %v", err)
	}
}
