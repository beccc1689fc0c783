package frame_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zmtp-go/zmtp/frame"
)

// bodyOf parses the single frame in b and returns its body, failing the
// test unless b holds exactly one command frame.
func bodyOf(t *testing.T, b []byte) []byte {
	t.Helper()
	h, n, err := frame.ParseHeader(b)
	if err != nil {
		t.Fatalf("ParseHeader(% X): %v", b, err)
	}
	if !h.IsCommand() || h.More() {
		t.Fatalf("header %+v is not a last command frame", h)
	}
	if uint64(len(b)-n) != h.Size {
		t.Fatalf("frame declares %d body octets, has %d", h.Size, len(b)-n)
	}
	return b[n:]
}

func TestCommandEncodingsWire(t *testing.T) {
	long := strings.Repeat("r", 300)
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"RFC 23 DEALER READY", frame.AppendReady(nil, frame.Metadata{
			{Name: frame.PropSocketType, Value: []byte("DEALER")},
			{Name: frame.PropIdentity, Value: []byte{}},
		}), wire(readyDealer)},
		{"READY without Identity", frame.AppendReady(nil, frame.Metadata{
			{Name: frame.PropSocketType, Value: []byte("DEALER")},
		}), wire("04 1C 05 'READY' 0B 'Socket-Type' 00 00 00 06 'DEALER'")},
		{"READY empty", frame.AppendReady(nil, nil), wire("04 06 05 'READY'")},
		{"PING", frame.AppendPing(nil, 0x0102, []byte("ab")), wire("04 09 04 'PING' 01 02 'ab'")},
		{"PING no context", frame.AppendPing(nil, 0, nil), wire("04 07 04 'PING' 00 00")},
		{"PING context cut to 16", frame.AppendPing(nil, 50, []byte("0123456789abcdefXYZ")),
			wire("04 17 04 'PING' 00 32 '0123456789abcdef'")},
		{"PONG", frame.AppendPong(nil, []byte("ab")), wire("04 07 04 'PONG' 'ab'")},
		{"PONG empty", frame.AppendPong(nil, nil), wire("04 05 04 'PONG'")},
		{"PONG context cut to 16", frame.AppendPong(nil, []byte("0123456789abcdefXYZ")),
			wire("04 15 04 'PONG' '0123456789abcdef'")},
		{"ERROR", frame.AppendError(nil, "oops"), wire("04 0B 05 'ERROR' 04 'oops'")},
		{"ERROR empty reason", frame.AppendError(nil, ""), wire("04 07 05 'ERROR' 00")},
		{"ERROR reason cut to 255", frame.AppendError(nil, long),
			append(wire("06 00 00 00 00 00 00 01 06 05 'ERROR' FF"), long[:255]...)},
		{"SUBSCRIBE", frame.AppendSubscribe(nil, []byte("topic")), wire("04 0F 09 'SUBSCRIBE' 'topic'")},
		{"SUBSCRIBE all", frame.AppendSubscribe(nil, nil), wire("04 0A 09 'SUBSCRIBE'")},
		{"SUBSCRIBE long topic", frame.AppendSubscribe(nil, []byte(long)),
			append(wire("06 00 00 00 00 00 00 01 36 09 'SUBSCRIBE'"), long...)},
		{"CANCEL", frame.AppendCancel(nil, []byte("topic")), wire("04 0C 06 'CANCEL' 'topic'")},
		{"JOIN", frame.AppendJoin(nil, []byte("group")), wire("04 0A 04 'JOIN' 'group'")},
		{"LEAVE", frame.AppendLeave(nil, []byte("group")), wire("04 0B 05 'LEAVE' 'group'")},
		{"Command.Append", frame.Command{Name: "HELLO", Data: []byte{0, 0}}.Append(nil),
			wire("04 08 05 'HELLO' 00 00")},
		// The bytes libzmq 4.3.4's and 4.3.5's PLAIN servers send when a
		// ZAP handler answers 400 (conformance: plain/rejected-we-client,
		// zmtpdump's testdata/libzmq-plain-refused.txt).
		{"libzmq's PLAIN ERROR", frame.LibzmqError("400").Append(nil),
			wire("04 09 5E 'RROR' 03 '400'")},
		{"libzmq's PLAIN ERROR body", frame.AppendLibzmqErrorBody([]byte("x"), "400"),
			wire("'x' 5E 'RROR' 03 '400'")},
		{"libzmq's PLAIN ERROR cut to 255", frame.LibzmqError(long).Append(nil),
			append(wire("06 00 00 00 00 00 00 01 05 5E 'RROR' FF"), long[:255]...)},
		{"Raw wins over Name and Data", frame.Command{Name: "HELLO", Data: []byte{1}, Raw: []byte("\x00ab")}.Append(nil),
			wire("04 03 00 'ab'")},
		{"empty Raw", frame.Command{Name: "HELLO", Raw: []byte{}}.Append(nil), wire("04 00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Equal(tt.got, tt.want) {
				t.Fatalf("got  % X\nwant % X", tt.got, tt.want)
			}
		})
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	dst := []byte("prefix")
	for name, got := range map[string][]byte{
		"ready":     frame.AppendReady(dst[:6:6], frame.Metadata{{Name: "A", Value: []byte("b")}}),
		"error":     frame.AppendError(dst[:6:6], "x"),
		"ping":      frame.AppendPing(dst[:6:6], 1, nil),
		"pong":      frame.AppendPong(dst[:6:6], nil),
		"subscribe": frame.AppendSubscribe(dst[:6:6], nil),
		"cancel":    frame.AppendCancel(dst[:6:6], nil),
		"join":      frame.AppendJoin(dst[:6:6], nil),
		"leave":     frame.AppendLeave(dst[:6:6], nil),
		"command":   frame.Command{Name: "X"}.Append(dst[:6:6]),
		"raw":       frame.Command{Raw: []byte("x")}.Append(dst[:6:6]),
		"libzmq":    frame.AppendLibzmqErrorBody(dst[:6:6], "x"),
	} {
		if !bytes.HasPrefix(got, []byte("prefix")) {
			t.Errorf("%s: lost the prefix: %q", name, got)
		}
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name string
		body string
		want frame.Command
	}{
		{"READY", "05 'READY' 0B 'Socket-Type' 00 00 00 03 'REQ'",
			frame.Command{Name: "READY", Data: wire("0B 'Socket-Type' 00 00 00 03 'REQ'")}},
		{"no data", "04 'PONG'", frame.Command{Name: "PONG", Data: []byte{}}},
		{"unknown name", "04 'XYZW' 01 02", frame.Command{Name: "XYZW", Data: []byte{1, 2}}},
		{"mixed case", "05 'Ready'", frame.Command{Name: "Ready", Data: []byte{}}},
		{"name of 255 letters", "FF '" + strings.Repeat("z", 255) + "'",
			frame.Command{Name: strings.Repeat("z", 255), Data: []byte{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := wire(tt.body)
			got, err := frame.ParseCommand(body)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
			if got.BodyLen() != len(body) {
				t.Errorf("BodyLen() = %d, want %d", got.BodyLen(), len(body))
			}
			if re := got.AppendBody(nil); !bytes.Equal(re, body) {
				t.Errorf("AppendBody = % X, want % X", re, body)
			}
		})
	}
}

