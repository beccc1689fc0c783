package zmtp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// Conn is a ZMTP connection whose handshake has succeeded. Send, TrySend,
// SendCommand, Recv and TryRecv are safe for concurrent use: each message is
// queued and written whole, never interleaved with another, and each
// received message is delivered whole to exactly one Recv.
type Conn struct {
	nc     net.Conn
	cfg    ConnConfig
	rd     *frame.Reader
	rx     *countingConn
	cipher mechanism.Cipher
	sess   session
	own    *connSession // the session of a standalone Conn; nil in a socket
	hsOut  chan []byte  // handshake octets for the writer; closed when the handshake ends (nil: written directly)
	hsOK   bool         // set before hsOut is closed: go on to messages
	hsErr  error        // the first direct handshake write error

	w        writer       // the writer's state, used by one writer at a time
	startW   func()       // c.runWriter
	wstate   atomic.Int32 // writerIdle, writerRunning, writerAgain
	wmu      sync.Mutex
	wstopped bool        // guarded by wmu: no writer starts any more
	hbTimer  *time.Timer // fires when a heartbeat is due; nil when PINGs are off
	hbDue    atomic.Bool
	// Owned by heartbeatTimer: when the next PING is due, the outstanding
	// PING's answer deadline (zero for none) and the octets received when
	// it was asked for.
	nextPing, pongDeadline time.Time
	rxAtPing               int64

	peerGreeting frame.Greeting
	peerMD       frame.Metadata
	minor        uint8 // negotiated minor version: 0 or 1
	// A ZMTP 1.0 or 2.0 peer (see legacy.go): its version (0 for ZMTP 3),
	// the framing of our frames, and whether a PUB subscribes it to all.
	legacy       uint8
	framing      frame.Framing
	subscribeAll bool

	out, in *queue
	ctrl    *queue // command bodies for the writer, one frame each

	// The reader's slabs of one-frame slices and of copied bodies (see
	// singleFrame).
	frames [][]byte
	slab   []byte
	spare  [][][]byte // messages to receive into, taken from the session's recycler
	lent   [][]byte   // the message a large body is read into (see largeBody)

	// The read lease (see leaseReader) and the reading it hands on.
	rs         readState
	lease      atomic.Int32
	leaseBack  chan struct{} // a Recv gave the lease back to the reader goroutine (made with leaseTimer)
	wantLease  atomic.Bool   // a Recv waits for what the reader goroutine reads
	leaseTimer *time.Timer   // the reader goroutine's wait for a free lease
	directOK   bool          // a Recv may read: a kernel socket whose reads a deadline stops

	closeOnce sync.Once
	closing   chan struct{} // standalone: closed by Close, blocked senders give up
	draining  atomic.Bool   // set by Close once no send can start: the writer flushes and stops
	dead      chan struct{} // closed when the connection has failed or ended
	failOnce  sync.Once
	cause     error
	wg        sync.WaitGroup
	sendMu    sync.RWMutex // held for reading while enqueueing; Close takes it to stop sends
	stopped   bool         // guarded by sendMu: no more sends accepted

	stats connStats
}

type connStats struct {
	// Written by the reader.
	msgsIn, pingsIn atomic.Int64
	_               [48]byte // keep the writer's counters on another cache line
	// Written by the writer.
	msgsOut, bytesOut, writes, pingsOut atomic.Int64
}

// MaxHandshakeFrameSize caps every frame received before the handshake has
// succeeded, whatever MaxMessageSize allows afterwards.
const MaxHandshakeFrameSize = 1 << 20

// maxQueuedPongs bounds the PONGs waiting for the writer: skipping one is
// harmless, since any traffic is a sign of life.
const maxQueuedPongs = 64

// NewConn runs the ZMTP greeting and security handshake on nc and returns
// the connection once the handshake has succeeded. The handshake is bounded
// by ctx and by cfg.HandshakeTimeout. On failure nc is closed and the error
// says why (see ErrMechanismMismatch, frame.ErrProtocol, *LegacyPeerError,
// *TimeoutError, *mechanism.SocketTypeError and *mechanism.PeerError).
// The Conn owns nc from then on.
func NewConn(ctx context.Context, nc net.Conn, cfg ConnConfig) (*Conn, error) {
	c, err := newConn(ctx, nc, cfg, nil)
	if err != nil {
		return nil, err
	}
	c.wg.Add(1)
	go c.readLoop()
	return c, nil
}

