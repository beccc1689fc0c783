package mechanism_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/z85"
)

// exchange runs a client and a server handshake against each other in
// memory, as two connections would over the network, and prints the
// commands they send.
func exchange(client, server mechanism.Handshake) error {
	ctx := context.Background()
	toServer, err := client.Start()
	if err != nil {
		return err
	}
	toClient, err := server.Start()
	if err != nil {
		return err
	}
	for len(toServer)+len(toClient) > 0 {
		if len(toServer) > 0 {
			cmd := toServer[0]
			fmt.Println("client sends", cmd.Name)
			out, err := server.Handle(ctx, cmd)
			toServer, toClient = toServer[1:], append(toClient, out...)
			if err != nil {
				return err
			}
			continue
		}
		cmd := toClient[0]
		fmt.Println("server sends", cmd.Name)
		out, err := client.Handle(ctx, cmd)
		toClient, toServer = toClient[1:], append(toServer, out...)
		if err != nil {
			return err
		}
	}
	return nil
}

func ExamplePlain() {
	server := mechanism.Plain{
		Server: true,
		Authenticator: mechanism.AuthenticatorFunc(func(_ context.Context, req *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
			user, pass := req.Credentials[0], req.Credentials[1]
			if string(user) == "admin" && string(pass) == "secret" {
				return mechanism.ZAPResponse{StatusCode: mechanism.ZAPSuccess, UserID: "admin"}, nil
			}
			return mechanism.ZAPResponse{StatusCode: mechanism.ZAPAuthFailure, StatusText: "bad credentials"}, nil
		}),
	}
	client := mechanism.Plain{Username: "admin", Password: "secret"}

	ss, err := server.NewHandshake(mechanism.Params{SocketType: mechanism.Router})
	if err != nil {
		log.Fatal(err)
	}
	cs, err := client.NewHandshake(mechanism.Params{SocketType: mechanism.Dealer})
	if err != nil {
		log.Fatal(err)
	}
	if err := exchange(cs, ss); err != nil {
		log.Fatal(err)
	}
	fmt.Println("server sees User-Id", ss.PeerMetadata().Get(frame.PropUserID))
	// Output:
	// client sends HELLO
	// server sends WELCOME
	// client sends INITIATE
	// server sends READY
	// server sees User-Id admin
}

func ExampleCurve() {
	serverPublic, serverSecret, err := mechanism.GenerateCurveKeyPair(nil)
	if err != nil {
		log.Fatal(err)
	}
	clientPublic, clientSecret, err := mechanism.GenerateCurveKeyPair(nil)
	if err != nil {
		log.Fatal(err)
	}
	// The server accepts one client key.
	server := mechanism.Curve{
		Server:    true,
		SecretKey: serverSecret,
		Authenticator: mechanism.AuthenticatorFunc(func(_ context.Context, req *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
			if bytes.Equal(req.Credentials[0], clientPublic[:]) {
				return mechanism.ZAPResponse{StatusCode: mechanism.ZAPSuccess, UserID: "client-1"}, nil
			}
			return mechanism.ZAPResponse{StatusCode: mechanism.ZAPAuthFailure}, nil
		}),
	}
	// The client knows the server's public key.
	client := mechanism.Curve{SecretKey: clientSecret, ServerKey: serverPublic}

	ss, err := server.NewHandshake(mechanism.Params{SocketType: mechanism.Router})
	if err != nil {
		log.Fatal(err)
	}
	cs, err := client.NewHandshake(mechanism.Params{SocketType: mechanism.Dealer})
	if err != nil {
		log.Fatal(err)
	}
	if err := exchange(cs, ss); err != nil {
		log.Fatal(err)
	}
	fmt.Println("server sees User-Id", ss.PeerMetadata().Get(frame.PropUserID))

	// After the handshake every frame travels in a MESSAGE command.
	wire, err := cs.Cipher().Seal(nil, 0, []byte("hello"))
	if err != nil {
		log.Fatal(err)
	}
	_, n, err := frame.ParseHeader(wire)
	if err != nil {
		log.Fatal(err)
	}
	cmd, err := frame.ParseCommand(wire[n:])
	if err != nil {
		log.Fatal(err)
	}
	flags, body, err := ss.Cipher().Open(cmd.Data)
	fmt.Printf("%s carries %q with flags %d (%v)\n", cmd.Name, body, flags, err)
	// Output:
	// client sends HELLO
	// server sends WELCOME
	// client sends INITIATE
	// server sends READY
	// server sees User-Id client-1
	// MESSAGE carries "hello" with flags 0 (<nil>)
}

func ExampleParseCurveKey() {
	// A public key as zmq_curve_keypair prints it.
	key, err := mechanism.ParseCurveKey([]byte("TCq}l71>=$R<69/hVrUkBf@s#?r#Nr5^0EeU!Ok1"))
	fmt.Printf("%x %v\n", key, err)
	// Output: ac8791a415d93e7ba79436d236fdff3573b4b521ddef232a12027cd2b0bfc773 <nil>
}

func ExampleCurvePublicKey() {
	secret, err := mechanism.ParseCurveKey([]byte("c71g5!weyRY!pZrH4zhA]txN}Ob<S]T:r1iT!2Vz"))
	if err != nil {
		log.Fatal(err)
	}
	public := mechanism.CurvePublicKey(secret)
	text, err := z85.EncodeToString(public[:])
	fmt.Println(text, err)
	// Output: TCq}l71>=$R<69/hVrUkBf@s#?r#Nr5^0EeU!Ok1 <nil>
}

func ExampleIsLibzmqMalformedError() {
	// libzmq 4.3's PLAIN server refuses a client with this command body,
	// which frame.ParseCommand rejects.
	body := []byte("\x5eRROR\x03400")
	_, err := frame.ParseCommand(body)
	fmt.Println(err)
	reason, ok := mechanism.IsLibzmqMalformedError(body)
	fmt.Println(reason, ok)
	// Output:
	// zmtp: malformed command
	// 400 true
}
