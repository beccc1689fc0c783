package mechanism_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// wireCommand parses one command frame given as hex octets and 'quoted'
// ASCII, as the hostile-input cases are written.
func wireCommand(t *testing.T, s string) frame.Command {
	t.Helper()
	var b []byte
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '\'' {
			end := strings.IndexByte(s[1:], '\'')
			b = append(b, s[1:1+end]...)
			s = s[2+end:]
			continue
		}
		var v byte
		for _, c := range []byte(s[:2]) {
			v <<= 4
			switch {
			case '0' <= c && c <= '9':
				v |= c - '0'
			case 'A' <= c && c <= 'F':
				v |= c - 'A' + 10
			default:
				t.Fatalf("bad octet %q", s[:2])
			}
		}
		b = append(b, v)
		s = s[2:]
	}
	h, n, err := frame.ParseHeader(b)
	if err != nil || !h.IsCommand() || uint64(len(b)-n) != h.Size {
		t.Fatalf("% X is not one command frame: %+v, %v", b, h, err)
	}
	cmd, err := frame.ParseCommand(b[n:])
	if err != nil {
		t.Fatalf("ParseCommand(% X): %v", b[n:], err)
	}
	return cmd
}

// transmit sends cmd over the wire: it is encoded into a frame, read back
// with a frame.Reader and parsed, so the receiver sees views into a read
// buffer as it would on a connection.
func transmit(t *testing.T, cmd frame.Command) frame.Command {
	t.Helper()
	r := frame.NewReader(bytes.NewReader(cmd.Append(nil)), 0)
	f, err := r.ReadFrame()
	if err != nil || !f.IsCommand() {
		t.Fatalf("ReadFrame: %+v, %v", f, err)
	}
	got, err := frame.ParseCommand(f.Body)
	if err != nil {
		t.Fatalf("ParseCommand: %v", err)
	}
	return got
}

func newNull(t *testing.T, p mechanism.Params) mechanism.Handshake {
	t.Helper()
	h, err := mechanism.Null{}.NewHandshake(p)
	if err != nil {
		t.Fatalf("NewHandshake: %v", err)
	}
	return h
}

// runPair runs two handshakes against each other without I/O: each
// side's commands are fed to the other's Handle until neither has
// anything left to send. A side stops receiving once it failed.
func runPair(t *testing.T, a, b mechanism.Handshake) (errA, errB error) {
	t.Helper()
	toB, err := a.Start()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	toA, err := b.Start()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	for steps := 0; len(toA)+len(toB) > 0; steps++ {
		if steps > 10 {
			t.Fatal("handshake does not converge")
		}
		if len(toB) > 0 {
			cmd := toB[0]
			toB = toB[1:]
			if errB == nil {
				var out []frame.Command
				out, errB = b.Handle(context.Background(), transmit(t, cmd))
				toA = append(toA, out...)
			}
		}
		if len(toA) > 0 {
			cmd := toA[0]
			toA = toA[1:]
			if errA == nil {
				var out []frame.Command
				out, errA = a.Handle(context.Background(), transmit(t, cmd))
				toB = append(toB, out...)
			}
		}
	}
	return errA, errB
}

func TestNullMechanism(t *testing.T) {
	var m mechanism.Mechanism = mechanism.Null{}
	if m.Name() != "NULL" || m.AsServer() {
		t.Fatalf("Name %q, AsServer %v", m.Name(), m.AsServer())
	}
	h := newNull(t, mechanism.Params{SocketType: mechanism.Dealer})
	if h.Done() || h.Cipher() != nil || h.PeerMetadata() != nil {
		t.Fatalf("new handshake: Done %v, Cipher %v, PeerMetadata %v", h.Done(), h.Cipher(), h.PeerMetadata())
	}
}

