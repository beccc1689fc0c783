// Tasksink is the Guide's task sink: a PULL socket bound to tcp://*:5558
// that waits for the start of a batch, collects its 100 results and
// prints how long they took.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	ctx := context.Background()
	receiver, _ := zmtp.NewBound(zmtp.Pull, "tcp://*:5558")
	defer receiver.Close()
	receiver.Recv(ctx) // the start of the batch
	start := time.Now()
	for n := range 100 {
		receiver.Recv(ctx)
		fmt.Print(string(":........."[n%10])) // a colon every ten results
	}
	fmt.Println("\nTotal elapsed time:", time.Since(start))
}
