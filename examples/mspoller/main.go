// Mspoller is the Guide's multiple socket poller: it reads tasks from the
// ventilator at tcp://localhost:5557 and weather updates for zipcode
// 10001 from tcp://localhost:5556 in one loop.
package main

import (
	"fmt"

	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	receiver, _ := zmtp.NewConnected(zmtp.Pull, "tcp://localhost:5557")
	defer receiver.Close()
	subscriber, _ := zmtp.NewConnected(zmtp.Sub, "tcp://localhost:5556")
	defer subscriber.Close()
	subscriber.Subscribe([]byte("10001 "))
	poller := zmtp.NewPoller()
	poller.Add(receiver, zmtp.PollIn)
	poller.Add(subscriber, zmtp.PollIn)
	for {
		ready, _ := poller.Poll(-1)
		for _, r := range ready {
			msg, _ := r.Socket.TryRecvString()
			switch r.Socket {
			case receiver:
				fmt.Println("Got task:", msg)
			case subscriber:
				fmt.Println("Got weather update:", msg)
			}
		}
	}
}
