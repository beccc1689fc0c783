// Command local_lat echoes roundtrip-count messages on a REP socket bound
// to bind-to, like libzmq's local_lat.
package main

import (
	"context"

	"github.com/zmtp-go/zmtp/perf"
	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	ep, size, count := perf.Args("local_lat <bind-to> <message-size> <roundtrip-count>")
	s := perf.Open(zmtp.Rep, zmtp.Options{}, ep, true)
	defer s.Close()
	ctx := context.Background()
	for range count {
		m, err := s.Recv(ctx)
		if err != nil {
			perf.Fatal(err)
		}
		perf.Check(m, size)
		if err := s.Send(ctx, m.Frames); err != nil {
			perf.Fatal(err)
		}
	}
}
