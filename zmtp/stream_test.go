package zmtp

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestStreamServer(t *testing.T) {
	s := newSock(t, Stream, Options{})
	ep := bindLocal(t, s)
	nc, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hello := recv(t, s)
	if len(hello) != 2 || hello[1] != "" {
		t.Fatalf("connection notification %q", hello)
	}
	id := hello[0]
	nc.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	got := recv(t, s)
	if got[0] != id || got[1] != "GET / HTTP/1.0\r\n\r\n" {
		t.Fatalf("got %q", got)
	}
	send(t, s, id, "HTTP/1.0 200 OK\r\n\r\nhi")
	send(t, s, id, "") // close
	line, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil || line != "HTTP/1.0 200 OK\r\n" {
		t.Fatalf("client read %q %v", line, err)
	}
	// Closed by us: no disconnection notification, as libzmq.
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if m, err := s.Recv(short); err == nil {
		t.Fatalf("unexpected message %q", m.Frames)
	}
}

func TestStreamPeerCloses(t *testing.T) {
	s := newSock(t, Stream, Options{})
	ep := bindLocal(t, s)
	nc, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	id := recv(t, s)[0]
	nc.Close()
	bye := recv(t, s)
	if bye[0] != id || bye[1] != "" {
		t.Fatalf("disconnect notification %q", bye)
	}
}

func TestStreamClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 5)
		if _, err := c.Read(buf); err == nil {
			c.Write(append([]byte("echo:"), buf...))
		}
	}()
	s := newSock(t, Stream, Options{})
	s.Connect("tcp://" + ln.Addr().String())
	hello := recv(t, s)
	send(t, s, hello[0], "hello")
	if got := recv(t, s); got[1] != "echo:hello" {
		t.Fatalf("got %q", got)
	}
}
