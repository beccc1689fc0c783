// Hwclient is the Guide's Hello World client: a REQ socket connected to
// tcp://localhost:5555 that sends "Hello" ten times and waits for each
// reply.
package main

import (
	"context"
	"fmt"

	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	ctx := context.Background()
	fmt.Println("Connecting to hello world server...")
	requester, _ := zmtp.NewConnected(zmtp.Req, "tcp://localhost:5555")
	defer requester.Close()
	for n := range 10 {
		fmt.Println("Sending Hello", n)
		requester.SendString(ctx, fmt.Sprint("Hello ", n))
		reply, _ := requester.RecvString(ctx)
		fmt.Println("Received", reply, n)
	}
}
