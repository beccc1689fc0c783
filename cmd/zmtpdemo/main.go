// Command zmtpdemo shows two ZMTP connections of this module talking over
// loopback TCP: a DEALER and a ROUTER exchange greetings, run the NULL
// handshake with heartbeats on, and trade multipart messages. Everything
// they do is printed. It needs nothing but Go.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	if err := run(); err != nil {
		log.SetFlags(0)
		log.Fatal(err)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Printf("ROUTER listening on tcp://%s\n", ln.Addr())

	heartbeats := zmtp.ConnConfig{
		HeartbeatInterval: 50 * time.Millisecond,
		HeartbeatTimeout:  500 * time.Millisecond,
		HeartbeatTTL:      time.Second,
	}
	type accepted struct {
		c   *zmtp.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			ch <- accepted{nil, err}
			return
		}
		cfg := heartbeats
		cfg.SocketType = "ROUTER"
		c, err := zmtp.NewConn(ctx, nc, cfg)
		ch <- accepted{c, err}
	}()

	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	cfg := heartbeats
	cfg.SocketType = "DEALER"
	cfg.Identity = []byte("demo-client")
	dealer, err := zmtp.NewConn(ctx, nc, cfg)
	if err != nil {
		return err
	}
	defer dealer.Close()
	a := <-ch
	if a.err != nil {
		return a.err
	}
	router := a.c
	defer router.Close()

	maj, min := dealer.Version()
	fmt.Printf("DEALER connected to %s: ZMTP %d.%d, mechanism %s, peer Socket-Type %s\n",
		dealer.RemoteAddr(), maj, min, dealer.PeerGreeting().Mechanism, dealer.PeerMetadata().Get("Socket-Type"))
	fmt.Printf("ROUTER accepted %s: peer Socket-Type %s, Identity %q\n",
		router.RemoteAddr(), router.PeerMetadata().Get("Socket-Type"), router.PeerMetadata().Get("Identity"))

	requests := []string{"hello", "how are you?", strings.Repeat("z", 300)}
	for i, body := range requests {
		msg := [][]byte{{}, []byte(body)}
		if err := dealer.Send(ctx, msg); err != nil {
			return err
		}
		fmt.Printf("DEALER -> %s\n", show(msg))
		got, err := router.Recv(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("ROUTER <- %s\n", show(got))
		reply := [][]byte{{}, []byte(fmt.Sprintf("reply %d to %d octets", i+1, len(got[1])))}
		if err := router.Send(ctx, reply); err != nil {
			return err
		}
		fmt.Printf("ROUTER -> %s\n", show(reply))
		if got, err = dealer.Recv(ctx); err != nil {
			return err
		}
		fmt.Printf("DEALER <- %s\n", show(got))
	}

	// Let a few heartbeats pass on the idle link.
	time.Sleep(300 * time.Millisecond)
	for _, side := range []struct {
		name string
		c    *zmtp.Conn
	}{{"DEALER", dealer}, {"ROUTER", router}} {
		s := side.c.Stats()
		fmt.Printf("%s: %d messages out, %d in, %d octets out in %d writes, %d PINGs sent, %d received\n",
			side.name, s.MessagesOut, s.MessagesIn, s.BytesOut, s.Writes, s.PingsOut, s.PingsIn)
	}
	if err := dealer.Close(); err != nil {
		return err
	}
	if _, err := router.Recv(ctx); err != nil {
		fmt.Printf("ROUTER: %v\n", err)
	}
	fmt.Fprintln(os.Stdout, "done")
	return nil
}

// show renders a multipart message as [frame|frame], eliding long frames.
func show(msg [][]byte) string {
	parts := make([]string, len(msg))
	for i, f := range msg {
		s := fmt.Sprintf("%q", f)
		if len(f) > 40 {
			s = fmt.Sprintf("%q...(%d octets)", f[:20], len(f))
		}
		parts[i] = s
	}
	return "[" + strings.Join(parts, " | ") + "]"
}
