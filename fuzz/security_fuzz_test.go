package fuzz

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// Handshake targets take a state, which valid prefix of the handshake to
// run first, and a command body from the peer, parsed as a connection would
// parse it. Whatever the input, a handshake must not panic, must fail with
// an error matching mechanism.ErrHandshake, must offer no cipher unless
// done, and must report metadata that passes CheckPeerMetadata when done.

// seededRand returns a deterministic source for keys and nonces, so that
// every run of a target sees the same handshake.
func seededRand(seed byte) io.Reader { return rand.NewChaCha8([32]byte{seed}) }

var errNoDirectory = errors.New("directory unavailable")

// plainAuth accepts admin/secret, answers 300 to "busy", fails for "down"
// and refuses everyone else.
var plainAuth = mechanism.AuthenticatorFunc(func(_ context.Context, r *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
	switch user := string(r.Credentials[0]); {
	case user == "admin" && string(r.Credentials[1]) == "secret":
		return mechanism.ZAPResponse{StatusCode: 200, UserID: "admin"}, nil
	case user == "busy":
		return mechanism.ZAPResponse{StatusCode: 300}, nil
	case user == "down":
		return mechanism.ZAPResponse{}, errNoDirectory
	}
	return mechanism.ZAPResponse{StatusCode: 400}, nil
})

type curveKeys struct{ cpub, csec, spub, ssec [32]byte }

var fuzzCurveKeys = sync.OnceValue(func() curveKeys {
	var k curveKeys
	var err error
	if k.cpub, k.csec, err = mechanism.GenerateCurveKeyPair(seededRand(1)); err != nil {
		panic(err)
	}
	if k.spub, k.ssec, err = mechanism.GenerateCurveKeyPair(seededRand(2)); err != nil {
		panic(err)
	}
	return k
})

// curveAuth accepts the fixed client key only.
var curveAuth = mechanism.AuthenticatorFunc(func(_ context.Context, r *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
	k := fuzzCurveKeys()
	if bytes.Equal(r.Credentials[0], k.cpub[:]) {
		return mechanism.ZAPResponse{StatusCode: 200, UserID: "client"}, nil
	}
	return mechanism.ZAPResponse{StatusCode: 400}, nil
})

var (
	clientParams = mechanism.Params{SocketType: mechanism.Dealer, Identity: []byte("fuzz")}
	serverParams = mechanism.Params{SocketType: mechanism.Router, RemoteAddr: "192.0.2.1"}
)

// newPair returns fresh client and server handshakes of mech.
func newPair(t testing.TB, mech string) (client, server mechanism.Handshake) {
	t.Helper()
	var cm, sm mechanism.Mechanism
	if mech == frame.MechanismPlain {
		cm = mechanism.Plain{Username: "admin", Password: "secret"}
		sm = mechanism.Plain{Server: true, Authenticator: plainAuth}
	} else {
		k := fuzzCurveKeys()
		cm = mechanism.Curve{SecretKey: k.csec, ServerKey: k.spub, Rand: seededRand(3)}
		sm = mechanism.Curve{Server: true, SecretKey: k.ssec, Authenticator: curveAuth, Rand: seededRand(4)}
	}
	client, err := cm.NewHandshake(clientParams)
	if err != nil {
		t.Fatal(err)
	}
	server, err = sm.NewHandshake(serverParams)
	if err != nil {
		t.Fatal(err)
	}
	return client, server
}

// transcript holds the command bodies of a valid handshake, in order:
// client, server, client, server.
func transcript(t testing.TB, mech string) [][]byte {
	t.Helper()
	client, server := newPair(t, mech)
	out, err := client.Start()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Start(); err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for i := 0; len(out) > 0; i++ {
		if len(out) != 1 {
			t.Fatalf("step %d sent %d commands", i, len(out))
		}
		bodies = append(bodies, out[0].AppendBody(nil))
		next := server
		if i%2 == 1 {
			next = client
		}
		if out, err = next.Handle(context.Background(), out[0]); err != nil {
			t.Fatal(err)
		}
	}
	if len(bodies) != 4 || !client.Done() || !server.Done() {
		t.Fatalf("valid handshake sent %d commands", len(bodies))
	}
	return bodies
}

// prepare runs a valid handshake until the side under test has received
// steps commands (0 or 1) and returns that side's handshake.
func prepare(t *testing.T, mech string, server bool, steps int) mechanism.Handshake {
	client, srv := newPair(t, mech)
	out, err := client.Start()
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	// Exchange commands until the side under test has received steps of
	// them.
	for received := 0; received < steps; {
		if out, err = srv.Handle(context.Background(), out[0]); err != nil {
			t.Fatal(err)
		}
		if server {
			received++
			if received == steps {
				break
			}
		}
		if out, err = client.Handle(context.Background(), out[0]); err != nil {
			t.Fatal(err)
		}
		if !server {
			received++
		}
	}
	if server {
		return srv
	}
	return client
}

