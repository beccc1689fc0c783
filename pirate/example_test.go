package pirate_test

import (
	"context"
	"fmt"

	"github.com/zmtp-go/zmtp/pirate"
	"github.com/zmtp-go/zmtp/zmtp"
)

// A Paranoid Pirate queue with one worker, and a Lazy Pirate client of
// the queue, over inproc.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	zc := zmtp.NewContext()

	q, _ := pirate.NewQueue(pirate.QueueOptions{Context: zc})
	q.BindFrontend("inproc://frontend")
	q.BindBackend("inproc://backend")
	queueDone := make(chan error)
	go func() { queueDone <- q.Run(ctx) }()

	w, _ := pirate.NewWorker("inproc://backend",
		pirate.HandlerFunc(func(ctx context.Context, req [][]byte) ([][]byte, error) {
			return [][]byte{append([]byte("done: "), req[0]...)}, nil
		}), pirate.WorkerOptions{Context: zc})
	workerDone := make(chan error)
	go func() { workerDone <- w.Run(ctx) }()

	c, _ := pirate.NewLazyClient("inproc://frontend", pirate.LazyOptions{Context: zc})
	reply, err := c.Request(ctx, []byte("task 1"))
	fmt.Printf("%s %v\n", reply[0], err)
	c.Close()

	cancel()
	<-workerDone
	<-queueDone
	// Output: done: task 1 <nil>
}
