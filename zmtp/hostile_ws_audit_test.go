package zmtp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/frame"
)

// wsRawClient upgrades a TCP connection to the ws endpoint ep by hand and
// returns it, so that the test writes WebSocket frames octet by octet.
func wsRawClient(t *testing.T, ep string) net.Conn {
	t.Helper()
	hostport := strings.TrimSuffix(strings.TrimPrefix(ep, "ws://"), "/")
	nc, err := net.Dial("tcp", hostport)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: ZWS2.0/NULL\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	nc.SetReadDeadline(time.Now().Add(waitTimeout))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	return nc
}

// wsFrameHeader is the header of a client's (masked, key 0) binary frame
// that declares size octets of payload.
func wsFrameHeader(size uint64) []byte {
	h := []byte{0x82, 0x80 | 127}
	h = binary.BigEndian.AppendUint64(h, size)
	return append(h, 0, 0, 0, 0)
}

// wsMessage is a client's binary message with payload p (masked, key 0).
func wsMessage(p []byte) []byte { return append(wsFrameHeader(uint64(len(p))), p...) }

// A ws peer is held to the handshake's frame cap before its READY, as a
// tcp peer is (MaxHandshakeFrameSize): a message declared larger is
// refused once the cap is read, not read (or buffered) to its end, and
// not at the handshake timeout. After the handshake, MaxMessageSize
// applies the same way; a declared length of 2^63 is a protocol error. The good peer is served throughout.
func TestAuditWSOversize(t *testing.T) {
	const limit = 1 << 20
	ready := append([]byte{zwsCommand}, frame.AppendReady(nil, frame.Metadata{{Name: "Socket-Type", Value: []byte("PUSH")}})[2:]...)
	for _, c := range []struct {
		name   string
		maxMsg int64  // the socket's MaxMessageSize
		ready  bool   // the peer sends READY first
		size   uint64 // the payload the frame declares
	}{
		{"before READY, over the handshake cap", 0, false, 32 << 20},
		{"before READY, 2^63", 0, false, 1 << 63},
		{"after READY, over MaxMessageSize", limit, true, 32 << 20},
		{"after READY, 2^63", limit, true, 1 << 63},
	} {
		pull := newSock(t, Pull, Options{MaxMessageSize: c.maxMsg})
		ep := bindWS(t, pull, "ws://127.0.0.1:*/")
		events := pull.Monitor(EventHandshakeFailedNoDetail | EventHandshakeFailedProtocol | EventDisconnected)
		good := newSock(t, Push, Options{})
		good.Connect(ep)
		send(t, good, "first")
		recv(t, pull)
		nc := wsRawClient(t, ep)
		if c.ready {
			nc.Write(wsMessage(ready))
		}
		if c.size > 1<<40 {
			// The header and a little of the payload: refused at the
			// header.
			nc.Write(append(wsFrameHeader(c.size), 0, 'x', 'y'))
		} else {
			// The whole message, which the server stops reading at its
			// limit (the WebSocket library counts a message as it reads):
			// more than the kernel buffers, so the write fails.
			werr := make(chan error, 1)
			go func() {
				_, err := nc.Write(wsMessage(make([]byte, c.size)))
				werr <- err
			}()
			defer func() {
				if err := <-werr; err == nil {
					t.Errorf("%s: the server read all %d octets", c.name, c.size)
				}
			}()
		}
		ev := nextEvent(t, events)
		if !isHostileErr(ev.Err) {
			t.Errorf("%s: %v: the error is neither frame.ErrProtocol nor mechanism.ErrHandshake", c.name, ev)
		}
		if want := map[bool]EventType{false: EventHandshakeFailedProtocol, true: EventDisconnected}[c.ready]; ev.Type != want {
			t.Errorf("%s: %v, want %v", c.name, ev, want)
		}
		waitClosed(t, nc)
		send(t, good, c.name)
		if got := recv(t, pull); got[0] != c.name {
			t.Fatalf("%s: got %q", c.name, got)
		}
		if m, err := pull.TryRecv(); !errors.Is(err, ErrWouldBlock) {
			t.Errorf("%s: delivered %q", c.name, m.Frames)
		}
	}
}
