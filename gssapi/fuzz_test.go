package gssapi

import (
	"context"
	"testing"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/zmtp-go/zmtp/frame"
)

// FuzzDecode feeds arbitrary command data to the decoders of the GSSAPI
// commands: the token framing, an initial context token, a server waiting
// for the AP-REQ, a client waiting for the AP-REP, and a cipher's Open.
// None may panic; every failure must be a protocol or handshake error.
func FuzzDecode(f *testing.F) {
	cm, sm := testPair(f, etypeID.AES256_CTS_HMAC_SHA1_96, false)
	c, _ := cm.NewHandshake(dealer)
	out, err := c.Start()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(out[0].Data)
	s, _ := sm.NewHandshake(router)
	s.Start()
	rep, err := s.Handle(context.Background(), out[0])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rep[0].Data)
	key := types.EncryptionKey{KeyType: etypeID.AES256_CTS_HMAC_SHA1_96, KeyValue: make([]byte, 32)}
	a, _ := newWrapper(key, true, true, 0, 0)
	sealed, _ := a.sealFrame(nil, 0, 0, []byte("hello"))
	f.Add(sealed[2+len(messageName):])
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if tok, err := parseTokenData(data); err == nil {
			parseContextToken(tok)
		}
		s, _ := sm.NewHandshake(router)
		s.Start()
		if _, err := s.Handle(context.Background(), frame.Command{Name: frame.CmdInitiate, Data: data}); err == nil {
			return // a valid AP-REQ (the seed, once)
		}
		cl, _ := cm.NewHandshake(dealer)
		if _, err := cl.Start(); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Handle(context.Background(), frame.Command{Name: frame.CmdInitiate, Data: data}); err == nil {
			t.Fatal("the client accepted an AP-REP that answers another authenticator")
		}
		b, _ := newWrapper(key, false, true, 0, 0)
		// Only a token sealed with the key opens: the seed, "hello".
		if flags, body, err := (cipher{b}).Open(data); err == nil && (flags != 0 || string(body) != "hello") {
			t.Fatalf("opened % x as %x %q", data, flags, body)
		}
	})
}
