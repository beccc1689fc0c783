// Lpclient is the Guide's Lazy Pirate client: a REQ client that polls for
// each reply with a timeout and, when none comes, closes its socket, opens
// a new one and sends the request again, a few times before giving up.
// Run it against lpserver.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

const (
	requestTimeout = 2500 * time.Millisecond // more than the server's second of work
	requestRetries = 3                       // before we abandon
	serverEndpoint = "tcp://localhost:5555"
)

// connect returns a new client socket; one that is closed drops the
// request it could not deliver.
func connect() *zmtp.Socket {
	client, _ := zmtp.NewSocket(zmtp.Req, zmtp.Options{Linger: zmtp.NoLinger})
	client.Connect(serverEndpoint)
	return client
}

func main() {
	ctx := context.Background()
	fmt.Println("I: connecting to server...")
	client := connect()
	poller := zmtp.NewPoller()
	poller.Add(client, zmtp.PollIn)
	for sequence, retries := 1, requestRetries; retries > 0; sequence++ {
		request := fmt.Sprint(sequence)
		client.SendString(ctx, request)
		for {
			if ready, _ := poller.Poll(requestTimeout); len(ready) > 0 {
				// A reply: it must match the request.
				reply, _ := client.TryRecvString()
				if reply == request {
					fmt.Printf("I: server replied OK (%s)\n", reply)
					retries = requestRetries
					break
				}
				fmt.Printf("E: malformed reply from server: %s\n", reply)
				continue
			}
			if retries--; retries == 0 {
				fmt.Println("E: server seems to be offline, abandoning")
				break
			}
			fmt.Println("W: no response from server, retrying...")
			// The old socket is confused: close it and open a new one.
			poller.Remove(client)
			client.Close()
			client = connect()
			poller.Add(client, zmtp.PollIn)
			client.SendString(ctx, request)
		}
	}
	client.Close()
}