// TestNullStartWire checks the READY a NULL handshake sends first.
func TestNullStartWire(t *testing.T) {
	tests := []struct {
		name string
		p    mechanism.Params
		want string
	}{
		{"DEALER", mechanism.Params{SocketType: mechanism.Dealer},
			"04 1C 05 'READY' 0B 'Socket-Type' 00 00 00 06 'DEALER'"},
		{"REQ with Identity", mechanism.Params{SocketType: mechanism.Req, Identity: []byte("id")},
			"04 28 05 'READY' 0B 'Socket-Type' 00 00 00 03 'REQ' 08 'Identity' 00 00 00 02 'id'"},
		{"PUB with an application property", mechanism.Params{SocketType: mechanism.Pub,
			Properties: frame.Metadata{{Name: "X-A", Value: []byte("b")}}},
			"04 22 05 'READY' 0B 'Socket-Type' 00 00 00 03 'PUB' 03 'X-A' 00 00 00 01 'b'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmds, err := newNull(t, tt.p).Start()
			if err != nil || len(cmds) != 1 {
				t.Fatalf("Start = %v, %v", cmds, err)
			}
			want := wireCommand(t, tt.want)
			if diff := cmp.Diff(want, cmds[0]); diff != "" {
				t.Fatalf("READY (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNullStartRejectsBadProperty(t *testing.T) {
	h := newNull(t, mechanism.Params{SocketType: mechanism.Dealer,
		Properties: frame.Metadata{{Name: "bad name", Value: nil}}})
	if cmds, err := h.Start(); !errors.Is(err, frame.ErrBadPropertyName) || cmds != nil {
		t.Fatalf("Start = %v, %v; want frame.ErrBadPropertyName", cmds, err)
	}
}

func TestNullHandshakeCompatible(t *testing.T) {
	pairs := []struct{ a, b string }{
		{mechanism.Req, mechanism.Rep},
		{mechanism.Req, mechanism.Router},
		{mechanism.Dealer, mechanism.Router},
		{mechanism.Dealer, mechanism.Rep},
		{mechanism.Dealer, mechanism.Dealer},
		{mechanism.Router, mechanism.Router},
		{mechanism.Pub, mechanism.Sub},
		{mechanism.XPub, mechanism.XSub},
		{mechanism.Pub, mechanism.XSub},
		{mechanism.Push, mechanism.Pull},
		{mechanism.Pair, mechanism.Pair},
		{mechanism.Client, mechanism.Server},
		{mechanism.Radio, mechanism.Dish},
		{mechanism.Scatter, mechanism.Gather},
		{mechanism.Peer, mechanism.Peer},
		{mechanism.Channel, mechanism.Channel},
	}
	for _, pair := range pairs {
		t.Run(pair.a+"-"+pair.b, func(t *testing.T) {
			pa := mechanism.Params{SocketType: pair.a, Identity: []byte("id-" + pair.a),
				Properties: frame.Metadata{{Name: "X-Side", Value: []byte("a")}}}
			pb := mechanism.Params{SocketType: pair.b}
			a, b := newNull(t, pa), newNull(t, pb)
			errA, errB := runPair(t, a, b)
			if errA != nil || errB != nil {
				t.Fatalf("errors %v, %v", errA, errB)
			}
			if !a.Done() || !b.Done() {
				t.Fatalf("Done %v, %v", a.Done(), b.Done())
			}
			wantB := frame.Metadata{
				{Name: frame.PropSocketType, Value: []byte(pair.a)},
				{Name: frame.PropIdentity, Value: []byte("id-" + pair.a)},
				{Name: "X-Side", Value: []byte("a")},
			}
			if diff := cmp.Diff(wantB, b.PeerMetadata()); diff != "" {
				t.Errorf("b's peer metadata (-want +got):\n%s", diff)
			}
			wantA := frame.Metadata{{Name: frame.PropSocketType, Value: []byte(pair.b)}}
			if diff := cmp.Diff(wantA, a.PeerMetadata()); diff != "" {
				t.Errorf("a's peer metadata (-want +got):\n%s", diff)
			}
			if _, ok := a.PeerMetadata().Lookup(frame.PropIdentity); ok {
				t.Error("a sees an Identity b did not send")
			}
		})
	}
}

// TestNullPeerMetadataIsCopied checks that the peer's metadata does not
// alias the buffer its READY was read from.
func TestNullPeerMetadataIsCopied(t *testing.T) {
	buf := frame.AppendReady(nil, frame.Metadata{
		{Name: frame.PropSocketType, Value: []byte("ROUTER")},
		{Name: frame.PropIdentity, Value: []byte("peer")},
	})
	cmd, err := frame.ParseCommand(buf[2:])
	if err != nil {
		t.Fatal(err)
	}
	h := newNull(t, mechanism.Params{SocketType: mechanism.Dealer})
	if _, err := h.Handle(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'X'
	}
	md := h.PeerMetadata()
	if md.Get("socket-type") != "ROUTER" || md.Get("identity") != "peer" {
		t.Fatalf("peer metadata changed with the read buffer: %v", md)
	}
}

func TestNullIncompatible(t *testing.T) {
	tests := []struct {
		name     string
		local    string
		ready    string
		wantPeer string
	}{
		{"HN-03 REQ to REQ", mechanism.Req,
			"04 19 05 'READY' 0B 'Socket-Type' 00 00 00 03 'REQ'", "REQ"},
		{"PUSH to PUB", mechanism.Pub,
			"04 1A 05 'READY' 0B 'Socket-Type' 00 00 00 04 'PUSH'", "PUSH"},
		{"HN-03 Socket-Type FOO", mechanism.Dealer,
			"04 19 05 'READY' 0B 'Socket-Type' 00 00 00 03 'FOO'", "FOO"},
		{"empty Socket-Type", mechanism.Dealer,
			"04 16 05 'READY' 0B 'Socket-Type' 00 00 00 00", ""},
		{"no Socket-Type", mechanism.Dealer,
			"04 11 05 'READY' 03 'X-A' 00 00 00 03 'abc'", ""},
		{"STREAM is not a ZMTP type", mechanism.Stream,
			"04 1C 05 'READY' 0B 'Socket-Type' 00 00 00 06 'STREAM'", "STREAM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newNull(t, mechanism.Params{SocketType: tt.local})
			out, err := h.Handle(context.Background(), wireCommand(t, tt.ready))
			var ste *mechanism.SocketTypeError
			if !errors.As(err, &ste) {
				t.Fatalf("error %v, want *mechanism.SocketTypeError", err)
			}
			if ste.Local != tt.local || ste.Peer != tt.wantPeer {
				t.Errorf("SocketTypeError %+v, want Local %q Peer %q", ste, tt.local, tt.wantPeer)
			}
			if !errors.Is(err, mechanism.ErrHandshake) {
				t.Errorf("%v is not mechanism.ErrHandshake", err)
			}
			if err.Error() == "" {
				t.Error("empty error text")
			}
			// libzmq closes without ERROR: nothing to send.
			if len(out) != 0 {
				t.Errorf("commands to send %v, want none", out)
			}
			if h.Done() || h.PeerMetadata() != nil {
				t.Errorf("failed handshake: Done %v, PeerMetadata %v", h.Done(), h.PeerMetadata())
			}
		})
	}
	// Both sides of an incompatible pair fail, each on the other's READY.
	a := newNull(t, mechanism.Params{SocketType: mechanism.Push})
	b := newNull(t, mechanism.Params{SocketType: mechanism.Pub})
	errA, errB := runPair(t, a, b)
	for _, err := range []error{errA, errB} {
		var ste *mechanism.SocketTypeError
		if !errors.As(err, &ste) {
			t.Errorf("PUSH-PUB: error %v, want *mechanism.SocketTypeError", err)
		}
	}
}

// TestNullUnexpectedCommand checks HN-02: anything but READY or ERROR
// during the handshake is a protocol error.
func TestNullUnexpectedCommand(t *testing.T) {
	for _, in := range []string{
		"04 06 05 'HELLO'",
		"04 07 04 'PING' 00 00",
		"04 05 04 'PONG'",
		"04 0A 09 'SUBSCRIBE'",
		"04 08 07 'WELCOME'",
		"04 05 04 'XYZW'",
		"04 06 05 'ready'",
	} {
		h := newNull(t, mechanism.Params{SocketType: mechanism.Dealer})
		out, err := h.Handle(context.Background(), wireCommand(t, in))
		if !errors.Is(err, mechanism.ErrUnexpectedCommand) || !errors.Is(err, frame.ErrProtocol) ||
			!errors.Is(err, mechanism.ErrHandshake) {
			t.Errorf("%s: error %v, want mechanism.ErrUnexpectedCommand", in, err)
		}
		if out != nil || h.Done() {
			t.Errorf("%s: sends %v, Done %v", in, out, h.Done())
		}
	}
}

// TestNullPeerError checks HN-04. The case is written with a body size of
// 0A in the hostile-input list; the body of ERROR with a 4-octet reason is
// 11 octets (0B).
func TestNullPeerError(t *testing.T) {
	for _, tt := range []struct{ in, reason string }{
		{"04 0B 05 'ERROR' 04 'oops'", "oops"},
		{"04 07 05 'ERROR' 00", ""},
	} {
		h := newNull(t, mechanism.Params{SocketType: mechanism.Dealer})
		out, err := h.Handle(context.Background(), wireCommand(t, tt.in))
		var pe *mechanism.PeerError
		if !errors.As(err, &pe) || pe.Reason != tt.reason {
			t.Fatalf("%s: error %v, want *mechanism.PeerError with reason %q", tt.in, err, tt.reason)
		}
		if !errors.Is(err, mechanism.ErrHandshake) || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("%s: error %v", tt.in, err)
		}
		if out != nil || h.Done() {
			t.Errorf("%s: sends %v, Done %v", tt.in, out, h.Done())
		}
	}
}

func TestNullMalformed(t *testing.T) {
	tests := []struct {
		id, in string
		cause  error
	}{
		{"HN-04 reason length beyond body", "04 08 05 'ERROR' FF 'a'", frame.ErrMalformedCommand},
		{"ERROR with no reason length", "04 06 05 'ERROR'", frame.ErrMalformedCommand},
		{"MD-01 zero-length name", "04 0B 05 'READY' 00 00 00 00 00", frame.ErrMalformedMetadata},
		{"MD-02 value length 7FFFFFFF", "04 0F 05 'READY' 01 'A' 7F FF FF FF 'abc'", frame.ErrMalformedMetadata},
		{"MD-02 value length FFFFFFFF", "04 0C 05 'READY' 01 'A' FF FF FF FF", frame.ErrMalformedMetadata},
		{"MD-02 stray octet", "04 1D 05 'READY' 0B 'Socket-Type' 00 00 00 06 'DEALER' 01", frame.ErrMalformedMetadata},
		{"bad property name", "04 0D 05 'READY' 02 'A:' 00 00 00 00", frame.ErrBadPropertyName},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			h := newNull(t, mechanism.Params{SocketType: mechanism.Router})
			out, err := h.Handle(context.Background(), wireCommand(t, tt.in))
			for _, target := range []error{mechanism.ErrMalformedCommand, tt.cause, frame.ErrProtocol, mechanism.ErrHandshake} {
				if !errors.Is(err, target) {
					t.Errorf("error %v is not %v", err, target)
				}
			}
			var pe *mechanism.PeerError
			if errors.As(err, &pe) {
				t.Errorf("malformed ERROR reported as the peer's: %v", err)
			}
			if out != nil || h.Done() {
				t.Errorf("sends %v, Done %v", out, h.Done())
			}
		})
	}
}

