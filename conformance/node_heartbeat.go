package conformance

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

// The ws heartbeat rows: our PAIR with HeartbeatInterval and
// HeartbeatTimeout against a libzmq 4.3.5 PAIR with ZMQ_HEARTBEAT_IVL and
// ZMQ_HEARTBEAT_TIMEOUT, over ws through a relay that counts the
// WebSocket pings and pongs each side sends. libzmq answers our pings with
// empty pongs; the link must outlive many timeouts, every ping of each
// side answered, and carry messages after them.

const (
	nodeHBIvl     = 100 * time.Millisecond
	nodeHBTimeout = 300 * time.Millisecond
	// nodeHBPongs is how many pings of each side must have been answered.
	nodeHBPongs = 5
)

// nodeHeartbeatCases returns the ws heartbeat rows, one per role.
func nodeHeartbeatCases() []Case {
	var out []Case
	for _, role := range sockRoles {
		out = append(out, Case{
			Name: "libzmq-4.3.5/PAIR-PAIR/ws-heartbeat",
			Role: role,
			Run: func(ctx context.Context) error {
				ctx, cancel := context.WithTimeout(ctx, nodeCaseTimeout)
				defer cancel()
				return nodeWSHeartbeat(ctx, role)
			},
		})
	}
	return out
}

func nodeWSHeartbeat(ctx context.Context, role string) (err error) {
	peer, err := libzmq435.get()
	if err != nil {
		return err
	}
	s, err := zmtp.NewSocket(zmtp.Pair, zmtp.Options{Linger: zmtp.NoLinger, HeartbeatInterval: nodeHBIvl, HeartbeatTimeout: nodeHBTimeout})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	events := s.Monitor(zmtp.EventHandshakeSucceeded | zmtp.EventDisconnected)
	z, err := peer.socket(ctx, "PAIR", map[string]any{
		"heartbeatInterval": nodeHBIvl.Milliseconds(),
		"heartbeatTimeout":  nodeHBTimeout.Milliseconds(),
	})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, z.close()) }()

	// The relay stands between the side that connects and the one bound.
	var r *wsPingRelay
	var ours, theirs *wsFrameCounts
	if role == WeBind {
		if err := s.Bind("ws://127.0.0.1:*/zmtp"); err != nil {
			return err
		}
		if r, err = newWSPingRelay(wsHostPort(s.LastEndpoint())); err != nil {
			return err
		}
		defer r.close()
		ours, theirs = &r.fromTarget, &r.fromDialer
		if err := z.connect(ctx, "ws://"+r.addr()+"/zmtp"); err != nil {
			return err
		}
	} else {
		bound, err := z.bind(ctx, "ws://127.0.0.1:*/zmtp")
		if err != nil {
			return err
		}
		if r, err = newWSPingRelay(wsHostPort(bound)); err != nil {
			return err
		}
		defer r.close()
		ours, theirs = &r.fromDialer, &r.fromTarget
		if err := s.Connect("ws://" + r.addr() + "/zmtp"); err != nil {
			return err
		}
	}
	o, t := nodeOurSide{s}, nodeTheirSide{z, "PAIR"}
	if err := nodeRoundTrip(ctx, o, t, "before"); err != nil {
		return err
	}

	// Many timeouts pass, each side's pings answered by the other.
	handshakes := 0
	t0 := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for theirs.pongs.Load() < nodeHBPongs || ours.pongs.Load() < nodeHBPongs || time.Since(t0) < 4*nodeHBTimeout {
		select {
		case ev := <-events:
			if ev.Type == zmtp.EventDisconnected {
				return fmt.Errorf("disconnected after %v, our pings %d answered by %d pongs, libzmq's %d by %d: %v",
					time.Since(t0).Round(time.Millisecond), ours.pings.Load(), theirs.pongs.Load(), theirs.pings.Load(), ours.pongs.Load(), ev.Err)
			}
			handshakes++
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d pongs each way: our pings %d answered by %d pongs, libzmq's %d by %d: %w",
				nodeHBPongs, ours.pings.Load(), theirs.pongs.Load(), theirs.pings.Load(), ours.pongs.Load(), ctx.Err())
		}
	}
	if err := nodeRoundTrip(ctx, o, t, "after"); err != nil {
		return err
	}