// newConn runs the handshake and starts the writer; the caller runs the
// reader (readLoop), in a goroutine of its own or its own goroutine. sess
// is the connection's owner (a socket's pipe, whose queues outlive the
// connection); nil gives the Conn a session of its own (standalone).
func newConn(ctx context.Context, nc net.Conn, cfg ConnConfig, sess session) (*Conn, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		nc.Close()
		return nil, err
	}
	c := &Conn{
		nc:   nc,
		cfg:  cfg,
		rx:   &countingConn{Conn: nc},
		sess: sess,
		dead: make(chan struct{}),
	}
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
		c.directOK = sess != nil
	}
	if c.sess == nil {
		// Only a standalone Conn has senders that can wait in Send.
		c.closing = make(chan struct{})
		c.own = newConnSession(cfg)
		c.sess = c.own
	}
	c.out, c.in = c.sess.queues()
	c.ctrl = newQueue(0, false, c.kickWriter, nil)
	c.w = writer{c: c, pool: c.sess.buffers()}
	if c.directOK {
		c.w.raw = newRawWriter(nc)
	}
	c.startW = c.runWriter
	// The frame limit is the message limit: no single frame may exceed it.
	c.rd = frame.NewReader(readSource(c.rx), min(cfg.MaxMessageSize, MaxHandshakeFrameSize))
	// A kernel socket buffers the few handshake octets, so they are
	// written directly and the writer starts only once the handshake has
	// succeeded: a pending connection costs one goroutine. Over a
	// transport with no buffering (net.Pipe) the writer starts at once
	// and writes them, so that two peers that both write before they read
	// cannot deadlock.
	if !kernelBuffered(nc) {
		c.hsOut = make(chan []byte, 4)
		c.wg.Add(1)
		go c.writeHandshake()
	}
	err = c.handshake(ctx)
	if err == nil {
		err = c.hsErr
	}
	if err != nil {
		if c.hsOut != nil {
			close(c.hsOut)
			c.wg.Wait() // a last ERROR is written (or times out)
		}
		c.fail(err)
		return nil, err
	}
	c.hsOK = true
	if c.hsOut != nil {
		close(c.hsOut)
	}
	c.sess.ready(c) // before any message can be delivered; kicks reach c from now
	c.startHeartbeats()
	c.kickWriter() // for what was queued before the connection
	return c, nil
}

// handshake exchanges greetings and runs the mechanism.
func (c *Conn) handshake(ctx context.Context) (err error) {
	var deadline time.Time
	if c.cfg.HandshakeTimeout > 0 {
		deadline = time.Now().Add(c.cfg.HandshakeTimeout)
	}
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	hctx := ctx
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		hctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	c.nc.SetDeadline(deadline)
	// A cancelled context interrupts blocked reads and writes at once.
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			// The context ended first: report that, even if the handshake
			// finished at the same moment, since the deadline is now spoilt.
			err = ctx.Err()
			return
		}
		switch {
		case err == nil:
			c.nc.SetDeadline(time.Time{})
		case isTimeout(err):
			err = &TimeoutError{Op: "handshake"}
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			// libzmq closes without a word when it refuses us (a socket
			// type it does not accept, say).
			err = fmt.Errorf("%w: peer closed the connection%s: %w", mechanism.ErrHandshake, c.closeHint(), err)
		}
	}()

	defer func() {
		if err != nil {
			// Give a last ERROR a moment to leave, then stop waiting.
			c.nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		}
	}()

	if err := c.exchangeGreetings(); err != nil {
		return err
	}
	if c.legacy != 0 {
		return nil // no mechanism: downgrade did it all
	}
	hs, err := c.cfg.Mechanism.NewHandshake(mechanism.Params{
		SocketType:   c.cfg.SocketType,
		Identity:     c.cfg.Identity,
		Properties:   c.cfg.Properties,
		PeerGreeting: c.peerGreeting,
		RemoteAddr:   zapAddress(c.nc.RemoteAddr()),
	})
	if err != nil {
		return err
	}
	out, err := hs.Start()
	if err != nil {
		return err
	}
	for {
		if len(out) > 0 {
			var wbuf []byte
			for _, cmd := range out {
				wbuf = cmd.Append(wbuf)
			}
			c.hsWrite(wbuf)
		}
		if err != nil {
			return err
		}
		if hs.Done() {
			break
		}
		f, rerr := c.rd.ReadFrame()
		if rerr != nil {
			return rerr
		}
		if !f.IsCommand() {
			return ErrMessageBeforeReady
		}
		cmd, perr := frame.ParseCommand(f.Body)
		if perr != nil {
			if raw, ok := hs.(mechanism.RawCommandHandler); ok {
				out, err = raw.HandleMalformed(f.Body)
				continue
			}
			return perr
		}
		out, err = hs.Handle(hctx, cmd)
	}
	c.peerMD = hs.PeerMetadata()
	c.cipher = hs.Cipher()
	// A frame may be as large as a message, and under a cipher its box
	// around it: the limit of the message itself is checked once opened.
	maxFrame := c.cfg.MaxMessageSize
	if c.cipher != nil {
		maxFrame += int64(c.cipher.Overhead())
	}
	c.rd.SetMaxFrameSize(maxFrame)
	if z, ok := c.nc.(*zwsConn); ok {
		z.handshakeDone(maxFrame)
	}
	// Large message bodies are handed over as they are read, saving a
	// copy; encrypted ones are decrypted in place, where they were read.
	c.rd.SetHandOver(true)
	if c.cipher == nil {
		// Bodies opened in place start past the box's header, which a
		// message given back would lose: only clear text reuses memory.
		c.rd.SetBodyMemory(c.largeBody)
	}
	return nil
}

