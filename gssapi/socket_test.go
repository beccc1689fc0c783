package gssapi

import (
	"context"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"go.uber.org/goleak"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/zmtp"
)

// TestSockets runs the mechanism between two of our sockets over TCP, with
// and without encryption, heartbeats on: messages pass both ways and the
// server sees the client's principal as User-Id.
func TestSockets(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, plaintext := range []bool{false, true} {
		cm, sm := testPair(t, etypeID.AES256_CTS_HMAC_SHA1_96, plaintext)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		srv, err := zmtp.NewSocket(zmtp.Dealer, zmtp.Options{Mechanism: sm, HeartbeatInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		cli, err := zmtp.NewSocket(zmtp.Dealer, zmtp.Options{Mechanism: cm, HeartbeatInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Bind("tcp://127.0.0.1:*"); err != nil {
			t.Fatal(err)
		}
		if err := cli.Connect(srv.LastEndpoint()); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := cli.Send(ctx, [][]byte{[]byte("ping"), {byte(i)}}); err != nil {
				t.Fatal(err)
			}
			m, err := srv.Recv(ctx)
			if err != nil || len(m.Frames) != 2 || string(m.Frames[0]) != "ping" || m.Frames[1][0] != byte(i) {
				t.Fatalf("server got %q, %v", m.Frames, err)
			}
			if uid, _ := m.Metadata.Lookup(frame.PropUserID); string(uid) != "alice@"+testRealm {
				t.Fatalf("User-Id %q", uid)
			}
			if err := srv.Send(ctx, [][]byte{[]byte("pong")}); err != nil {
				t.Fatal(err)
			}
			if m, err := cli.Recv(ctx); err != nil || string(m.Frames[0]) != "pong" {
				t.Fatalf("client got %q, %v", m.Frames, err)
			}
		}
		cancel()
		cli.Close()
		srv.Close()
	}
}
