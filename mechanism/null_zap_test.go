package mechanism

import (
	"context"
	"errors"
	"testing"

	"github.com/zmtp-go/zmtp/frame"
)

func TestNullWithAuthenticator(t *testing.T) {
	var got *ZAPRequest
	auth := AuthenticatorFunc(func(_ context.Context, r *ZAPRequest) (ZAPResponse, error) {
		got = r
		if r.Address == "10.0.0.1" {
			return ZAPResponse{StatusCode: 200, UserID: "trusted"}, nil
		}
		return ZAPResponse{StatusCode: 400}, nil
	})
	run := func(addr string) ([]frame.Command, Handshake, error) {
		srv, _ := Null{Authenticator: auth, Domain: "global"}.NewHandshake(Params{SocketType: Pull, RemoteAddr: addr})
		cli, _ := Null{}.NewHandshake(Params{SocketType: Push, Identity: []byte("me")})
		first, err := srv.Start()
		if err != nil || len(first) != 0 {
			t.Fatalf("server Start sent %v, %v: READY must wait for the verdict", first, err)
		}
		out, _ := cli.Start()
		reply, err := srv.Handle(context.Background(), out[0])
		return reply, srv, err
	}
	reply, srv, err := run("10.0.0.1")
	if err != nil || len(reply) != 1 || reply[0].Name != frame.CmdReady || !srv.Done() {
		t.Fatalf("accepted peer: %v %v done=%v", reply, err, srv.Done())
	}
	if srv.PeerMetadata().Get("User-Id") != "trusted" || got.Domain != "global" || got.Mechanism != "NULL" || string(got.RoutingID) != "me" {
		t.Errorf("metadata %v, request %+v", srv.PeerMetadata(), got)
	}
	reply, srv, err = run("10.9.9.9")
	var ae *AuthError
	if !errors.As(err, &ae) || len(reply) != 1 || reply[0].Name != frame.CmdError || srv.Done() {
		t.Fatalf("refused peer: %v %v", reply, err)
	}
}

func TestNullDomainWithoutAuthenticatorFailsClosed(t *testing.T) {
	srv, _ := Null{Domain: "global"}.NewHandshake(Params{SocketType: Pull})
	cli, _ := Null{}.NewHandshake(Params{SocketType: Push})
	srv.Start()
	out, _ := cli.Start()
	if _, err := srv.Handle(context.Background(), out[0]); !errors.Is(err, ErrHandshake) {
		t.Fatalf("err = %v", err)
	}
}