// TestParseCommandKnownNamesDoNotAllocate checks that the names the
// protocol uses are returned without copying.
func TestParseCommandKnownNamesDoNotAllocate(t *testing.T) {
	body := wire("04 'PING' 00 00")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := frame.ParseCommand(body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseCommand(PING) allocates %v times", allocs)
	}
}

func TestParseCommandMalformed(t *testing.T) {
	tests := []struct{ id, body string }{
		{"FR-07 empty command", ""},
		{"zero name length", "00 'PING'"},
		{"FR-07 name beyond body", "09 'PI'"},
		{"name one past body", "04 'PIN'"},
		{"name with digit", "04 'PIN1'"},
		{"name with NUL", "05 'REA' 00 'Y'"},
		{"name with space", "04 'PI G'"},
		{"NUL separator as in the prose", "05 'READ' 00"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			_, err := frame.ParseCommand(wire(tt.body))
			checkProtocolError(t, err, frame.ErrMalformedCommand)
		})
	}
}

// TestCommandTruncated checks that every strict prefix of a valid command
// body fails: a command must fill its body exactly.
func TestCommandTruncated(t *testing.T) {
	for _, in := range []string{
		readyDealer,
		"04 0B 05 'ERROR' 04 'oops'",
		"04 09 04 'PING' 01 02 'ab'",
		"04 0A 04 'JOIN' 'group'",
	} {
		body := bodyOf(t, wire(in))
		cmd, err := frame.ParseCommand(body)
		if err != nil {
			t.Fatalf("ParseCommand(% X): %v", body, err)
		}
		for i := 0; i < len(cmd.Data); i++ {
			data := cmd.Data[:i]
			var err error
			switch cmd.Name {
			case frame.CmdReady:
				// A prefix that ends between two properties is valid.
				md, _ := frame.ParseMetadata(cmd.Data)
				boundary := false
				for k := range len(md) + 1 {
					boundary = boundary || md[:k].EncodedLen() == i
				}
				_, err = frame.ParseMetadata(data)
				if boundary {
					if err != nil {
						t.Errorf("ParseMetadata of %d octets: %v", i, err)
					}
				} else {
					checkProtocolError(t, err, frame.ErrMalformedMetadata)
				}
			case frame.CmdError:
				_, err = frame.ParseError(data)
				checkProtocolError(t, err, frame.ErrMalformedCommand)
			case frame.CmdPing:
				p, err := frame.ParsePing(data)
				if i < 2 {
					checkProtocolError(t, err, frame.ErrMalformedCommand)
				} else if err != nil || !bytes.Equal(p.Context, data[2:]) {
					t.Errorf("ParsePing(% X) = %+v, %v", data, p, err)
				}
			}
		}
		// The name itself cut short.
		for i := 0; i < 1+len(cmd.Name); i++ {
			_, err := frame.ParseCommand(body[:i])
			checkProtocolError(t, err, frame.ErrMalformedCommand)
		}
	}
}

