package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/z85"
	"github.com/zmtp-go/zmtp/zmtp"
)

// A CURVE REQ/REP pair: the server authenticates clients by their public
// keys, the client authenticates the server by its public key, and every
// frame travels encrypted.
func Example_curveReqRep() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Each side makes its own permanent key pair. The client must know the
	// server's public key beforehand; keys travel as Z85 text, the form
	// libzmq's zmq_curve_keypair prints and ZMQ_CURVE_SERVERKEY takes.
	serverPub, serverSec, err := mechanism.GenerateCurveKeyPair(nil)
	if err != nil {
		log.Fatal(err)
	}
	clientPub, clientSec, err := mechanism.GenerateCurveKeyPair(nil)
	if err != nil {
		log.Fatal(err)
	}
	serverKeyText, err := z85.EncodeToString(serverPub[:])
	if err != nil {
		log.Fatal(err)
	}

	// The server accepts the client keys it knows. Without an
	// Authenticator it would refuse every client, unless AllowAnyClient
	// were set.
	known := map[[32]byte]string{clientPub: "alice"}
	auth := mechanism.AuthenticatorFunc(func(_ context.Context, req *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
		var key [32]byte
		copy(key[:], req.Credentials[0]) // CURVE: the client's public key
		if user, ok := known[key]; ok {
			return mechanism.ZAPResponse{StatusCode: mechanism.ZAPSuccess, UserID: user}, nil
		}
		return mechanism.ZAPResponse{StatusCode: mechanism.ZAPAuthFailure, StatusText: "unknown key"}, nil
	})
	rep, err := zmtp.NewSocket(zmtp.Rep, zmtp.Options{
		Mechanism: mechanism.Curve{Server: true, SecretKey: serverSec, Authenticator: auth},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer rep.Close()
	if err := rep.Bind("tcp://127.0.0.1:*"); err != nil {
		log.Fatal(err)
	}

	serverKey, err := mechanism.ParseCurveKey([]byte(serverKeyText))
	if err != nil {
		log.Fatal(err)
	}
	req, err := zmtp.NewSocket(zmtp.Req, zmtp.Options{
		Mechanism: mechanism.Curve{PublicKey: clientPub, SecretKey: clientSec, ServerKey: serverKey},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer req.Close()
	if err := req.Connect(rep.LastEndpoint()); err != nil {
		log.Fatal(err)
	}

	if err := req.Send(ctx, [][]byte{[]byte("hello")}); err != nil {
		log.Fatal(err)
	}
	m, err := rep.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("server got %q from User-Id %q\n", m.Frames[0], m.Metadata.Get("User-Id"))
	if err := rep.Send(ctx, [][]byte{[]byte("world")}); err != nil {
		log.Fatal(err)
	}
	r, err := req.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("client got %q\n", r.Frames[0])
	// Output:
	// server got "hello" from User-Id "alice"
	// client got "world"
}

// A PLAIN server whose authenticator is a ZAP handler (RFC 27) bound at
// inproc://zeromq.zap.01 in the server's Context, as in libzmq programs.
// A client with a wrong password is refused for good: its socket reports
// the ERROR and does not reconnect.
func Example_plainZAP() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	zc := zmtp.NewContext()
	handler, err := zc.NewSocket(zmtp.Rep, zmtp.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer handler.Close()
	if err := handler.Bind(zmtp.ZAPEndpoint); err != nil {
		log.Fatal(err)
	}
	users := map[string]string{"admin": "secret"}
	zapCtx, stopZAP := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- zmtp.ServeZAP(zapCtx, handler, mechanism.AuthenticatorFunc(
			func(_ context.Context, req *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
				user, pass := string(req.Credentials[0]), string(req.Credentials[1])
				if pw, ok := users[user]; ok && pw == pass {
					return mechanism.ZAPResponse{StatusCode: mechanism.ZAPSuccess, UserID: user}, nil
				}
				return mechanism.ZAPResponse{StatusCode: mechanism.ZAPAuthFailure, StatusText: "bad password"}, nil
			}))
	}()
	defer func() { stopZAP(); <-served }()

	pull, err := zc.NewSocket(zmtp.Pull, zmtp.Options{
		Mechanism: mechanism.Plain{Server: true, Authenticator: zc.ZAPAuthenticator(), Domain: "global"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer pull.Close()
	if err := pull.Bind("tcp://127.0.0.1:*"); err != nil {
		log.Fatal(err)
	}

	good, err := zmtp.NewSocket(zmtp.Push, zmtp.Options{
		Mechanism: mechanism.Plain{Username: "admin", Password: "secret"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer good.Close()
	if err := good.Connect(pull.LastEndpoint()); err != nil {
		log.Fatal(err)
	}
	if err := good.Send(ctx, [][]byte{[]byte("hi")}); err != nil {
		log.Fatal(err)
	}
	m, err := pull.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("got %q from User-Id %q\n", m.Frames[0], m.Metadata.Get("User-Id"))

	bad, err := zmtp.NewSocket(zmtp.Push, zmtp.Options{
		Mechanism: mechanism.Plain{Username: "admin", Password: "guess"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer bad.Close()
	events := bad.Monitor(zmtp.EventHandshakeFailedAuth)
	if err := bad.Connect(pull.LastEndpoint()); err != nil {
		log.Fatal(err)
	}
	select {
	case ev := <-events:
		var pe *mechanism.PeerError
		if errors.As(ev.Err, &pe) {
			fmt.Println(ev.Type, "with ERROR", pe.Reason)
		} else {
			fmt.Println(ev.Type, ev.Err)
		}
	case <-ctx.Done():
		log.Fatal("no authentication failure")
	}
	// Output:
	// got "hi" from User-Id "admin"
	// HANDSHAKE_FAILED_AUTH with ERROR 400
}
