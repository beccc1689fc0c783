package zmtp

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/zmtp/legacytest"
)

// FuzzLegacyHandshake plays fuzzed octets as a peer (mostly a legacy one:
// any first octet but 0xFF is ZMTP 1.0) to a Conn of a socket type chosen
// by typ, then ends the stream. The Conn must fail or succeed without
// panicking or hanging, deliver whole messages only, and leave no
// goroutine behind.
func FuzzLegacyHandshake(f *testing.F) {
	for _, kind := range []legacytest.Kind{legacytest.V1, legacytest.V1Signature, legacytest.V2} {
		f.Add(legacySeed(kind), uint8(kind))
	}
	for _, s := range []string{
		"01 00 06 00 'hello'", "00", "FF 00*8 00", "FF 00*6 01 01 00 'x'",
		"FF 00*8 7F 01 05 04 05 04 'PING'", "FF 00*8 7F 01 05 01 01 'a'",
		"FF 00*8 7F 00 08 00 00", "07 FE 'peer-1' 03 01 'ab' 01 00",
	} {
		f.Add(wireBytes(s), uint8(5))
	}
	types := []string{"PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH", "XPUB", "XSUB"}
	f.Fuzz(func(t *testing.T, data []byte, typ uint8) {
		x, y := net.Pipe()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			io.Copy(io.Discard, y)
		}()
		go func() {
			defer wg.Done()
			y.Write(data)
			y.Close()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := NewConn(ctx, x, ConnConfig{SocketType: types[int(typ)%len(types)], MaxMessageSize: 1 << 16})
		if err == nil {
			<-c.Done()
			for {
				m, err := c.TryRecv()
				if err != nil {
					break
				}
				if len(m) == 0 {
					t.Fatal("a message with no frames")
				}
			}
			c.Close()
		}
		if ctx.Err() != nil {
			t.Fatal("the handshake hung")
		}
		wg.Wait()
	})
}

// legacySeed is what a legacy peer of kind sends first: its greeting,
// identity and a message, without waiting for ours.
func legacySeed(kind legacytest.Kind) []byte {
	x, y := net.Pipe()
	defer x.Close()
	p := &legacytest.Peer{Conn: y, Kind: kind, SocketType: legacytest.Dealer, Identity: []byte("id")}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(x)
		got <- b
	}()
	// The peer writes its greeting and waits to read ours: give it ours.
	go func() {
		x.Write(wireBytes("FF 00*7 01 7F 03 05 00 00"))
	}()
	p.Greet()
	p.Send([]byte("hello"))
	y.Close()
	return <-got
}
