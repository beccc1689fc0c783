package zmtp_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/zmtp-go/zmtp/zmtp"
)

// A SERVER answers each CLIENT by the routing id its request came with
// (RFC 41). Messages are single frames: a multipart one is refused.
func ExampleSocket_SendTo() {
	ctx := context.Background()
	server, _ := zmtp.NewBound(zmtp.Server, "tcp://127.0.0.1:*")
	defer server.Close()
	client, _ := zmtp.NewConnected(zmtp.Client, server.LastEndpoint())
	defer client.Close()

	client.SendString(ctx, "hello")
	m, _ := server.Recv(ctx)
	fmt.Printf("SERVER got %s from a %s\n", m.Text(), m.Metadata.Get("Socket-Type"))
	server.SendTo(ctx, m.RoutingID, []byte("world"))
	reply, _ := client.RecvString(ctx)
	fmt.Println("CLIENT got", reply)

	err := client.SendString(ctx, "two", "frames")
	fmt.Println(errors.Is(err, zmtp.ErrMultipart))
	// Output:
	// SERVER got hello from a CLIENT
	// CLIENT got world
	// true
}

// A SCATTER deals its messages out to its GATHERs in turn (RFC 49).
func ExampleScatter() {
	ctx := context.Background()
	zc := zmtp.NewContext()
	scatter, _ := zc.NewSocket(zmtp.Scatter, zmtp.Options{})
	defer scatter.Close()
	scatter.Bind("inproc://work")
	var gathers []*zmtp.Socket
	for range 2 {
		g, _ := zc.NewSocket(zmtp.Gather, zmtp.Options{})
		defer g.Close()
		g.Connect("inproc://work")
		gathers = append(gathers, g)
	}

	for _, task := range []string{"a", "b", "c", "d"} {
		scatter.SendString(ctx, task)
	}
	for i, g := range gathers {
		first, _ := g.RecvString(ctx)
		second, _ := g.RecvString(ctx)
		fmt.Printf("GATHER %d got %s, %s\n", i, first, second)
	}
	// Output:
	// GATHER 0 got a, c
	// GATHER 1 got b, d
}

// A PEER connects to another with ConnectPeer, which returns the routing
// id to send to; the other answers by the id its message came with
// (RFC 51).
func ExampleSocket_ConnectPeer() {
	ctx := context.Background()
	alice, _ := zmtp.NewBound(zmtp.Peer, "tcp://127.0.0.1:*")
	defer alice.Close()
	bob, _ := zmtp.NewSocket(zmtp.Peer, zmtp.Options{})
	defer bob.Close()
	aliceID, _ := bob.ConnectPeer(alice.LastEndpoint())

	bob.SendTo(ctx, aliceID, []byte("hi alice"))
	m, _ := alice.Recv(ctx)
	fmt.Println("alice got", m.Text())
	alice.SendTo(ctx, m.RoutingID, []byte("hi bob"))
	m, _ = bob.Recv(ctx)
	fmt.Println("bob got", m.Text(), "from alice:", m.RoutingID == aliceID)
	// Output:
	// alice got hi alice
	// bob got hi bob from alice: true
}

// Two CHANNEL sockets talk to each other alone, as PAIR sockets do, and
// are safe for concurrent use (RFC 52).
func ExampleChannel() {
	ctx := context.Background()
	a, _ := zmtp.NewBound(zmtp.Channel, "tcp://127.0.0.1:*")
	defer a.Close()
	b, _ := zmtp.NewConnected(zmtp.Channel, a.LastEndpoint())
	defer b.Close()

	done := make(chan struct{})
	go func() { // another goroutine answers on a
		defer close(done)
		s, _ := a.RecvString(ctx)
		a.SendString(ctx, s+" pong")
	}()
	b.SendString(ctx, "ping")
	reply, _ := b.RecvString(ctx)
	<-done
	fmt.Println(reply)
	// Output: ping pong
}
