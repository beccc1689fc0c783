package zmtp

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
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
	p := s.snapshot()[0]
	req := "GET / HTTP/1.0\r\n\r\n"
	nc.Write([]byte(req))
	if got := recvStream(t, s, id, len(req)); got != req {
		t.Fatalf("got %q", got)
	}
	send(t, s, id, "HTTP/1.0 200 OK\r\n\r\nhi")
	send(t, s, id, "") // close
	line, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil || line != "HTTP/1.0 200 OK\r\n" {
		t.Fatalf("client read %q %v", line, err)
	}
	// Closed by us: no disconnection notification, as libzmq. Once the
	// peer's pipe is gone, anything its connection had to deliver is
	// queued.
	waitFor(t, "the connection's end", p.gone.Load)
	if m, err := s.TryRecv(); err != ErrWouldBlock {
		t.Fatalf("TryRecv = %q, %v", m.Frames, err)
	}
}

// recvStream receives data messages of peer id from STREAM socket s until
// they hold n octets (TCP may split what the peer wrote at once), and
// returns the data.
func recvStream(t *testing.T, s *Socket, id string, n int) string {
	t.Helper()
	var data []byte
	for len(data) < n {
		got := recv(t, s)
		if len(got) != 2 || got[0] != id || got[1] == "" {
			t.Fatalf("got %q, want data from %q", got, id)
		}
		data = append(data, got[1]...)
	}
	return string(data)
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
		if _, err := io.ReadFull(c, buf); err == nil {
			c.Write(append([]byte("echo:"), buf...))
		}
	}()
	s := newSock(t, Stream, Options{})
	s.Connect("tcp://" + ln.Addr().String())
	hello := recv(t, s)
	send(t, s, hello[0], "hello")
	if got := recvStream(t, s, hello[0], len("echo:hello")); got != "echo:hello" {
		t.Fatalf("got %q", got)
	}
}
