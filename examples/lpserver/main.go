// Lpserver is the Guide's Lazy Pirate server: a REP socket bound to
// tcp://*:5555 that echoes each request, but after a few requests now and
// then runs slowly, or exits to simulate a crash.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	ctx := context.Background()
	server, _ := zmtp.NewBound(zmtp.Rep, "tcp://*:5555")
	defer server.Close()
	for cycles := 1; ; cycles++ {
		request, _ := server.RecvString(ctx)
		if cycles > 3 && rand.IntN(3) == 0 {
			fmt.Println("I: simulating a crash")
			return
		} else if cycles > 3 && rand.IntN(3) == 0 {
			fmt.Println("I: simulating CPU overload")
			time.Sleep(2 * time.Second)
		}
		fmt.Printf("I: normal request (%s)\n", request)
		time.Sleep(time.Second) // do some heavy work
		server.SendString(ctx, request)
	}
}
