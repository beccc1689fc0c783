// Hwserver is the Guide's Hello World server: a REP socket bound to
// tcp://*:5555 that answers each request with "World".
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	ctx := context.Background()
	responder, _ := zmtp.NewBound(zmtp.Rep, "tcp://*:5555")
	defer responder.Close()
	for {
		request, _ := responder.RecvString(ctx)
		fmt.Println("Received", request)
		time.Sleep(time.Second) // do some work
		responder.SendString(ctx, "World")
	}
}
