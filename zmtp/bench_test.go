package zmtp

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkConnThroughput sends single-frame messages from one Conn to
// another over loopback TCP and receives them on the other side.
func BenchmarkConnThroughput(b *testing.B) {
	for _, size := range []int{1, 64, 1024, 65536} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			a, c := connPair(b, ConnConfig{SocketType: "PUSH"}, ConnConfig{SocketType: "PULL"})
			ctx := context.Background()
			body := make([]byte, size)
			msg := [][]byte{body}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, cpuKnown := processCPU()
			done := make(chan error, 1)
			go func() {
				for range b.N {
					if _, err := c.Recv(ctx); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			for range b.N {
				if err := a.Send(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			reportCPU(b, cpu0, cpuKnown)
		})
	}
}

// BenchmarkSocketPushPull measures PUSH to PULL throughput over loopback
// TCP through the socket layer, receiving with Recv.
func BenchmarkSocketPushPull(b *testing.B) { benchPushPull(b, false) }

// BenchmarkSocketPushPullRecvInto is BenchmarkSocketPushPull receiving into
// one reused Message.
func BenchmarkSocketPushPullRecvInto(b *testing.B) { benchPushPull(b, true) }

func benchPushPull(b *testing.B, into bool) {
	for _, size := range []int{1, 64, 1024, 65536} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			pull, err := NewSocket(Pull, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer pull.Close()
			if err := pull.Bind("tcp://127.0.0.1:*"); err != nil {
				b.Fatal(err)
			}
			push, err := NewSocket(Push, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer push.Close()
			push.Connect(pull.LastEndpoint())
			ctx := context.Background()
			msg := [][]byte{make([]byte, size)}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, cpuKnown := processCPU()
			done := make(chan error, 1)
			go func() {
				var m Message
				for range b.N {
					var err error
					if into {
						err = pull.RecvInto(ctx, &m)
					} else {
						_, err = pull.Recv(ctx)
					}
					if err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			for range b.N {
				if err := push.Send(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			reportCPU(b, cpu0, cpuKnown)
		})
	}
}

// reportCPU reports the CPU time the process used per operation since
// cpu0 (both ends, the runtime and the collector included): the figure
// that varies least when other work shares the machine.
func reportCPU(b *testing.B, cpu0 time.Duration, known bool) {
	if cpu1, ok := processCPU(); known && ok {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}
