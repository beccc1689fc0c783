// Taskvent is the Guide's task ventilator: a PUSH socket bound to
// tcp://*:5557 that sends a batch of 100 tasks to the workers, after
// telling the sink at tcp://localhost:5558 that the batch starts.
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
	sender, _ := zmtp.NewBound(zmtp.Push, "tcp://*:5557")
	defer sender.Close()
	sink, _ := zmtp.NewConnected(zmtp.Push, "tcp://localhost:5558")
	defer sink.Close()
	fmt.Print("Press Enter when the workers are ready: ")
	fmt.Scanln()
	fmt.Println("Sending tasks to workers...")
	sink.SendString(ctx, "0") // the start of the batch
	total := 0
	for range 100 {
		workload := rand.IntN(100) + 1 // milliseconds
		total += workload
		sender.SendString(ctx, fmt.Sprint(workload))
	}
	fmt.Println("Total expected cost:", time.Duration(total)*time.Millisecond)
	// Close, deferred, waits until every task is delivered.
}