// closeHint guesses why a peer closed the connection during the handshake
// without a word, as libzmq does when it refuses us.
func (c *Conn) closeHint() string {
	if c.peerGreeting.Major == 0 {
		return " before its greeting"
	}
	m := c.cfg.Mechanism
	if m.Name() == "CURVE" && !m.AsServer() {
		// A CURVE server that cannot open our HELLO says nothing.
		return " after our HELLO (is ServerKey the server's public key?)"
	}
	return " (does it accept our socket type and security settings?)"
}

// exchangeGreetings sends our signature, checks the peer's first octets as
// they arrive (a ZMTP 1.0 peer is seen after its first octet), sends our
// major version once the peer's signature is in, then, for a ZMTP 3 peer,
// sends and reads the rest; a legacy peer is given to downgrade.
func (c *Conn) exchangeGreetings() error {
	minor := uint8(1)
	if c.cfg.ZMTP30 {
		minor = 0
	}
	ours := frame.Greeting{
		Major:     3,
		Minor:     minor,
		Mechanism: c.cfg.Mechanism.Name(),
		AsServer:  c.cfg.Mechanism.AsServer(),
	}
	c.hsWrite(frame.AppendSignature(nil, len(c.cfg.Identity)))
	var peer [frame.GreetingSize]byte
	have := 0
	for _, upto := range [...]int{1, frame.SignatureSize, frame.GreetingPrefixSize} {
		b, err := c.rd.Next(upto - have)
		if err != nil {
			return err
		}
		have += copy(peer[have:], b)
		switch v := frame.DetectPeer(peer[:have]); v {
		case frame.PeerV1, frame.PeerV1Signature, frame.PeerV2:
			return c.downgrade(v, peer[:have])
		}
		if upto == frame.SignatureSize {
			c.hsWrite([]byte{ours.Major})
		}
	}
	c.hsWrite(frame.AppendGreetingRest(nil, ours))
	b, err := c.rd.Next(frame.GreetingSize - frame.GreetingPrefixSize)
	if err != nil {
		return err
	}
	copy(peer[frame.GreetingPrefixSize:], b)
	g, err := frame.ParseGreeting(peer[:])
	if err != nil {
		return err
	}
	c.peerGreeting = g
	if g.Mechanism != ours.Mechanism {
		return ErrMechanismMismatch
	}
	c.minor = 1
	if g.Major == 3 && g.Minor == 0 || c.cfg.ZMTP30 {
		c.minor = 0
	}
	return nil
}

// hsWrite queues handshake octets for the writer; b must not be modified
// afterwards.
func (c *Conn) hsWrite(b []byte) {
	if c.hsOut != nil {
		c.hsOut <- b
		return
	}
	if c.hsErr == nil {
		_, c.hsErr = c.nc.Write(b)
	}
}

// kernelBuffered reports whether writes to nc go to a kernel socket
// buffer (TCP, Unix, WebSocket over TCP), which holds a handshake's octets
// without a reader.
func kernelBuffered(nc net.Conn) bool {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn, *zwsConn:
		return true
	}
	return false
}

// Version returns the negotiated protocol version: 3.0 when either side
// announced minor version 0, else 3.1; 2.0 or 1.0 with a legacy peer.
func (c *Conn) Version() (major, minor int) {
	if c.legacy != 0 {
		return int(c.legacy), 0
	}
	return 3, int(c.minor)
}

