// Rrclient is the Guide's request-reply client: a REQ socket connected to
// the broker's frontend at tcp://localhost:5559.
package main

import (
	"context"
	"fmt"

	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	ctx := context.Background()
	requester, _ := zmtp.NewConnected(zmtp.Req, "tcp://localhost:5559")
	for n := range 10 {
		requester.SendString(ctx, "Hello")
		reply, _ := requester.RecvString(ctx)
		fmt.Printf("Received reply %d [%s]\n", n, reply)
	}
	// Every request is answered: the exit leaves nothing undelivered.
}
