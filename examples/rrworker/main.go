// Rrworker is the Guide's request-reply worker: a REP socket connected to
// the broker's backend at tcp://localhost:5560.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	ctx := context.Background()
	responder, _ := zmtp.NewConnected(zmtp.Rep, "tcp://localhost:5560")
	for { // until killed: there is nothing to close on the way out
		request, _ := responder.RecvString(ctx)
		fmt.Printf("Received request: [%s]\n", request)
		time.Sleep(time.Second) // do some work
		responder.SendString(ctx, "World")
	}
}
