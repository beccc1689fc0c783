package zmtp

import (
	"sync"

	"github.com/zmtp-go/zmtp/frame"
)

// session is all a connection (the engine) knows of what owns it: a pair
// of queues that may outlive the connection (the sink of the messages it
// reads and the source of those it writes), and a few events (commands,
// messages it lost). A socket's pipe is one; a standalone Conn has its own
// (connSession). It is given to newConn beside the ConnConfig, which holds
// only what users set. The connection's failure reaches the owner as
// newConn's error and, once established, as Conn.Err when Conn.read ends.
type session interface {
	// queues returns the messages to write and the queue that receives
	// what is read.
	queues() (out, in *queue)
	// inRoom returns the channel signalled when in gets room (the reader
	// waits on it at the high-water mark).
	inRoom() <-chan struct{}
	// ready runs once the handshake has succeeded, before any message is
	// delivered: from then on a message queued on out must start c's
	// writer (Conn.kickWriter).
	ready(c *Conn)
	// command receives SUBSCRIBE, CANCEL, JOIN and LEAVE on the reader
	// goroutine; cmd.Data is valid only during the call.
	command(cmd frame.Command)
	// intercept may consume a received message before it is queued
	// (ZMTP 3.0 subscriptions); it reports whether it did.
	intercept(m [][]byte) bool
	// lost counts messages the writer had taken and could not write: the
	// connection ended first.
	lost(n int)
	// buffers returns a pool of the writer's batch buffers, or nil.
	buffers() *sync.Pool
	// recycled returns a source of single-frame messages whose memory may
	// be received into again, or nil.
	recycled() *recycler
	// envelopeSlot reports whether received messages are to start with a
	// free frame, which the socket fills with the sender's routing id
	// (ROUTER) instead of building a new envelope.
	envelopeSlot() bool
	// wakeRecv makes a Recv waiting for a message look at the queues
	// again: the connection's read lease has become free for it.
	wakeRecv()
}

// connSession is the session of a standalone Conn: queues of the
// configured lengths and the OnCommand hook.
type connSession struct {
	out, in   *queue
	c         *Conn
	room      chan struct{} // for the reader
	sendRoom  chan struct{} // out has room: for Conn.Send
	recvReady chan struct{} // in has a message: for Conn.Recv
	onCommand func(frame.Command)
}

func newConnSession(cfg ConnConfig) *connSession {
	s := &connSession{
		room:      make(chan struct{}, 1),
		sendRoom:  make(chan struct{}, 1),
		recvReady: make(chan struct{}, 1),
		onCommand: cfg.OnCommand,
	}
	s.out = newQueue(cfg.SendQueueLen, false, func() {
		if s.c != nil {
			s.c.kickWriter()
		}
	}, func() { signal(s.sendRoom) })
	s.in = newQueue(cfg.RecvQueueLen, false, func() { signal(s.recvReady) }, func() { signal(s.room) })
	return s
}

func (s *connSession) queues() (out, in *queue) { return s.out, s.in }
func (s *connSession) inRoom() <-chan struct{}  { return s.room }
func (s *connSession) ready(c *Conn)            { s.c = c }
func (s *connSession) intercept([][]byte) bool  { return false }
func (s *connSession) recycled() *recycler      { return nil }
func (s *connSession) envelopeSlot() bool       { return false }
func (s *connSession) lost(int)                 {}
func (s *connSession) wakeRecv()                {}
func (s *connSession) buffers() *sync.Pool      { return nil }
func (s *connSession) command(cmd frame.Command) {
	if s.onCommand != nil {
		s.onCommand(cmd)
	}
}
