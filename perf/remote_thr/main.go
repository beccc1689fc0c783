// Command remote_thr sends message-count messages of message-size octets
// from a PUSH socket connected to connect-to, like libzmq's remote_thr.
package main

import (
	"context"
	"time"

	"github.com/zmtp-go/zmtp/perf"
	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	ep, size, count := perf.Args("remote_thr <connect-to> <message-size> <message-count>")
	s := perf.Open(zmtp.Push, zmtp.Options{Linger: zmtp.DurationOf(time.Hour)}, ep, false)
	ctx := context.Background()
	// One message sent again and again, as libzmq's remote_thr sends from
	// one buffer: it is never modified, so the socket may still hold it
	// from an earlier Send. Sending allocates nothing per message.
	msg := [][]byte{make([]byte, size)}
	for range count {
		if err := s.Send(ctx, msg); err != nil {
			perf.Fatal(err)
		}
	}
	// Close delivers what is queued (Linger) before returning.
	s.Close()
}