// TestNullIdentity checks MD-04: an Identity must be at most 255 octets.
// It may start with a zero octet: libzmq 4.3 accepts such a peer (a
// DEALER with routing id 00 FF 'bin', say).
func TestNullIdentity(t *testing.T) {
	tests := []struct {
		name string
		id   []byte
		ok   bool
	}{
		{"empty", []byte{}, true},
		{"text", []byte("peer-1"), true},
		{"binary not starting with zero", []byte{1, 0, 0}, true},
		{"255 octets", bytes.Repeat([]byte{'i'}, 255), true},
		{"starts with zero", []byte{0, 0xFF, 'b', 'i', 'n'}, true},
		{"single zero", []byte{0}, true},
		{"255 octets starting with zero", append([]byte{0}, bytes.Repeat([]byte{'i'}, 254)...), true},
		{"256 octets starting with zero", append([]byte{0}, bytes.Repeat([]byte{'i'}, 255)...), false},
		{"256 octets", bytes.Repeat([]byte{'i'}, 256), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ready := frame.Command{Name: frame.CmdReady, Data: frame.AppendMetadata(nil, frame.Metadata{
				{Name: frame.PropSocketType, Value: []byte(mechanism.Dealer)},
				{Name: "identity", Value: tt.id},
			})}
			h := newNull(t, mechanism.Params{SocketType: mechanism.Router})
			out, err := h.Handle(context.Background(), transmit(t, ready))
			if tt.ok {
				if err != nil || out != nil || !h.Done() {
					t.Fatalf("Handle = %v, %v; Done %v", out, err, h.Done())
				}
				if got, _ := h.PeerMetadata().Lookup(frame.PropIdentity); !bytes.Equal(got, tt.id) {
					t.Errorf("Identity %q, want %q", got, tt.id)
				}
				return
			}
			if !errors.Is(err, mechanism.ErrBadIdentity) || !errors.Is(err, frame.ErrProtocol) ||
				!errors.Is(err, mechanism.ErrHandshake) {
				t.Fatalf("error %v, want mechanism.ErrBadIdentity", err)
			}
			if len(out) != 1 || out[0].Name != frame.CmdError {
				t.Errorf("sends %v, want one ERROR", out)
			}
			if h.Done() {
				t.Error("Done after a bad Identity")
			}
		})
	}
}

