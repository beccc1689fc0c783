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

// BenchmarkSocketRouterFanIn measures a ROUTER receiving 64-octet
// messages from 100 DEALERs over loopback TCP, with Recv.
func BenchmarkSocketRouterFanIn(b *testing.B) {
	const peers, size = 100, 64
	router, err := NewSocket(Router, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer router.Close()
	if err := router.Bind("tcp://127.0.0.1:*"); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	dealers := make([]*Socket, peers)
	for i := range dealers {
		d, err := NewSocket(Dealer, Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		if err := d.Connect(router.LastEndpoint()); err != nil {
			b.Fatal(err)
		}
		dealers[i] = d
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, cpuKnown := processCPU()
	sent := make(chan error, peers)
	for i, d := range dealers {
		n := b.N / peers
		if i < b.N%peers {
			n++
		}
		go func() {
			msg := [][]byte{make([]byte, size)}
			for range n {
				if err := d.Send(ctx, msg); err != nil {
					sent <- err
					return
				}
			}
			sent <- nil
		}()
	}
	for range b.N {
		m, err := router.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Frames) != 2 || len(m.Frames[1]) != size {
			b.Fatalf("received %d frames", len(m.Frames))
		}
	}
	for range peers {
		if err := <-sent; err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu0, cpuKnown)
}