func TestParseError(t *testing.T) {
	for _, tt := range []struct {
		data string
		want string
		err  error
	}{
		{"04 'oops'", "oops", nil},
		{"00", "", nil},
		{"", "", frame.ErrMalformedCommand},
		{"FF 'a'", "", frame.ErrMalformedCommand},
		{"01 'ab'", "", frame.ErrMalformedCommand},
		{"03 'ab'", "", frame.ErrMalformedCommand},
	} {
		got, err := frame.ParseError(wire(tt.data))
		if tt.err != nil {
			checkProtocolError(t, err, tt.err)
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseError(%s) = %q, %v; want %q", tt.data, got, err, tt.want)
		}
	}
	long := strings.Repeat("e", 255)
	reason, err := frame.ParseError(bodyOf(t, frame.AppendError(nil, long+"cut"))[6:])
	if err != nil || reason != long {
		t.Errorf("ERROR round trip of a 258-octet reason: %d octets, %v", len(reason), err)
	}
}

func TestParsePing(t *testing.T) {
	for _, tt := range []struct {
		id   string
		in   string
		want frame.Ping
		err  error
	}{
		{"TTL and context", "04 09 04 'PING' 01 02 'ab'", frame.Ping{TTL: 0x0102, Context: []byte("ab")}, nil},
		{"TTL only", "04 07 04 'PING' 00 0A", frame.Ping{TTL: 10, Context: []byte{}}, nil},
		{"CM-01 no TTL", "04 05 04 'PING'", frame.Ping{}, frame.ErrMalformedCommand},
		{"CM-01 one TTL octet", "04 06 04 'PING' 00", frame.Ping{}, frame.ErrMalformedCommand},
	} {
		t.Run(tt.id, func(t *testing.T) {
			cmd, err := frame.ParseCommand(bodyOf(t, wire(tt.in)))
			if err != nil || cmd.Name != frame.CmdPing {
				t.Fatalf("ParseCommand: %+v, %v", cmd, err)
			}
			got, err := frame.ParsePing(cmd.Data)
			if tt.err != nil {
				checkProtocolError(t, err, tt.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestPingLongContext checks CM-02: a 58-octet context is cut to its first
// 16 octets, which the PONG echoes.
func TestPingLongContext(t *testing.T) {
	ctx := make([]byte, 58)
	for i := range ctx {
		ctx[i] = byte('A' + i%26)
	}
	in := append(wire("04 41 04 'PING' 00 00"), ctx...)
	cmd, err := frame.ParseCommand(bodyOf(t, in))
	if err != nil {
		t.Fatal(err)
	}
	p, err := frame.ParsePing(cmd.Data)
	if err != nil {
		t.Fatal(err)
	}
	if p.TTL != 0 || !bytes.Equal(p.Context, ctx[:16]) {
		t.Fatalf("ParsePing = %+v, want TTL 0 and context %q", p, ctx[:16])
	}
	pong := frame.AppendPong(nil, p.Context)
	want := append(wire("04 15 04 'PONG'"), ctx[:16]...)
	if !bytes.Equal(pong, want) {
		t.Fatalf("PONG = % X, want % X", pong, want)
	}
}

func TestPingTTLDuration(t *testing.T) {
	for ttl, want := range map[uint16]time.Duration{
		0:      0,
		1:      100 * time.Millisecond,
		600:    time.Minute,
		0xFFFF: 6553500 * time.Millisecond,
	} {
		if got := (frame.Ping{TTL: ttl}).TTLDuration(); got != want {
			t.Errorf("TTL %d: %v, want %v", ttl, got, want)
		}
	}
}

func TestParseGroup(t *testing.T) {
	max := bytes.Repeat([]byte{'g'}, frame.MaxGroupSize)
	for _, tt := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"empty", []byte{}, true},
		{"name", []byte("weather"), true},
		{"255 octets", max, true},
		{"256 octets", append(max, 'g'), false},
		{"zero octet", []byte("we\x00ather"), false},
		{"binary without zero", []byte{1, 0xFF, 0x80}, true},
	} {
		got, err := frame.ParseGroup(tt.data)
		if tt.ok {
			if err != nil || !bytes.Equal(got, tt.data) {
				t.Errorf("%s: ParseGroup = %q, %v", tt.name, got, err)
			}
			// Round trip through JOIN and LEAVE.
			for _, enc := range [][]byte{frame.AppendJoin(nil, tt.data), frame.AppendLeave(nil, tt.data)} {
				cmd, err := frame.ParseCommand(bodyOf(t, enc))
				if err != nil || !bytes.Equal(cmd.Data, tt.data) {
					t.Errorf("%s: %s round trip: %+v, %v", tt.name, cmd.Name, cmd, err)
				}
			}
			continue
		}
		checkProtocolError(t, err, frame.ErrMalformedCommand)
	}
}

func TestCommandRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		enc  []byte
		want frame.Command
	}{
		{"SUBSCRIBE", frame.AppendSubscribe(nil, []byte("a.b")), frame.Command{Name: frame.CmdSubscribe, Data: []byte("a.b")}},
		{"CANCEL", frame.AppendCancel(nil, []byte{0, 1}), frame.Command{Name: frame.CmdCancel, Data: []byte{0, 1}}},
		{"PONG", frame.AppendPong(nil, []byte("c")), frame.Command{Name: frame.CmdPong, Data: []byte("c")}},
		{"big custom", frame.Command{Name: "MESSAGE", Data: bytes.Repeat([]byte{7}, 1000)}.Append(nil),
			frame.Command{Name: frame.CmdMessage, Data: bytes.Repeat([]byte{7}, 1000)}},
	}
	for _, tt := range tests {
		got, err := frame.ParseCommand(bodyOf(t, tt.enc))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	md := frame.Metadata{
		{Name: frame.PropSocketType, Value: []byte("ROUTER")},
		{Name: "X-Empty", Value: []byte{}},
		{Name: "X-Big", Value: bytes.Repeat([]byte{0xEE}, 70000)},
	}
	cmd, err := frame.ParseCommand(bodyOf(t, frame.AppendReady(nil, md)))
	if err != nil || cmd.Name != frame.CmdReady {
		t.Fatalf("READY: %+v, %v", cmd.Name, err)
	}
	got, err := frame.ParseMetadata(cmd.Data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(md, got); diff != "" {
		t.Errorf("READY metadata (-want +got):\n%s", diff)
	}
}

func TestErrorsAreProtocolErrors(t *testing.T) {
	for _, err := range []error{
		frame.ErrBadSignature, frame.ErrBadMechanismName, frame.ErrBadAsServer,
		frame.ErrReservedFlags, frame.ErrCommandMore, frame.ErrFrameTooLarge,
		frame.ErrMalformedCommand, frame.ErrMalformedMetadata, frame.ErrBadPropertyName,
		&frame.LegacyError{Version: 2},
	} {
		if !errors.Is(err, frame.ErrProtocol) {
			t.Errorf("%v is not frame.ErrProtocol", err)
		}
		if !strings.HasPrefix(err.Error(), "zmtp: ") {
			t.Errorf("error text %q", err.Error())
		}
	}
	if errors.Is(frame.ErrMalformedCommand, frame.ErrMalformedMetadata) {
		t.Error("distinct sentinels match each other")
	}
}

// TestLibzmqErrorMeaning: the command LibzmqError returns means the
// well-formed ERROR with the same reason, and its wire form reads back
// through ParseLibzmqError, not ParseCommand.
func TestLibzmqErrorMeaning(t *testing.T) {
	for _, reason := range []string{"400", "", strings.Repeat("r", 300)} {
		cmd := frame.LibzmqError(reason)
		want := reason[:min(len(reason), frame.MaxReasonSize)]
		got, err := frame.ParseError(cmd.Data)
		if cmd.Name != frame.CmdError || err != nil || got != want {
			t.Errorf("LibzmqError(%.8q...) means %s %q (%v), want ERROR %q", reason, cmd.Name, got, err, want)
		}
		body := bodyOf(t, cmd.Append(nil))
		if len(body) != cmd.BodyLen() {
			t.Errorf("BodyLen %d, body of %d octets", cmd.BodyLen(), len(body))
		}
		if r, ok := frame.ParseLibzmqError(body); !ok || r != want {
			t.Errorf("ParseLibzmqError(% X) = %q, %v", body, r, ok)
		}
		if _, err := frame.ParseCommand(body); !errors.Is(err, frame.ErrMalformedCommand) {
			t.Errorf("ParseCommand(% X) = %v, want ErrMalformedCommand", body, err)
		}
	}
}

// FuzzLibzmqError: any reason of at most 255 octets reads back from the
// body AppendLibzmqErrorBody makes; any body either is that form,
// re-encoded the same, or is not, without a panic.
func FuzzLibzmqError(f *testing.F) {
	f.Add([]byte("400"))
	f.Add([]byte("\x5eRROR\x03400"))
	f.Add([]byte("\x5eRROR\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		reason := string(b[:min(len(b), frame.MaxReasonSize)])
		if got, ok := frame.ParseLibzmqError(frame.AppendLibzmqErrorBody(nil, reason)); !ok || got != reason {
			t.Fatalf("reason %q read back as %q, %v", reason, got, ok)
		}
		if got, ok := frame.ParseLibzmqError(b); ok && !bytes.Equal(frame.AppendLibzmqErrorBody(nil, got), b) {
			t.Fatalf("body % X read as %q, which encodes differently", b, got)
		}
	})
}