// PeerGreeting returns the greeting the peer sent; for a ZMTP 1.0 or 2.0
// peer, its major version and the NULL mechanism.
func (c *Conn) PeerGreeting() frame.Greeting { return c.peerGreeting }

// PeerMetadata returns the peer's properties from its READY (or INITIATE),
// plus those added by authentication. The caller must not modify it.
func (c *Conn) PeerMetadata() frame.Metadata { return c.peerMD }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Done returns a channel closed when the connection has ended, by Close or
// by failure. Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.dead }

// Err returns the reason the connection ended, nil while it is up or after
// a clean local Close.
func (c *Conn) Err() error {
	select {
	case <-c.dead:
		return c.cause
	default:
		return nil
	}
}

// fail ends the connection with cause (the first cause wins).
func (c *Conn) fail(cause error) {
	c.failOnce.Do(func() {
		c.cause = cause
		close(c.dead)
		c.nc.Close()
		if c.hbTimer != nil {
			c.hbTimer.Stop()
		}
		if c.cfg.Logger != nil {
			c.cfg.Logger.Debug("zmtp connection ended", "remote", addrString(c.nc.RemoteAddr()), "cause", cause)
		}
	})
}

// closedErr is the error returned once the connection has ended.
func (c *Conn) closedErr() error {
	<-c.dead
	return &ClosedError{Cause: c.cause}
}

// Close flushes queued messages (for at most CloseTimeout), closes the
// connection and waits for its goroutines to end. Messages not yet received
// with Recv are discarded. Close is idempotent.
func (c *Conn) Close() error { return c.closeWithin(c.cfg.CloseTimeout) }

// closeWithin is Close with a bound of its own on the flush: negative
// discards what is queued.
func (c *Conn) closeWithin(timeout time.Duration) error {
	c.closeOnce.Do(func() {
		if c.closing != nil {
			close(c.closing) // wakes senders blocked on a full queue
		}
		c.sendMu.Lock() // waits for senders inside Send to leave
		c.stopped = true
		c.sendMu.Unlock()
		c.draining.Store(true) // everything accepted is queued: flush it
		c.kickWriter()
		// A writer blocked on a peer that does not read must not hold Close
		// up for longer than CloseTimeout.
		if timeout < 0 {
			c.fail(nil)
		} else {
			c.nc.SetWriteDeadline(time.Now().Add(timeout))
		}
	})
	c.stopWriters()
	c.wg.Wait()
	return nil
}

// Send queues a multipart message (one []byte per frame, at least one) to
// be written whole, blocking while the send queue is full. Send takes
// ownership of msg and its frames: the caller must not modify them
// afterwards.
func (c *Conn) Send(ctx context.Context, msg [][]byte) error { return c.send(ctx, msg, false) }

// TrySend is Send that returns ErrWouldBlock instead of waiting.
func (c *Conn) TrySend(msg [][]byte) error { return c.send(context.Background(), msg, true) }

