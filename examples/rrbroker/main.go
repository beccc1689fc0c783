// Rrbroker is the Guide's simple request-reply broker: a ROUTER frontend
// at tcp://*:5559 for clients, a DEALER backend at tcp://*:5560 for
// workers, and a poll loop that passes messages between them.
package main

import (
	"context"

	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	ctx := context.Background()
	frontend, _ := zmtp.NewBound(zmtp.Router, "tcp://*:5559")
	defer frontend.Close()
	backend, _ := zmtp.NewBound(zmtp.Dealer, "tcp://*:5560")
	defer backend.Close()
	poller := zmtp.NewPoller()
	poller.Add(frontend, zmtp.PollIn)
	poller.Add(backend, zmtp.PollIn)
	for {
		ready, _ := poller.Poll(-1)
		for _, r := range ready {
			msg, _ := r.Socket.TryRecv() // a whole message, envelope and all
			if r.Socket == frontend {
				backend.Send(ctx, msg.Frames)
			} else {
				frontend.Send(ctx, msg.Frames)
			}
		}
	}
}
