// Command local_lat echoes roundtrip-count messages on a REP socket bound
// to bind-to, like libzmq's local_lat.
package main

import (
	"context"
	"fmt"

	"github.com/zmtp-go/zmtp/perf"
	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	ep, size, count := perf.Args("local_lat <bind-to> <message-size> <roundtrip-count>")
	s, err := zmtp.NewSocket(zmtp.Rep, zmtp.Options{})
	if err != nil {
		perf.Fatal(err)
	}
	defer s.Close()
	if err := s.Bind(ep); err != nil {
		perf.Fatal(err)
	}
	ctx := context.Background()
	for range count {
		m, err := s.Recv(ctx)
		if err != nil {
			perf.Fatal(err)
		}
		if len(m.Frames) != 1 || len(m.Frames[0]) != size {
			perf.Fatal(fmt.Errorf("message of wrong size"))
		}
		if err := s.Send(ctx, m.Frames); err != nil {
			perf.Fatal(err)
		}
	}
}
