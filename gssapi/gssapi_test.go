package gssapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

const testRealm = "TEST.REALM"

// testTickets makes service tickets from the service's keytab, as a KDC
// would, for the client alice.
type testTickets struct {
	kt    *keytab.Keytab
	etype int32
}

func (t testTickets) serviceTicket(spn string) (messages.Ticket, types.EncryptionKey, error) {
	sname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, spn)
	now := time.Now().UTC()
	return messages.NewTicket(types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice"), testRealm,
		sname, testRealm, types.NewKrbFlags(), t.kt, t.etype, 1, now, now, now.Add(time.Hour), now.Add(time.Hour))
}

func (t testTickets) clientName() (types.PrincipalName, string) {
	return types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice"), testRealm
}

// testEtypes are the encryption types of the tests. (gokrb5's
// messages.NewTicket, which the tests use in place of a KDC, makes
// session keys of the wrong size for aes256-cts-hmac-sha384-192.)
var testEtypes = []int32{etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA1_96,
	etypeID.AES128_CTS_HMAC_SHA256_128}

// testKeytab holds zmtp/localhost and other/localhost in every test
// encryption type.
func testKeytab(t testing.TB) *keytab.Keytab {
	t.Helper()
	kt := keytab.New()
	for _, p := range []string{"zmtp/localhost", "other/localhost"} {
		for _, e := range testEtypes {
			if err := kt.AddEntry(p, testRealm, "pw-"+p, time.Now(), 1, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	return kt
}

func testPair(t testing.TB, etype int32, plaintext bool) (client, server *Mechanism) {
	kt := testKeytab(t)
	client = &Mechanism{Plaintext: plaintext, ServicePrincipal: "zmtp@localhost", tickets: testTickets{kt, etype}}
	server = &Mechanism{Server: true, Plaintext: plaintext, Keytab: kt, Principal: "zmtp@localhost"}
	return client, server
}

var (
	dealer = mechanism.Params{SocketType: "DEALER", RemoteAddr: "127.0.0.1"}
	router = mechanism.Params{SocketType: "ROUTER", Identity: []byte("id"), RemoteAddr: "127.0.0.1"}
)

// deliver passes one command to h as a connection would: parsed from its
// wire body, or raw when it does not parse.
func deliver(h mechanism.Handshake, cmd frame.Command) ([]frame.Command, error) {
	body := cmd.AppendBody(nil)
	c, err := frame.ParseCommand(body)
	if err != nil {
		raw, ok := h.(mechanism.RawCommandHandler)
		if !ok {
			return nil, err
		}
		return raw.HandleMalformed(body)
	}
	return h.Handle(context.Background(), c)
}

// runHandshake drives c and s until both are done or one fails.
func runHandshake(t testing.TB, c, s mechanism.Handshake) (wire [][]byte, err error) {
	t.Helper()
	if out, err := s.Start(); err != nil || len(out) != 0 {
		t.Fatalf("server Start: %v %v", out, err)
	}
	toServer, err := c.Start()
	if err != nil {
		return nil, err
	}
	var toClient []frame.Command
	for range 10 {
		for _, cmd := range toServer {
			wire = append(wire, cmd.Append(nil))
			out, err := deliver(s, cmd)
			if err != nil {
				return wire, err
			}
			toClient = append(toClient, out...)
		}
		toServer = nil
		for _, cmd := range toClient {
			wire = append(wire, cmd.Append(nil))
			out, err := deliver(c, cmd)
			if err != nil {
				return wire, err
			}
			toServer = append(toServer, out...)
		}
		toClient = nil
		if c.Done() && s.Done() && len(toServer) == 0 {
			return wire, nil
		}
	}
	t.Fatal("handshake does not end")
	return nil, nil
}

func newHandshakes(t testing.TB, cm, sm *Mechanism) (mechanism.Handshake, mechanism.Handshake) {
	t.Helper()
	c, err := cm.NewHandshake(dealer)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sm.NewHandshake(router)
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func TestHandshakeAndMessages(t *testing.T) {
	for _, e := range testEtypes {
		for _, plaintext := range []bool{false, true} {
			cm, sm := testPair(t, e, plaintext)
			c, s := newHandshakes(t, cm, sm)
			wire, err := runHandshake(t, c, s)
			if err != nil {
				t.Fatalf("etype %d plaintext %v: %v", e, plaintext, err)
			}
			// INITIATE (AP-REQ), INITIATE (AP-REP), the empty command,
			// then READY each way.
			var bodies [][]byte
			for _, w := range wire {
				f, _, err := parseFrame(w)
				if err != nil || !f.IsCommand() {
					t.Fatalf("frame % x: %v", w[:min(len(w), 16)], err)
				}
				bodies = append(bodies, f.Body)
			}
			if len(wire) != 5 || !bytes.HasPrefix(bodies[0], []byte("\x08INITIATE")) ||
				!bytes.HasPrefix(bodies[1], []byte("\x08INITIATE")) || !bytes.Equal(wire[2], []byte{0x04, 0x00}) {
				t.Fatalf("%d frames, bodies %q", len(wire), bodies)
			}
			ready := []byte("\x07MESSAGE")
			if plaintext {
				ready = []byte("\x05READY")
			}
			if !bytes.HasPrefix(bodies[3], ready) || !bytes.HasPrefix(bodies[4], ready) {
				t.Fatalf("READY % x / % x", wire[3], wire[4])
			}
			if uid, _ := s.PeerMetadata().Lookup(frame.PropUserID); string(uid) != "alice@"+testRealm {
				t.Fatalf("User-Id %q", uid)
			}
			if st, _ := c.PeerMetadata().Lookup(frame.PropSocketType); string(st) != "ROUTER" {
				t.Fatalf("client sees Socket-Type %q", st)
			}
			if plaintext {
				if c.Cipher() != nil || s.Cipher() != nil {
					t.Fatal("plaintext handshake has a cipher")
				}
				continue
			}
			exchange(t, c.Cipher(), s.Cipher())
			exchange(t, s.Cipher(), c.Cipher())
		}
	}
}

// parseFrame reads the single frame in wire.
func parseFrame(wire []byte) (frame.Frame, int, error) {
	f, err := frame.NewReader(bytes.NewReader(wire), 0).ReadFrame()
	return f, len(wire), err
}

// exchange seals frames with a and opens them with b.
func exchange(t *testing.T, a, b mechanism.Cipher) {
	t.Helper()
	for i, f := range []struct {
		flags byte
		body  []byte
	}{{frame.FlagMore, []byte("hello")}, {0, nil}, {frame.FlagCommand, []byte("\x04PING\x00\x00")}, {0, bytes.Repeat([]byte{7}, 70000)}} {
		wire, err := a.Seal(nil, f.flags, f.body)
		if err != nil {
			t.Fatal(err)
		}
		if len(wire) > frame.LongHeaderSize+len(f.body)+a.Overhead() {
			t.Fatalf("sealed %d octets, more than the overhead allows", len(wire))
		}
		fr, n, err := parseFrame(wire)
		if err != nil || n != len(wire) || fr.Flags&(frame.FlagMore|frame.FlagCommand) != 0 {
			t.Fatalf("frame %d: %v (flags %x)", i, err, fr.Flags)
		}
		cmd, err := frame.ParseCommand(fr.Body)
		if err != nil || cmd.Name != frame.CmdMessage {
			t.Fatalf("not a MESSAGE: %v", err)
		}
		flags, body, err := b.Open(cmd.Data)
		if err != nil || flags != f.flags || !bytes.Equal(body, f.body) {
			t.Fatalf("frame %d opened as %x %q, %v", i, flags, body[:min(len(body), 10)], err)
		}
		// The same token again is out of sequence; an altered one does not
		// decrypt.
		if _, _, err := b.Open(cmd.Data); !errors.Is(err, ErrMessageSequence) || !errors.Is(err, frame.ErrProtocol) {
			t.Fatalf("replayed MESSAGE: %v", err)
		}
	}
	wire, _ := a.Seal(nil, 0, []byte("x"))
	wire[len(wire)-1] ^= 1
	fr, _, _ := parseFrame(wire)
	cmd, _ := frame.ParseCommand(fr.Body)
	if _, _, err := b.Open(cmd.Data); !errors.Is(err, ErrMessageForged) {
		t.Fatalf("altered MESSAGE: %v", err)
	}
}

func TestWrongPrincipalRefused(t *testing.T) {
	cm, sm := testPair(t, etypeID.AES256_CTS_HMAC_SHA1_96, false)
	sm.Principal = "other@localhost"
	c, s := newHandshakes(t, cm, sm)
	_, err := runHandshake(t, c, s)
	var kerr *KerberosError
	if !errors.As(err, &kerr) || !errors.Is(err, mechanism.ErrHandshake) {
		t.Fatalf("got %v, want a *KerberosError", err)
	}
	// A server without Principal accepts a ticket for any of its keys.
	sm = &Mechanism{Server: true, Keytab: sm.Keytab}
	c, s = newHandshakes(t, cm, sm)
	if _, err := runHandshake(t, c, s); err != nil {
		t.Fatal(err)
	}
}

func TestReplayedAPReqRefused(t *testing.T) {
	cm, sm := testPair(t, etypeID.AES256_CTS_HMAC_SHA1_96, true)
	c, _ := newHandshakes(t, cm, sm)
	out, err := c.Start()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		s, _ := sm.NewHandshake(router)
		s.Start()
		_, err := s.Handle(context.Background(), out[0])
		if i == 0 && err != nil {
			t.Fatal(err)
		}
		if i == 1 && !errors.Is(err, mechanism.ErrHandshake) {
			t.Fatalf("replayed AP-REQ: %v", err)
		}
	}
}

func TestAuthenticator(t *testing.T) {
	for _, status := range []int{200, 400} {
		cm, sm := testPair(t, etypeID.AES256_CTS_HMAC_SHA1_96, false)
		var got *mechanism.ZAPRequest
		sm.Authenticator = mechanism.AuthenticatorFunc(func(_ context.Context, r *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
			got = r
			return mechanism.ZAPResponse{StatusCode: status, UserID: "granted"}, nil
		})
		c, s := newHandshakes(t, cm, sm)
		_, err := runHandshake(t, c, s)
		if got == nil || got.Mechanism != "GSSAPI" || len(got.Credentials) != 1 || string(got.Credentials[0]) != "alice@"+testRealm {
			t.Fatalf("request %+v", got)
		}
		if status == 200 {
			if uid, _ := s.PeerMetadata().Lookup(frame.PropUserID); err != nil || string(uid) != "granted" {
				t.Fatalf("User-Id %q, %v", uid, err)
			}
			continue
		}
		var aerr *mechanism.AuthError
		if !errors.As(err, &aerr) || aerr.StatusCode != 400 {
			t.Fatalf("refusal: %v", err)
		}
	}
}

func TestMalformedHandshakeInput(t *testing.T) {
	cm, sm := testPair(t, etypeID.AES256_CTS_HMAC_SHA1_96, false)
	c, _ := newHandshakes(t, cm, sm)
	out, _ := c.Start()
	good := out[0].Data
	for _, data := range [][]byte{nil, {0, 0, 0}, {0, 0, 0, 1}, append(bytes.Clone(good), 0),
		good[:len(good)-1], append([]byte{0, 0, 0, 3}, 0x60, 0x01, 0x00),
		appendTokenData(nil, appendContextToken(nil, tokAPRep, []byte{0x30, 0})),
		appendTokenData(nil, appendContextToken(nil, tokAPReq, []byte{0x6e, 0x80}))} {
		s, _ := sm.NewHandshake(router)
		s.Start()
		cmds, err := s.Handle(context.Background(), frame.Command{Name: frame.CmdInitiate, Data: data})
		if len(cmds) != 0 || !errors.Is(err, mechanism.ErrHandshake) {
			t.Fatalf("% x: %v %v", data[:min(len(data), 8)], cmds, err)
		}
	}
	// Anything but the empty command after the AP-REP fails.
	s, _ := sm.NewHandshake(router)
	s.Start()
	if _, err := s.Handle(context.Background(), out[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.(mechanism.RawCommandHandler).HandleMalformed([]byte{0}); !errors.Is(err, frame.ErrProtocol) {
		t.Fatalf("non-empty body: %v", err)
	}
}

func TestUnwrapRotated(t *testing.T) {
	key := types.EncryptionKey{KeyType: etypeID.AES256_CTS_HMAC_SHA1_96, KeyValue: bytes.Repeat([]byte{1}, 32)}
	a, _ := newWrapper(key, true, true, 5, 9)
	b, _ := newWrapper(key, false, true, 9, 5)
	tok, err := a.wrap(nil, []byte("rotated"))
	if err != nil {
		t.Fatal(err)
	}
	// Rotate the encrypted part right by 28, as Microsoft's SSPI does.
	body := tok[wrapHeaderSize:]
	r := 28 % len(body)
	rot := append(bytes.Clone(body[len(body)-r:]), body[:len(body)-r]...)
	tok = append(tok[:wrapHeaderSize:wrapHeaderSize], rot...)
	binary.BigEndian.PutUint16(tok[6:], 28)
	got, err := b.unwrap(tok)
	if err != nil || string(got) != "rotated" {
		t.Fatalf("%q %v", got, err)
	}
	// A token claiming to come from the initiator is refused.
	tok2, _ := b.wrap(nil, []byte("x"))
	if _, err := b.unwrap(tok2); !errors.Is(err, ErrMessageMalformed) {
		t.Fatalf("own token: %v", err)
	}
}

func TestValidate(t *testing.T) {
	kt := testKeytab(t)
	for _, m := range []*Mechanism{
		{},
		{Server: true},
		{tickets: testTickets{kt, etypeID.AES256_CTS_HMAC_SHA1_96}},
		{tickets: testTickets{kt, etypeID.AES256_CTS_HMAC_SHA1_96}, ServicePrincipal: "@host"},
		{tickets: testTickets{kt, etypeID.AES256_CTS_HMAC_SHA1_96}, ServicePrincipal: "zmtp@h", Principal: "bob", PrincipalNameType: UserName},
		{Server: true, Keytab: kt, Principal: "a//b", PrincipalNameType: KerberosPrincipal},
		{Server: true, Keytab: kt, Principal: "a", PrincipalNameType: 7},
	} {
		if err := m.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%v: %v", m, err)
		}
	}
	ok := &Mechanism{tickets: testTickets{kt, etypeID.AES256_CTS_HMAC_SHA1_96}, ServicePrincipal: "zmtp/localhost@" + testRealm,
		ServicePrincipalNameType: KerberosPrincipal, Principal: "alice", PrincipalNameType: UserName}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}
