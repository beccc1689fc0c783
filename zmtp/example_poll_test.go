package zmtp_test

import (
	"context"
	"fmt"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

// A Poller reads a PULL and a SUB in one loop, as the Guide's mspoller.
func ExamplePoller() {
	ctx := context.Background()
	zc := zmtp.NewContext()
	vent, _ := zc.NewSocket(zmtp.Push, zmtp.Options{})
	defer vent.Close()
	vent.Bind("inproc://tasks")
	weather, _ := zc.NewSocket(zmtp.Pub, zmtp.Options{})
	defer weather.Close()
	weather.Bind("inproc://weather")

	receiver, _ := zc.NewSocket(zmtp.Pull, zmtp.Options{})
	defer receiver.Close()
	receiver.Connect("inproc://tasks")
	subscriber, _ := zc.NewSocket(zmtp.Sub, zmtp.Options{})
	defer subscriber.Close()
	subscriber.Subscribe([]byte("10001 "))
	subscriber.Connect("inproc://weather")

	vent.SendString(ctx, "task 1")
	weather.SendString(ctx, "10001 21 50")

	poller := zmtp.NewPoller()
	defer poller.Close()
	poller.Add(receiver, zmtp.PollIn)
	poller.Add(subscriber, zmtp.PollIn)
	for got := 0; got < 2; {
		ready, _ := poller.Wait(ctx)
		for _, r := range ready {
			m, _ := r.Socket.TryRecvString()
			switch r.Socket {
			case receiver:
				fmt.Println("task:", m)
			case subscriber:
				fmt.Println("update:", m)
			}
			got++
		}
	}
	// Unordered output:
	// task: task 1
	// update: 10001 21 50
}

// Ready waits on a socket in a select, beside other channels.
func ExamplePoller_Ready() {
	zc := zmtp.NewContext()
	router, _ := zc.NewSocket(zmtp.Router, zmtp.Options{})
	defer router.Close()
	router.Bind("inproc://select")
	dealer, _ := zc.NewSocket(zmtp.Dealer, zmtp.Options{})
	defer dealer.Close()
	dealer.Connect("inproc://select")

	poller := zmtp.NewPoller()
	defer poller.Close()
	poller.Add(router, zmtp.PollIn)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for sent := false; ; {
		select {
		case <-tick.C:
			if !sent {
				dealer.TrySendString("hello")
				sent = true
			}
		case <-poller.Ready():
			if ready, _ := poller.Poll(0); len(ready) > 0 {
				m, _ := router.TryRecv()
				fmt.Printf("%s\n", m.Frames[1])
				return
			}
		}
	}
	// Output: hello
}

// Lazy Pirate's wait for a reply: Poll with a timeout returns no sockets
// when none is ready in time.
func ExamplePoller_Poll() {
	zc := zmtp.NewContext()
	server, _ := zc.NewSocket(zmtp.Router, zmtp.Options{}) // never answers
	defer server.Close()
	server.Bind("inproc://silent")
	req, _ := zc.NewSocket(zmtp.Req, zmtp.Options{})
	defer req.Close()
	req.Connect("inproc://silent")
	req.SendString(context.Background(), "anybody?")
	poller := zmtp.NewPoller()
	defer poller.Close()
	poller.Add(req, zmtp.PollIn)
	ready, _ := poller.Poll(10 * time.Millisecond)
	fmt.Println(len(ready), "ready")
	// Output: 0 ready
}

// The shorthands for text and frames.
func ExampleSocket_SendString() {
	ctx := context.Background()
	zc := zmtp.NewContext()
	pull, _ := zc.NewSocket(zmtp.Pull, zmtp.Options{})
	defer pull.Close()
	pull.Bind("inproc://text")
	push, _ := zc.NewSocket(zmtp.Push, zmtp.Options{})
	defer push.Close()
	push.Connect("inproc://text")

	push.SendString(ctx, "one frame")
	push.SendString(ctx, "key", "value")
	push.SendFrames(ctx, []byte("sent"), []byte("without a copy"))
	s, _ := pull.RecvString(ctx)
	fmt.Println(s)
	parts, _ := pull.RecvStrings(ctx)
	fmt.Println(parts)
	m, _ := pull.Recv(ctx)
	fmt.Println(m.Strings(), m.Text())
	// Output:
	// one frame
	// [key value]
	// [sent without a copy] sentwithout a copy
}