drained:
	for {
		select {
		case ev := <-events:
			if ev.Type == zmtp.EventDisconnected {
				return fmt.Errorf("disconnected: %v", ev.Err)
			}
			handshakes++
		default:
			break drained
		}
	}
	if handshakes != 1 || r.accepted() != 1 {
		return fmt.Errorf("%d handshakes over %d connections, want one", handshakes, r.accepted())
	}
	return nil
}

// nodeRoundTrip sends a message from our side to libzmq's and back.
func nodeRoundTrip(ctx context.Context, o, t nodeSide, tag string) error {
	for _, p := range [][2]nodeSide{{o, t}, {t, o}} {
		m := nodeMsgOf(tag, p[0].name())
		if err := p[0].send(ctx, m); err != nil {
			return fmt.Errorf("%s send: %w", p[0].name(), err)
		}
		if err := nodeExpect(ctx, p[1], m); err != nil {
			return err
		}
	}
	return nil
}

// wsHostPort is the host:port of a ws endpoint.
func wsHostPort(ep string) string {
	_, rest, _ := strings.Cut(ep, "://")
	hp, _, _ := strings.Cut(rest, "/")
	return hp
}

// wsFrameCounts counts the WebSocket control frames one side sent.
type wsFrameCounts struct {
	pings, pongs atomic.Int64
}

// wsPingRelay relays TCP connections to target and counts the WebSocket
// pings and pongs each way. Close stops it and waits for its goroutines.
type wsPingRelay struct {
	ln         net.Listener
	target     string
	fromDialer wsFrameCounts // what the side connecting to the relay sent
	fromTarget wsFrameCounts
	n          atomic.Int64 // connections accepted

	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	conns  []net.Conn
}

func newWSPingRelay(target string) (*wsPingRelay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &wsPingRelay{ln: ln, target: target}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

func (r *wsPingRelay) addr() string  { return r.ln.Addr().String() }
func (r *wsPingRelay) accepted() int { return int(r.n.Load()) }

func (r *wsPingRelay) serve() {
	defer r.wg.Done()
	for {
		a, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.n.Add(1)
		b, err := net.Dial("tcp", r.target)
		if err != nil {
			a.Close()
			continue
		}
		if !r.track(a, b) {
			return
		}
		r.wg.Add(2)
		go r.pump(a, b, &r.fromDialer)
		go r.pump(b, a, &r.fromTarget)
	}
}

// track records a relayed pair for close, or closes it when the relay is
// closed already.
func (r *wsPingRelay) track(a, b net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		a.Close()
		b.Close()
		return false
	}
	r.conns = append(r.conns, a, b)
	return true
}

// pump copies src to dst, counting the frames src sends, and closes both
// when src ends.
func (r *wsPingRelay) pump(src, dst net.Conn, c *wsFrameCounts) {
	defer r.wg.Done()
	defer dst.Close()
	defer src.Close()
	countWSFrames(bufio.NewReader(io.TeeReader(src, dst)), c)
	io.Copy(dst, src) // after a frame it could not parse
}

// countWSFrames reads an HTTP upgrade exchange's side, then WebSocket
// frames, counting pings and pongs, until r ends or holds what is not a
// frame's header.
func countWSFrames(r *bufio.Reader, c *wsFrameCounts) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if line == "\r\n" {
			break
		}
	}
	var h [8]byte
	for {
		if _, err := io.ReadFull(r, h[:2]); err != nil {
			return
		}
		op, mask, n := h[0]&0x0f, h[1]&0x80 != 0, uint64(h[1]&0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(r, h[:2]); err != nil {
				return
			}
			n = uint64(binary.BigEndian.Uint16(h[:2]))
		case 127:
			if _, err := io.ReadFull(r, h[:8]); err != nil {
				return
			}
			n = binary.BigEndian.Uint64(h[:8])
		}
		if n > 1<<40 {
			return // no frame of this suite
		}
		if mask {
			n += 4
		}
		switch op {
		case 0x9:
			c.pings.Add(1)
		case 0xa:
			c.pongs.Add(1)
		}
		if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
			return
		}
	}
}

func (r *wsPingRelay) close() {
	r.ln.Close()
	r.mu.Lock()
	for _, c := range r.conns {
		c.Close()
	}
	r.closed = true
	r.mu.Unlock()
	r.wg.Wait()
}