func TestNullSecondReady(t *testing.T) {
	ready := frame.Command{Name: frame.CmdReady, Data: frame.AppendMetadata(nil, frame.Metadata{
		{Name: frame.PropSocketType, Value: []byte(mechanism.Pull)},
	})}
	h := newNull(t, mechanism.Params{SocketType: mechanism.Push})
	if _, err := h.Handle(context.Background(), ready); err != nil || !h.Done() {
		t.Fatalf("first READY: %v, Done %v", err, h.Done())
	}
	other := frame.Command{Name: frame.CmdReady, Data: frame.AppendMetadata(nil, frame.Metadata{
		{Name: frame.PropSocketType, Value: []byte(mechanism.Push)},
	})}
	for _, cmd := range []frame.Command{ready, other, {Name: frame.CmdError, Data: []byte{0}}} {
		out, err := h.Handle(context.Background(), cmd)
		if !errors.Is(err, mechanism.ErrUnexpectedCommand) || out != nil {
			t.Errorf("%s after done: %v, %v; want mechanism.ErrUnexpectedCommand", cmd.Name, out, err)
		}
	}
	if got := h.PeerMetadata().Get(frame.PropSocketType); got != mechanism.Pull {
		t.Errorf("peer Socket-Type changed to %q", got)
	}
}
