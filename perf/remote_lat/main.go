// Command remote_lat sends roundtrip-count requests from a REQ socket
// connected to connect-to and prints the average latency, like libzmq's
// remote_lat.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/zmtp-go/zmtp/perf"
	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	ep, size, count := perf.Args("remote_lat <connect-to> <message-size> <roundtrip-count>")
	s := perf.Open(zmtp.Req, zmtp.Options{}, ep, false)
	defer s.Close()
	ctx := context.Background()
	msg := [][]byte{make([]byte, size)} // never modified: sent again and again
	start := time.Now()
	for range count {
		if err := s.Send(ctx, msg); err != nil {
			perf.Fatal(err)
		}
		m, err := s.Recv(ctx)
		if err != nil {
			perf.Fatal(err)
		}
		perf.Check(m, size)
	}
	elapsed := time.Since(start)
	latency := float64(elapsed.Microseconds()) / float64(count*2)
	fmt.Printf("message size: %d [B]\n", size)
	fmt.Printf("roundtrip count: %d\n", count)
	fmt.Printf("average latency: %.3f [us]\n", latency)
}
