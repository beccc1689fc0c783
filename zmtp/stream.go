package zmtp

import (
	"context"
	"net"
	"sync"
	"sync/atomic"

	"github.com/zmtp-go/zmtp/frame"
)

// Stream is libzmq's raw TCP socket type: no ZMTP at all. Each message it
// receives is [routing id, data]; an empty data frame announces a new
// connection and, later, its end when the peer closes it. Sending [routing id, data] writes the
// data as it is; sending [routing id, empty frame] closes that connection.
const Stream SocketType = frame.SocketStream

// streamReadSize is the most a STREAM socket reads from a peer at once.
const streamReadSize = 8 << 10

// serveRaw runs one STREAM connection: a reader that turns whatever
// arrives into messages and a writer that writes what the application
// sends. Both end when the connection ends or the endpoint closes.
func (e *endpoint) serveRaw(ctx context.Context, p *pipe, nc net.Conn) {
	s := e.s
	remote := addrString(nc.RemoteAddr())
	p.info.Store(&peerInfo{md: frame.Metadata{{Name: frame.PropPeerAddr, Value: []byte(remote)}}, minor: 1})
	if s.attachPeer(p) != admitted {
		nc.Close()
		return
	}
	s.emit(Event{Type: EventHandshakeSucceeded, Endpoint: e.addr, Remote: remote})
	rctx, cancel := context.WithCancel(ctx)
	deliver := func(m [][]byte) bool {
		for !p.in.push(m) {
			select {
			case <-p.inRoomCh:
			case <-rctx.Done():
				return false
			}
		}
		return true
	}
	deliver([][]byte{{}}) // connection notification
	var wg sync.WaitGroup
	var closedByApp atomic.Bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer nc.Close()
		for {
			m, ok := p.out.pop()
			if !ok {
				select {
				case <-p.outReady:
					continue
				case <-rctx.Done():
					return
				}
			}
			if len(m) == 0 || len(m) == 1 && len(m[0]) == 0 {
				closedByApp.Store(true)
				return // the application closes the connection
			}
			bufs := net.Buffers(m)
			if _, err := bufs.WriteTo(nc); err != nil {
				return
			}
		}
	}()
	for {
		buf := make([]byte, streamReadSize)
		n, err := nc.Read(buf)
		if n > 0 && !deliver([][]byte{buf[:n:n]}) {
			break
		}
		if err != nil {
			break
		}
	}
	cancel()
	nc.Close()
	wg.Wait()
	if ctx.Err() == nil && !closedByApp.Load() {
		// Disconnection notification (not when the application itself
		// closed the connection, as libzmq), then the pipe goes.
		p.in.push([][]byte{{}})
		s.emit(Event{Type: EventDisconnected, Endpoint: e.addr, Remote: remote})
	}
}