// feed parses body as a connection would and hands it to hs, whose
// connection has params p, then checks the invariants.
func feed(t *testing.T, hs mechanism.Handshake, p mechanism.Params, body []byte) {
	var out []frame.Command
	cmd, err := frame.ParseCommand(body)
	if err != nil {
		raw, ok := hs.(mechanism.RawCommandHandler)
		if !ok {
			return // the connection closes on its own
		}
		out, err = raw.HandleMalformed(body)
		if err == nil {
			t.Fatal("HandleMalformed accepted a body")
		}
	} else {
		out, err = hs.Handle(context.Background(), cmd)
	}
	for _, c := range out {
		if c.Raw != nil {
			// Written as-is: libzmq's malformed PLAIN ERROR, which must
			// still read as that refusal.
			if _, ok := frame.ParseLibzmqError(c.Raw); !ok {
				t.Fatalf("handshake sends a raw %q command that is not libzmq's ERROR: % x", c.Name, c.Raw)
			}
			continue
		}
		if _, perr := frame.ParseCommand(c.AppendBody(nil)); perr != nil {
			t.Fatalf("handshake sends an unparsable %q command", c.Name)
		}
	}
	if err != nil {
		if !errors.Is(err, mechanism.ErrHandshake) {
			t.Fatalf("error %v does not match ErrHandshake", err)
		}
		if hs.Done() || hs.Cipher() != nil {
			t.Fatal("failed handshake is done or has a cipher")
		}
		return
	}
	if hs.Done() {
		if err := mechanism.CheckPeerMetadata(p, hs.PeerMetadata()); err != nil {
			t.Fatalf("done with bad metadata: %v", err)
		}
	}
}

// addSeeds adds the valid bodies for both states, and hostile variants.
func addSeeds(f *testing.F, bodies [][]byte, hostile ...[]byte) {
	for state := range 2 {
		for _, b := range bodies {
			f.Add(uint8(state), b)
		}
		for _, b := range hostile {
			f.Add(uint8(state), b)
		}
	}
}

// fuzzSide fuzzes one side of mech's handshake, the server's if server:
// a command body from the peer, fed in either of the side's first two
// states.
func fuzzSide(f *testing.F, mech string, server bool) {
	params := clientParams
	if server {
		params = serverParams
	}
	f.Fuzz(func(t *testing.T, state uint8, body []byte) {
		feed(t, prepare(t, mech, server, int(state%2)), params, body)
	})
}

func FuzzPlainServer(f *testing.F) {
	tr := transcript(f, frame.MechanismPlain)
	addSeeds(f, [][]byte{tr[0], tr[2]},
		fuzzWire("05 'HELLO' FF 'abc'"),
		fuzzWire("05 'HELLO' 05 'admin' 06 'secret' 00"),
		fuzzWire("05 'HELLO' 04 'busy' 00"),
		fuzzWire("05 'HELLO' 04 'down' 00"),
		fuzzWire("05 'HELLO' 03 'bob' 03 'pwd'"),
		fuzzWire("08 'INITIATE' 0B 'Socket-Type' 00 00 00 03 'REQ'"),
		fuzzWire("08 'INITIATE' 0B 'Socket-Type' 7F FF FF FF 'abc'"),
		fuzzWire("08 'INITIATE' 00 00 00 00 00"),
		fuzzWire("05 'ERROR' 03 '400'"),
	)
	fuzzSide(f, frame.MechanismPlain, true)
}

func FuzzPlainClient(f *testing.F) {
	tr := transcript(f, frame.MechanismPlain)
	addSeeds(f, [][]byte{tr[1], tr[3]},
		fuzzWire("5E 'RROR' 03 '400'"),
		fuzzWire("5E 'RROR' 04 '400'"),
		fuzzWire("05 'ERROR' 03 '400'"),
		fuzzWire("05 'ERROR' FF 'a'"),
		fuzzWire("07 'WELCOME' 00"),
		fuzzWire("05 'READY' 0B 'Socket-Type' 00 00 00 04 'PUSH'"),
		fuzzWire("05 'READY' 08 'Identity' 00 00 00 01 00"),
	)
	fuzzSide(f, frame.MechanismPlain, false)
}

func FuzzCurveServer(f *testing.F) {
	tr := transcript(f, frame.MechanismCurve)
	hello, initiate := tr[0], tr[2]
	mutate := func(b []byte, off int) []byte {
		out := bytes.Clone(b)
		out[off] ^= 0x01
		return out
	}
	addSeeds(f, [][]byte{hello, initiate},
		fuzzWire("05 'HELLO'"),
		mutate(hello, 5),  // 'HELLX'-like name
		mutate(hello, 6),  // version
		mutate(hello, 40), // padding
		mutate(hello, 150),
		fuzzWire("08 'INITIATE'"),
		mutate(initiate, 30),
		mutate(initiate, 150),
		initiate[:len(initiate)-1],
	)
	fuzzSide(f, frame.MechanismCurve, true)
}

func FuzzCurveClient(f *testing.F) {
	tr := transcript(f, frame.MechanismCurve)
	welcome, ready := tr[1], tr[3]
	addSeeds(f, [][]byte{welcome, ready},
		welcome[:167],
		fuzzWire("05 'ERROR' 03 '400'"),
		fuzzWire("05 'READY' 00*8"),
		ready[:29],
	)
	fuzzSide(f, frame.MechanismCurve, false)
}
