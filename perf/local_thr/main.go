// Command local_thr receives message-count messages on a PULL socket bound
// to bind-to and prints the throughput, like libzmq's local_thr.
package main

import (
	"context"
	"fmt"
	"time"

	"github.com/zmtp-go/zmtp/perf"
	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	ep, size, count := perf.Args("local_thr <bind-to> <message-size> <message-count>")
	s := perf.Open(zmtp.Pull, zmtp.Options{}, ep, true)
	defer s.Close()
	ctx := context.Background()
	var m zmtp.Message // reused, as libzmq's local_thr reuses its zmq_msg_t
	recv := func() {
		if err := s.RecvInto(ctx, &m); err != nil {
			perf.Fatal(err)
		}
		perf.Check(m, size)
	}
	recv()
	start := time.Now()
	for i := 1; i < count; i++ {
		recv()
	}
	elapsed := time.Since(start)
	us := elapsed.Microseconds()
	if us == 0 {
		us = 1
	}
	throughput := uint64(float64(count) / (float64(us) / 1e6))
	megabits := float64(throughput) * float64(size) * 8 / 1e6
	fmt.Printf("message size: %d [B]\n", size)
	fmt.Printf("message count: %d\n", count)
	fmt.Printf("mean throughput: %d [msg/s]\n", throughput)
	fmt.Printf("mean throughput: %.3f [Mb/s]\n", megabits)
}
