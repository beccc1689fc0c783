package zmtp_test

import (
	"context"
	"fmt"
	"net"

	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp"
)

// A REQ socket asks, a REP socket answers, over loopback TCP.
func ExampleNewSocket() {
	ctx := context.Background()
	rep, _ := zmtp.NewSocket(zmtp.Rep, zmtp.Options{})
	defer rep.Close()
	if err := rep.Bind("tcp://127.0.0.1:*"); err != nil {
		panic(err)
	}
	req, _ := zmtp.NewSocket(zmtp.Req, zmtp.Options{})
	defer req.Close()
	req.Connect(rep.LastEndpoint())

	req.Send(ctx, [][]byte{[]byte("hello")})
	m, _ := rep.Recv(ctx)
	fmt.Printf("REP got %s from a %s\n", m.Frames[0], m.Metadata.Get("Socket-Type"))
	rep.Send(ctx, [][]byte{[]byte("world")})
	m, _ = req.Recv(ctx)
	fmt.Printf("REQ got %s\n", m.Frames[0])
	// Output:
	// REP got hello from a REQ
	// REQ got world
}

// Sockets made by one Context reach each other at inproc endpoints.
func ExampleContext() {
	ctx := context.Background()
	zc := zmtp.NewContext()
	pub, _ := zc.NewSocket(zmtp.Pub, zmtp.Options{})
	defer pub.Close()
	pub.Bind("inproc://news")
	sub, _ := zc.NewSocket(zmtp.Sub, zmtp.Options{})
	defer sub.Close()
	sub.Subscribe([]byte("sport"))
	sub.Connect("inproc://news")

	pub.Send(ctx, [][]byte{[]byte("weather: rain")})
	pub.Send(ctx, [][]byte{[]byte("sport: 2-1")})
	m, _ := sub.Recv(ctx)
	fmt.Println(string(m.Frames[0]))
	// Output: sport: 2-1
}

// NewConn speaks ZMTP over any net.Conn: here the two ends of a pipe.
func ExampleNewConn() {
	ctx := context.Background()
	a, b := net.Pipe()
	done := make(chan *zmtp.Conn)
	go func() {
		c, err := zmtp.NewConn(ctx, b, zmtp.ConnConfig{SocketType: mechanism.Router})
		if err != nil {
			panic(err)
		}
		done <- c
	}()
	dealer, err := zmtp.NewConn(ctx, a, zmtp.ConnConfig{SocketType: mechanism.Dealer, Identity: []byte("d1")})
	if err != nil {
		panic(err)
	}
	defer dealer.Close()
	router := <-done
	defer router.Close()

	dealer.Send(ctx, [][]byte{[]byte("job")})
	msg, _ := router.Recv(ctx)
	major, minor := router.Version()
	fmt.Printf("ZMTP %d.%d, Identity %s, message %s\n", major, minor, router.PeerMetadata().Get("Identity"), msg[0])
	// Output: ZMTP 3.1, Identity d1, message job
}

// A CURVE server accepts only the client keys its Authenticator knows.
func ExampleNewSocket_curve() {
	ctx := context.Background()
	serverPub, serverSec, _ := mechanism.GenerateCurveKeyPair(nil)
	clientPub, clientSec, _ := mechanism.GenerateCurveKeyPair(nil)
	auth := mechanism.AuthenticatorFunc(func(ctx context.Context, r *mechanism.ZAPRequest) (mechanism.ZAPResponse, error) {
		if string(r.Credentials[0]) == string(clientPub[:]) {
			return mechanism.ZAPResponse{StatusCode: 200, UserID: "alice"}, nil
		}
		return mechanism.ZAPResponse{StatusCode: 400, StatusText: "unknown key"}, nil
	})
	srv, _ := zmtp.NewSocket(zmtp.Pull, zmtp.Options{Mechanism: mechanism.Curve{
		Server: true, PublicKey: serverPub, SecretKey: serverSec, Authenticator: auth,
	}})
	defer srv.Close()
	srv.Bind("tcp://127.0.0.1:*")
	cli, _ := zmtp.NewSocket(zmtp.Push, zmtp.Options{Mechanism: mechanism.Curve{
		PublicKey: clientPub, SecretKey: clientSec, ServerKey: serverPub,
	}})
	defer cli.Close()
	cli.Connect(srv.LastEndpoint())

	cli.Send(ctx, [][]byte{[]byte("secret")})
	m, _ := srv.Recv(ctx)
	fmt.Printf("%s from %s\n", m.Frames[0], m.Metadata.Get("User-Id"))
	// Output: secret from alice
}
