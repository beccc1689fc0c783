package fuzz

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// nullSocketTypes are the local socket types a fuzzed NULL handshake
// runs as; the first fuzz argument picks one.
var nullSocketTypes = []string{
	mechanism.Req, mechanism.Rep, mechanism.Dealer, mechanism.Router,
	mechanism.Pub, mechanism.XPub, mechanism.Sub, mechanism.XSub,
	mechanism.Push, mechanism.Pull, mechanism.Pair,
	mechanism.Client, mechanism.Server, mechanism.Radio, mechanism.Dish,
	mechanism.Scatter, mechanism.Gather, mechanism.Peer, mechanism.Channel,
}

// nullHandshakeLimit caps a handshake frame in this target, as a
// connection caps the frames it reads before the handshake is done.
const nullHandshakeLimit = 64 << 10

func FuzzNullHandshake(f *testing.F) {
	ready := func(md frame.Metadata) []byte { return frame.AppendReady(nil, md) }
	for i, local := range nullSocketTypes {
		for j, peer := range nullSocketTypes {
			if !mechanism.Compatible(local, peer) || (i+j)%3 != 0 && j != i+1 {
				continue
			}
			f.Add(uint8(i), ready(frame.Metadata{{Name: frame.PropSocketType, Value: []byte(peer)}}))
		}
	}
	dealer := func(extra ...frame.Property) []byte {
		return ready(append(frame.Metadata{{Name: frame.PropSocketType, Value: []byte(mechanism.Dealer)}}, extra...))
	}
	const router = 3 // index of ROUTER
	seeds := [][]byte{
		dealer(),
		dealer(frame.Property{Name: frame.PropIdentity, Value: []byte("client")}),
		dealer(frame.Property{Name: "identity", Value: []byte{0, 'x'}}),
		dealer(frame.Property{Name: frame.PropIdentity, Value: bytes.Repeat([]byte{'i'}, 256)}),
		dealer(frame.Property{Name: "X-App", Value: []byte("v")}),
		append(dealer(), dealer()...),
		append(dealer(), frame.AppendFrame(nil, 0, []byte("message"))...),
		append(dealer(), frame.AppendPing(nil, 1, nil)...),
		ready(nil),
		ready(frame.Metadata{{Name: "socket-type", Value: []byte("FOO")}}),
		frame.AppendError(nil, "oops"),
		frame.AppendFrame(nil, 0, []byte("hello")),
	}
	for _, s := range hostileFrames {
		seeds = append(seeds, fuzzWire(s))
	}
	for _, s := range seeds {
		f.Add(uint8(router), s)
	}
	f.Fuzz(func(t *testing.T, which uint8, input []byte) {
		local := nullSocketTypes[int(which)%len(nullSocketTypes)]
		params := mechanism.Params{SocketType: local, Identity: []byte("me")}
		hs, err := mechanism.Null{}.NewHandshake(params)
		if err != nil {
			t.Fatal(err)
		}
		start, err := hs.Start()
		if err != nil || len(start) != 1 || start[0].Name != frame.CmdReady {
			t.Fatalf("Start = %v, %v", start, err)
		}
		// The handshake reads from its own copy, which is overwritten at
		// the end to show that the peer's metadata does not alias it.
		data := bytes.Clone(input)
		r := frame.NewReaderSize(bytes.NewReader(data), nullHandshakeLimit, 64)
		var snapshot frame.Metadata
		for {
			fr, err := r.ReadFrame()
			if err != nil {
				break
			}
			if !fr.IsCommand() {
				break // a message before the handshake ends closes the connection
			}
			cmd, err := frame.ParseCommand(fr.Body)
			if err != nil {
				break
			}
			wasDone := hs.Done()
			out, err := hs.Handle(context.Background(), cmd)
			if err != nil {
				checkHandshakeFailure(t, err, out)
				if wasDone != hs.Done() {
					t.Fatal("a failed command changed Done")
				}
				break
			}
			if wasDone {
				t.Fatalf("%s accepted after the handshake was done", cmd.Name)
			}
			if out != nil {
				t.Fatalf("successful Handle returned commands %v", out)
			}
			if !hs.Done() {
				t.Fatalf("%s accepted without completing the handshake", cmd.Name)
			}
			snapshot = cloneMD(hs.PeerMetadata())
			checkPeerMetadata(t, local, hs.PeerMetadata())
		}
		for i := range data {
			data[i] ^= 0xFF
		}
		if hs.Done() {
			if !metadataEqual(snapshot, hs.PeerMetadata()) {
				t.Fatal("peer metadata changed with the read buffer")
			}
		} else if hs.PeerMetadata() != nil {
			t.Fatalf("PeerMetadata %v before the handshake is done", hs.PeerMetadata())
		}
	})
}

// checkHandshakeFailure checks an error from Handle and the commands sent
// with it: at most one ERROR with a well-formed reason.
func checkHandshakeFailure(t *testing.T, err error, out []frame.Command) {
	t.Helper()
	if !errors.Is(err, mechanism.ErrHandshake) {
		t.Fatalf("Handle error %v is not mechanism.ErrHandshake", err)
	}
	var pe *mechanism.PeerError
	var ste *mechanism.SocketTypeError
	if !errors.As(err, &pe) && !errors.As(err, &ste) && !errors.Is(err, frame.ErrProtocol) {
		t.Fatalf("Handle error %v is neither the peer's nor a protocol error", err)
	}
	if len(out) > 1 {
		t.Fatalf("failure sends %d commands", len(out))
	}
	for _, c := range out {
		if c.Name != frame.CmdError {
			t.Fatalf("failure sends %s", c.Name)
		}
		if _, err := frame.ParseError(c.Data); err != nil {
			t.Fatalf("failure sends a malformed ERROR: %v", err)
		}
	}
}

// checkPeerMetadata checks the metadata of a completed handshake.
func checkPeerMetadata(t *testing.T, local string, md frame.Metadata) {
	t.Helper()
	st, ok := md.Lookup(frame.PropSocketType)
	if !ok || !mechanism.Compatible(local, string(st)) {
		t.Fatalf("handshake done with peer Socket-Type %q (present %v) for %s", st, ok, local)
	}
	if id, ok := md.Lookup(frame.PropIdentity); ok && len(id) > 255 {
		t.Fatalf("handshake done with Identity % X", id)
	}
	if err := md.Validate(); err != nil {
		t.Fatalf("peer metadata does not validate: %v", err)
	}
}

func cloneMD(md frame.Metadata) frame.Metadata {
	out := make(frame.Metadata, len(md))
	for i, p := range md {
		out[i] = frame.Property{Name: p.Name, Value: bytes.Clone(p.Value)}
	}
	return out
}

func metadataEqual(a, b frame.Metadata) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}
