package zmtp

import (
	"time"

	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// readLoop is the connection's reader goroutine. It assembles messages,
// acts on commands and ends the connection on the first error.
func (c *Conn) readLoop() {
	defer c.wg.Done()
	c.read()
}

// read runs the reader until the connection ends.
func (c *Conn) read() {
	c.subscribeAllLegacy()
	err := c.readMessages()
	if isTimeout(err) {
		err = &TimeoutError{Op: "heartbeat ttl"}
	}
	c.fail(err)
}

// frameCost is the bookkeeping each frame of a multipart message costs.
// A message may have at most max(MaxMessageSize/frameCost, minFrames)
// frames, so that one of millions of empty frames is bounded too.
const (
	frameCost = 32
	minFrames = 64
)

// maxKeptAssembly is the most memory the reader keeps for assembling
// multipart messages once a message is done.
const maxKeptAssembly = 64 << 10

// readState is what reading a connection keeps from one frame to the
// next, so that whoever holds the read lease (see Conn.lease) goes on
// where the last holder stopped.
type readState struct {
	// slot is 1 when each message starts with a frame left free for the
	// socket (a ROUTER's routing id), else 0.
	slot      int
	maxFrames int
	// batch holds the messages read and not yet handed over; read counts
	// the messages read since the connection's count was last brought up
	// to date: once a batch, not with an atomic add each.
	batch [][][]byte
	read  int64
	data  []byte // bodies of the frames of a multipart message so far
	ends  []int  // end offset of each of those frames in data
	size  int64
	// err is an error a Recv met while it held the lease, for the reader
	// goroutine to end the connection with.
	err error
}

// The read lease: whoever holds it reads the connection and hands what
// it reads over. The reader goroutine holds it, except while a socket's
// Recv waits for a message that can only come from this connection (its
// socket has no other peer): the Recv then reads the connection itself,
// so that the message needs no hand-over from one goroutine to another
// (waking a goroutine makes the runtime wake a second thread to run it,
// which costs more than the rest of a round trip on a small machine).
//
// The reader goroutine gives the lease up when it has handed over what
// it read to a Recv that asked for the lease (wantLease), and waits. A
// Recv that then finds the lease free takes it, reads until it has
// handed a message over, and leaves it free again, or gives it back to
// the reader goroutine when there is more to do than one message (whole
// frames left in the read buffer, a frame larger than the buffer, a
// full queue, an error). While the lease is free, nobody reads: the
// reader goroutine takes it back once no Recv has taken it for
// defaultLeaseIdle, so that commands (PINGs), the peer's close and the messages
// of an application that stopped calling Recv are read as before.
//
// A Recv that holds the lease waits for data in frame.Reader.Await,
// which consumes nothing, so that it can be stopped at any time (its
// context, the socket's Close, another peer's message: interruptRecv)
// with a read deadline in the past, without losing anything.
const (
	leaseReader = iota // the reader goroutine reads
	leaseFree          // nobody reads; the reader goroutine waits
	leaseRecv          // a Recv reads
)

// defaultLeaseIdle is how long the lease stays free before the reader
// goroutine takes it back: a peer's PING waits at most that long for its
// PONG, and its close for us to see it, while the application is away
// from Recv.
const defaultLeaseIdle = 5 * time.Millisecond

func (c *Conn) readMessages() error {
	rs := &c.rs
	if c.sess.envelopeSlot() {
		rs.slot = 1
	}
	rs.maxFrames = int(max(c.cfg.MaxMessageSize/frameCost, minFrames))
	// Messages read before an error are still handed over, by the
	// reader goroutine if it holds the lease.
	held := true
	defer func() {
		if held {
			c.deliver()
		}
	}()
	for {
		if rs.err != nil {
			return rs.err
		}
		// Nothing received waits while the reader may wait for the peer.
		if (len(rs.batch) > 0 || rs.read > 0) && !c.rd.FrameBuffered() {
			if !c.deliver() {
				return nil
			}
			if c.wantLease.Load() {
				// A Recv waits for what was just handed over: the
				// next message is its to read.
				if !c.yieldLease() {
					// The connection ended with the lease away: what
					// the reader read was handed over before it let
					// the lease go, and the read state is the lease
					// holder's, if a Recv holds it.
					held = c.lease.CompareAndSwap(leaseFree, leaseReader) || c.lease.Load() == leaseReader
					return nil
				}
				continue
			}
		}
		if err := c.readFrame(); err != nil {
			return err
		}
		if len(rs.batch) >= maxBatch && !c.deliver() {
			return nil
		}
	}
}

// push hands the batch over without waiting and reports whether all of it
// went (or the pipe is gone, and nobody will read them).
func (c *Conn) push() bool {
	rs := &c.rs
	if rs.read > 0 {
		c.stats.msgsIn.Add(rs.read)
		rs.read = 0
	}
	sent := 0
	for sent < len(rs.batch) {
		k := c.in.pushSome(rs.batch[sent:])
		if k < 0 {
			break
		}
		if k == 0 {
			n := copy(rs.batch, rs.batch[sent:])
			clear(rs.batch[n:])
			rs.batch = rs.batch[:n]
			return false
		}
		sent += k
	}
	clear(rs.batch)
	rs.batch = rs.batch[:0]
	return true
}

// deliver hands the batch over; at the high-water mark the reader waits,
// and the peer with it. It reports false once the connection is dead.
func (c *Conn) deliver() bool {
	for !c.push() {
		if c.rx.ttlArmed {
			// We stop reading for the application, not for want of
			// traffic: the peer's TTL cannot be judged meanwhile.
			c.rx.disarm()
		}
		select {
		case <-c.sess.inRoom():
		case <-c.dead:
			return false
		}
	}
	return true
}

// yieldLease leaves the lease free for a Recv and waits until it comes
// back (see leaseReader); it reports false once the connection is dead.
func (c *Conn) yieldLease() bool {
	if c.rx.ttlArmed {
		c.rx.disarm() // nobody reads for a while
	}
	if c.leaseTimer == nil {
		// Made when first needed: most connections never lend the lease.
		c.leaseBack = make(chan struct{}, 1)
		c.leaseTimer = time.NewTimer(c.cfg.leaseIdle)
	} else {
		c.leaseTimer.Reset(c.cfg.leaseIdle)
	}
	c.lease.Store(leaseFree)
	if c.wantLease.Swap(false) {
		// The Recv that asked for the lease has been woken by the
		// hand-over, but another may have asked since and be waiting
		// for a message nobody reads now: it looks again, and finds
		// the lease free (see takeLease).
		c.sess.wakeRecv()
	}
	for {
		select {
		case <-c.leaseBack:
			if c.lease.Load() == leaseReader {
				return true
			}
		case <-c.leaseTimer.C:
			// A Recv that leaves the lease free sets the timer again:
			// it fires once no Recv has read for ConnConfig.leaseIdle.
			if c.lease.CompareAndSwap(leaseFree, leaseReader) {
				return true
			}
		case <-c.dead:
			return false
		}
	}
}

// takeLease gives the lease to a Recv if it is free, and reports whether
// it did; if the reader goroutine holds it, it is asked to let it go.
func (c *Conn) takeLease() bool {
	if !c.directOK {
		return false
	}
	if c.lease.CompareAndSwap(leaseFree, leaseRecv) {
		return true
	}
	if c.lease.Load() != leaseReader {
		return false
	}
	c.wantLease.Store(true)
	// The reader goroutine may have let the lease go meanwhile: then
	// either it sees wantLease after that and wakes us (yieldLease), or
	// we see the lease free now.
	return c.lease.CompareAndSwap(leaseFree, leaseRecv)
}

// releaseLease ends a Recv's hold on the lease: it goes back to the
// reader goroutine when toReader is set, else it is left free.
func (c *Conn) releaseLease(toReader bool) {
	cc := c.rx
	cc.mu.Lock()
	if toReader {
		c.lease.Store(leaseReader)
	} else {
		c.lease.Store(leaseFree)
	}
	if cc.interrupted || !toReader && cc.ttlArmed {
		cc.interrupted = false
		if !toReader {
			cc.ttlArmed = false // nobody reads for a while
		}
		cc.applyLocked()
	}
	cc.mu.Unlock()
	if toReader {
		signal(c.leaseBack)
	} else {
		c.leaseTimer.Reset(c.cfg.leaseIdle)
	}
}

// reclaimLease gives the lease back to the reader goroutine if it is
// free; it never blocks.
func (c *Conn) reclaimLease() {
	if c.lease.CompareAndSwap(leaseFree, leaseReader) {
		// leaseBack was made before the lease was first left free.
		signal(c.leaseBack)
	}
}

// interruptRecv stops the wait of a Recv that holds the lease, if one
// does; it never blocks.
func (c *Conn) interruptRecv() {
	c.rx.mu.Lock()
	if c.lease.Load() == leaseRecv {
		c.rx.interruptLocked()
	}
	c.rx.mu.Unlock()
}

// readDirect is a Recv's turn with the lease, which it holds: it reads
// until it has handed a message over, or it is interrupted, or the
// reader goroutine is to go on, and then lets the lease go.
func (c *Conn) readDirect() {
	rs := &c.rs
	for {
		whole, err := c.rd.Await()
		if err != nil {
			if isTimeout(err) && c.rx.resume() {
				c.releaseLease(false) // interrupted: the caller looks again
				return
			}
			rs.err = err
			c.releaseLease(true)
			return
		}
		if !whole {
			c.releaseLease(true) // a large frame: the reader goroutine reads it
			return
		}
		if err := c.readFrame(); err != nil {
			rs.err = err
			c.releaseLease(true)
			return
		}
		if len(rs.batch) > 0 && (len(rs.batch) >= maxBatch || !c.rd.FrameBuffered()) {
			// Whole frames still buffered go to the reader goroutine, so
			// that they are handed over without waiting for a Recv.
			c.releaseLease(!c.push() || c.rd.FrameBuffered())
			return
		}
	}
}

// readFrame reads one frame and acts on it; a message it completes joins
// the batch. The caller holds the lease.
func (c *Conn) readFrame() error {
	rs := &c.rs
	f, err := c.rd.ReadFrame()
	if err != nil {
		return err
	}
	if c.rx.ttlArmed {
		// A frame after the PING is traffic, even one that arrived in the
		// same read: the TTL no longer applies.
		c.rx.disarm()
	}
	flags, body := f.Flags, f.Body
	if c.cipher != nil {
		if flags, body, err = c.open(f); err != nil {
			return err
		}
	}
	if flags&frame.FlagCommand != 0 {
		return c.handleCommand(body)
	}
	rs.size += int64(len(body))
	if rs.size > c.cfg.MaxMessageSize || len(rs.ends) >= rs.maxFrames {
		return ErrMessageTooLarge
	}
	slot := rs.slot
	var msg [][]byte
	switch {
	case flags&frame.FlagMore != 0:
		rs.data = append(rs.data, body...)
		rs.ends = append(rs.ends, len(rs.data))
		return nil
	case len(rs.ends) == 0 && f.Owned:
		// A large single-frame message was read (and, with a cipher,
		// decrypted in place) into memory of its own.
		msg = c.ownedMessage(body, slot)
	case len(rs.ends) == 0:
		msg = c.singleFrame(body, c.cipher == nil, slot)
	case len(rs.data)+len(body) > maxKeptAssembly:
		// The last frame of a large multipart message: the frames so
		// far are handed over where they were assembled, not copied
		// again.
		rs.data = append(rs.data, body...)
		rs.ends = append(rs.ends, len(rs.data))
		msg = splitFrames(rs.data, rs.ends, slot)
		rs.data, rs.ends = nil, nil
	default:
		// The last frame of a multipart message: one block for all.
		own := make([]byte, len(rs.data)+len(body))
		copy(own[copy(own, rs.data):], body)
		rs.ends = append(rs.ends, len(own))
		msg = splitFrames(own, rs.ends, slot)
		rs.data, rs.ends = rs.data[:0], rs.ends[:0]
	}
	rs.size = 0
	rs.read++
	if c.rd.Buffered() == 0 {
		// All read is handled: the slabs stay with their messages
		// only, not with an idle connection.
		c.slab, c.frames = nil, nil
		if len(c.spare) > 0 {
			// Nor the memory to receive into: it goes back for
			// the socket's other connections.
			c.sess.recycled().put(c.spare)
			c.spare = c.spare[:0]
		}
	}
	if c.sess.intercept(msg) {
		return nil
	}
	// Messages are handed over in batches: all those of a read, or
	// maxBatch, with one wake-up; never held while the reader waits
	// (see readMessages).
	rs.batch = append(rs.batch, msg)
	return nil
}

// maxBatch is the most received messages the reader hands over at once.
const maxBatch = 64

// open unwraps a frame received on an encrypted connection. Every frame
// must hold a MESSAGE command (libzmq sends it with frame flags 0, so the
// flags are not looked at) or an ERROR; anything else, clear-text messages
// included, ends the connection.
func (c *Conn) open(f frame.Frame) (byte, []byte, error) {
	cmd, err := frame.ParseCommand(f.Body)
	if err != nil {
		return 0, nil, ErrPlaintextFrame
	}
	switch cmd.Name {
	case frame.CmdMessage:
		return c.cipher.Open(cmd.Data)
	case frame.CmdError:
		return 0, nil, peerError(cmd.Data)
	}
	return 0, nil, ErrPlaintextFrame
}

// handleCommand acts on a command received after the handshake.
func (c *Conn) handleCommand(body []byte) error {
	cmd, err := frame.ParseCommand(body)
	if err != nil {
		return err
	}
	switch cmd.Name {
	case frame.CmdPing:
		ping, err := frame.ParsePing(cmd.Data)
		if err != nil {
			return err
		}
		c.stats.pingsIn.Add(1)
		if ping.TTL > 0 {
			// Drop the connection if nothing more arrives within the TTL;
			// countingConn clears the deadline on the next octet.
			c.rx.arm(time.Now().Add(ping.TTLDuration()))
		}
		if c.ctrl.ready() < maxQueuedPongs {
			pong := frame.Command{Name: frame.CmdPong, Data: ping.Context}
			c.ctrl.pushForce([][]byte{pong.AppendBody(nil)})
		}
	case frame.CmdPong:
		// Any traffic is a sign of life; countingConn has seen it.
	case frame.CmdError:
		return peerError(cmd.Data)
	case frame.CmdJoin, frame.CmdLeave:
		// A group RFC 48 forbids is a protocol error, whoever receives it.
		if _, err := frame.ParseGroup(cmd.Data); err != nil {
			return err
		}
		c.sess.command(cmd)
	case frame.CmdSubscribe, frame.CmdCancel:
		c.sess.command(cmd)
	default:
		// Unknown commands are ignored for forward compatibility.
	}
	return nil
}

func peerError(data []byte) error {
	reason, err := frame.ParseError(data)
	if err != nil {
		return err
	}
	return &mechanism.PeerError{Reason: reason}
}

// singleFrame returns a one-frame message holding body, after slot free
// frames (see readMessages): in the memory of a message the application
// has finished with when there is one that fits (see Socket.RecvInto),
// else where it was read when viewable (body is a view of the frame
// reader's read buffer), else in a copy.
func (c *Conn) singleFrame(body []byte, viewable bool, slot int) [][]byte {
	// Recycled messages have no free frame: sockets that want one
	// recycle nothing.
	if len(c.spare) == 0 && slot == 0 {
		if r := c.sess.recycled(); r != nil {
			c.spare = r.take(c.spare, recycleBatch)
		}
	}
	if k := len(c.spare) - 1; k >= 0 && slot == 0 {
		m := c.spare[k]
		c.spare[k] = nil
		c.spare = c.spare[:k]
		if cap(m[0]) >= len(body) {
			m[0] = append(m[0][:0], body...)
			return m
		}
	}
	if viewable && len(body) <= maxSlabbed && (c.rd.ViewsKept() || c.rd.Buffered() >= minViewBatch) {
		// The read buffer becomes the message's memory: the frame
		// reader reads on after it, or into a new buffer.
		c.rd.KeepViews()
		m := c.frameSlab(len(body), slot)
		m[slot] = body[:len(body):len(body)]
		return m
	}
	if c.rd.Buffered() < minViewBatch {
		m := make([][]byte, slot+1)
		m[slot] = append(make([]byte, 0, len(body)), body...)
		return m
	}
	if len(body) <= maxSlabbed {
		return c.slabbed(body, slot)
	}
	m := c.frameSlab(len(body), slot)
	m[slot] = append(make([]byte, 0, len(body)), body...)
	return m
}

// slabSize is the most a slab of copied bodies holds.
const slabSize = 16 << 10

// slabbed returns a one-frame message holding a copy of body, from the
// reader's slabs: for the bodies that are not in the read buffer, those
// a cipher opened.
func (c *Conn) slabbed(body []byte, slot int) [][]byte {
	if cap(c.slab)-len(c.slab) < len(body) {
		c.slab = make([]byte, 0, min(slabSize, max(c.rd.Buffered()+len(body), maxSlabbed)))
	}
	off := len(c.slab)
	c.slab = append(c.slab, body...)
	m := c.frameSlab(len(body), slot)
	m[slot] = c.slab[off:len(c.slab):len(c.slab)]
	return m
}

// Messages that arrive many to a read share their memory. The bodies of
// up to maxSlabbed octets are left where the frame reader read them, in
// its read buffer (32 KiB), which it then leaves to them
// (frame.Reader.KeepViews): it reads on into the room the buffer has
// left, then into another, and the buffer is read into again once the
// collector finds none of its messages left. Their one-frame slices come
// from a slab. A stream of small messages thus costs an allocation every
// few dozen messages and no copy, and one the application drops soon
// after receiving allocates little new memory; a stream of larger ones
// costs one allocation each (the body). Bodies a cipher opened are copied
// into slabs of their own (slabbed). A message read alone (the
// connection is not busy) gets memory of its own, its size.
const (
	maxSlabbed   = 1 << 10 // the largest body left in the read buffer or copied into a slab
	minViewBatch = 1 << 10 // octets left in the read buffer for sharing it to pay
	slabFrames   = 128     // the most a frame-slice slab holds
)

// frameSlab returns the slice of a one-frame message with slot free
// frames before it, from the reader's slab of them, for a message of size
// octets. A new slab has room for what the read buffer still holds if the
// messages in it are of that size: slots beyond the read's last message
// would be memory nobody uses.
func (c *Conn) frameSlab(size, slot int) [][]byte {
	n := slot + 1
	if len(c.frames) < n {
		c.frames = make([][]byte, n*min(slabFrames, c.rd.Buffered()/(size+frame.HeaderSize(size))+1))
	}
	m := c.frames[:n:n]
	c.frames = c.frames[n:]
	return m
}

// splitFrames cuts block into frames ending at ends, after slot free
// frames.
func splitFrames(block []byte, ends []int, slot int) [][]byte {
	msg := make([][]byte, slot+len(ends))
	start := 0
	for i, end := range ends {
		msg[slot+i] = block[start:end:end]
		start = end
	}
	return msg
}
