package zmtp_test

import (
	"context"
	"fmt"

	"github.com/zmtp-go/zmtp/zmtp"
)

// Sockets talk ZeroMQ over WebSocket (ZWS 2.0, as libzmq 4.3.5 does) at
// ws:// endpoints; wss:// adds TLS from Options.TLSConfig.
func ExampleNewSocket_websocket() {
	ctx := context.Background()
	pull, _ := zmtp.NewSocket(zmtp.Pull, zmtp.Options{})
	defer pull.Close()
	if err := pull.Bind("ws://127.0.0.1:*/zmq"); err != nil {
		panic(err)
	}
	push, _ := zmtp.NewSocket(zmtp.Push, zmtp.Options{})
	defer push.Close()
	push.Connect(pull.LastEndpoint()) // ws://127.0.0.1:PORT/zmq

	push.Send(ctx, [][]byte{[]byte("over"), []byte("websocket")})
	m, _ := pull.Recv(ctx)
	fmt.Printf("%s %s\n", m.Frames[0], m.Frames[1])
	// Output: over websocket
}