func (c *Conn) send(ctx context.Context, msg [][]byte, nonblock bool) error {
	if len(msg) == 0 {
		return ErrEmptyMessage
	}
	c.sendMu.RLock()
	defer c.sendMu.RUnlock()
	if c.stopped {
		return &ClosedError{}
	}
	for {
		select {
		case <-c.dead:
			return c.closedErr()
		default:
		}
		if c.out.push(msg) {
			if c.own != nil && !c.out.isFull() {
				signal(c.own.sendRoom) // another sender may go on too
			}
			return nil
		}
		if nonblock || c.own == nil {
			return ErrWouldBlock
		}
		select {
		case <-c.own.sendRoom:
		case <-c.closing:
			return &ClosedError{}
		case <-c.dead:
			return c.closedErr()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// SendCommand queues a command (SUBSCRIBE, CANCEL, JOIN, LEAVE, or any
// other) to be written between messages. Commands are not bounded by the
// send queue's length and never wait for room.
func (c *Conn) SendCommand(ctx context.Context, cmd frame.Command) error {
	c.sendMu.RLock()
	defer c.sendMu.RUnlock()
	if c.stopped {
		return &ClosedError{}
	}
	select {
	case <-c.dead:
		return c.closedErr()
	default:
	}
	if c.legacy != 0 {
		return ErrLegacyCommand
	}
	c.queueCommand(cmd)
	return ctx.Err()
}

// queueCommand queues cmd for the writer; it never blocks.
func (c *Conn) queueCommand(cmd frame.Command) {
	if c.legacy != 0 {
		return // no commands in legacy framing
	}
	c.ctrl.pushForce([][]byte{cmd.AppendBody(nil)})
}

// Recv returns the next message, one []byte per frame, blocking until one
// arrives, ctx ends or the connection ends. Messages received before the
// connection ended are still returned first. The caller owns the result.
func (c *Conn) Recv(ctx context.Context) ([][]byte, error) {
	for {
		m, err := c.TryRecv()
		if err != ErrWouldBlock || c.own == nil {
			return m, err
		}
		select {
		case <-c.own.recvReady:
		case <-c.dead:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// TryRecv is Recv that returns ErrWouldBlock instead of waiting.
func (c *Conn) TryRecv() ([][]byte, error) {
	if m, ok := c.in.pop(); ok {
		if c.own != nil && c.in.ready() > 0 {
			signal(c.own.recvReady) // another receiver may go on too
		}
		return m, nil
	}
	select {
	case <-c.dead:
		if m, ok := c.in.pop(); ok {
			return m, nil
		}
		return nil, c.closedErr()
	default:
		return nil, ErrWouldBlock
	}
}

// Stats is a snapshot of a connection's counters.
type Stats struct {
	MessagesIn, MessagesOut int64
	BytesIn, BytesOut       int64
	Writes                  int64 // write system calls (batches)
	PingsIn, PingsOut       int64
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats {
	return Stats{
		MessagesIn:  c.stats.msgsIn.Load(),
		MessagesOut: c.stats.msgsOut.Load(),
		BytesIn:     c.rx.n.Load(),
		BytesOut:    c.stats.bytesOut.Load(),
		Writes:      c.stats.writes.Load(),
		PingsIn:     c.stats.pingsIn.Load(),
		PingsOut:    c.stats.pingsOut.Load(),
	}
}

// countingConn counts the octets read, so that the heartbeat logic can see
// any sign of life, and clears a TTL read deadline once traffic arrives.
// It also keeps the read deadline, which two things set: a peer's PING
// TTL, and an interruption of a Recv that reads the connection itself
// (see Conn.lease), which must never be lost to the other.
type countingConn struct {
	net.Conn
	n        atomic.Int64
	ttlArmed bool // written by the lease holder only, under mu

	mu          sync.Mutex
	ttlAt       time.Time // the TTL's deadline, while ttlArmed
	interrupted bool      // the deadline is in the past to stop a Recv's read
}

func (cc *countingConn) Read(p []byte) (int, error) {
	n, err := cc.Conn.Read(p)
	cc.counted(n)
	return n, err
}

// counted counts n octets read; any octet clears the deadline of a PING's
// TTL.
func (cc *countingConn) counted(n int) {
	if n > 0 {
		cc.n.Add(int64(n))
		if cc.ttlArmed {
			cc.disarm()
		}
	}
}

// arm sets the deadline of a peer's PING TTL.
func (cc *countingConn) arm(at time.Time) {
	cc.mu.Lock()
	cc.ttlArmed, cc.ttlAt = true, at
	cc.applyLocked()
	cc.mu.Unlock()
}

// disarm clears the deadline set for a peer's PING TTL.
func (cc *countingConn) disarm() {
	cc.mu.Lock()
	cc.ttlArmed = false
	cc.applyLocked()
	cc.mu.Unlock()
}

// interrupt makes the read under way, if any, return a timeout at once;
// cc.mu is held.
func (cc *countingConn) interruptLocked() {
	if !cc.interrupted {
		cc.interrupted = true
		cc.applyLocked()
	}
}

// resume ends an interruption and reports whether there was one; a
// timeout after it is the TTL's.
func (cc *countingConn) resume() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !cc.interrupted {
		return false
	}
	cc.interrupted = false
	cc.applyLocked()
	return true
}

// applyLocked sets the read deadline from the state; cc.mu is held.
func (cc *countingConn) applyLocked() {
	switch {
	case cc.interrupted:
		cc.Conn.SetReadDeadline(time.Unix(1, 0))
	case cc.ttlArmed:
		cc.Conn.SetReadDeadline(cc.ttlAt)
	default:
		cc.Conn.SetReadDeadline(time.Time{})
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// zapAddress is the peer's address as RFC 27 wants it in a ZAP request:
// the bare IP address for TCP, the address as it is otherwise.
func zapAddress(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	return addrString(a)
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
