// Taskwork is the Guide's task worker: it pulls tasks from
// tcp://localhost:5557, sleeps for each the milliseconds it says, and
// pushes a result to the sink at tcp://localhost:5558.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	ctx := context.Background()
	receiver, _ := zmtp.NewConnected(zmtp.Pull, "tcp://localhost:5557")
	defer receiver.Close()
	sender, _ := zmtp.NewConnected(zmtp.Push, "tcp://localhost:5558")
	defer sender.Close()
	for {
		task, _ := receiver.RecvString(ctx)
		fmt.Print(task, ".")
		workload, _ := time.ParseDuration(task + "ms")
		time.Sleep(workload) // do the work
		sender.SendString(ctx, "")
	}
}
