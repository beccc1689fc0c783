package zmtp

import (
	"net"
	"sync"
	"time"

	"github.com/zmtp-go/zmtp/frame"
)

const (
	// batchSize is the size of the writer's batch buffer: small frames are
	// copied into it and written together.
	batchSize = 64 << 10
	// vectorThreshold is the body size from which a frame is written from
	// the caller's memory (vectored) instead of being copied.
	vectorThreshold = 16 << 10
	// maxBatchRefs bounds the octets of the frames a batch references.
	maxBatchRefs = 256 << 10
)

// batch gathers frames for one write: small ones copied into buf, large
// ones referenced in iov, in order.
type batch struct {
	buf  []byte   // fixed capacity batchSize
	mark int      // start of the part of buf not yet in iov
	iov  [][]byte // reused backing store for the vectored write
	vec  net.Buffers

	refBytes int // octets of the frames referenced in iov
}

func (b *batch) room() int { return cap(b.buf) - len(b.buf) }
func (b *batch) empty() bool {
	return len(b.buf) == 0 && len(b.iov) == 0
}

// addRef appends p to the batch without copying it.
func (b *batch) addRef(p []byte) {
	if b.mark < len(b.buf) {
		b.iov = append(b.iov, b.buf[b.mark:])
		b.mark = len(b.buf)
	}
	b.iov = append(b.iov, p)
}

// writeTo writes the batch out and resets it.
func (b *batch) writeTo(nc net.Conn) (int64, error) {
	var n int64
	var err error
	if len(b.iov) == 0 {
		var m int
		m, err = nc.Write(b.buf)
		n = int64(m)
	} else {
		if b.mark < len(b.buf) {
			b.iov = append(b.iov, b.buf[b.mark:])
		}
		b.vec = b.iov
		n, err = b.vec.WriteTo(nc)
		clear(b.iov)
	}
	b.buf, b.mark, b.iov = b.buf[:0], 0, b.iov[:0]
	return n, err
}

// writeHandshake is the writer of a transport with no buffering (see
// newConn): it writes the handshake's octets as they are queued.
func (c *Conn) writeHandshake() {
	defer c.wg.Done()
	var err error
	for b := range c.hsOut {
		if err == nil {
			_, err = c.nc.Write(b)
		}
	}
	if c.hsOK && err != nil {
		c.fail(err)
	}
}

// The writer runs on a goroutine of its own only while there is something
// to write: kickWriter starts it, and it ends once the queues are empty,
// so an idle connection costs no writer goroutine. Its state (the batch,
// the heartbeat) lives in Conn.w between runs.
const (
	writerIdle    = iota
	writerRunning // a writer goroutine runs
	writerAgain   // it runs, and must look at the queues once more
)

// kickWriter makes sure a writer looks at the queues soon.
func (c *Conn) kickWriter() { c.kick(false) }

// kick is kickWriter; with direct set (a message was queued), an idle
// writer's turn may be taken by the caller (see writeDirect).
func (c *Conn) kick(direct bool) {
	for {
		switch c.wstate.Load() {
		case writerIdle:
			if !c.wstate.CompareAndSwap(writerIdle, writerRunning) {
				continue
			}
			c.wmu.Lock()
			if c.wstopped {
				c.wmu.Unlock()
				return // stays "running": no writer starts any more
			}
			c.wg.Add(1)
			c.wmu.Unlock()
			if direct && c.writeDirect() {
				c.wg.Done()
				return
			}
			go c.startW() // a func value made once: starting a writer allocates nothing
			return
		case writerRunning:
			if c.wstate.CompareAndSwap(writerRunning, writerAgain) {
				return
			}
		default:
			return
		}
	}
}

// stopWriters prevents writers from starting; Close and fail call it
// before waiting for the running one.
func (c *Conn) stopWriters() {
	c.wmu.Lock()
	c.wstopped = true
	c.wmu.Unlock()
}

// runWriter writes what is queued, sends a heartbeat when one is due, and
// ends the connection after a Close has been flushed or on an error.
func (c *Conn) runWriter() {
	defer c.wg.Done()
	w := &c.w
	for {
		select {
		case <-c.dead:
			w.release()
			return
		default:
		}
		// Close sets draining once every accepted message is queued: seen
		// before writing, it means this pass writes the last of them.
		draining := c.draining.Load()
		err := w.writeQueued()
		if err == nil && c.hbDue.Swap(false) {
			if err = w.heartbeat(); err == nil {
				err = w.writeQueued()
			}
		}
		if err != nil {
			w.release()
			c.fail(err)
			return
		}
		if draining {
			c.fail(nil) // Close: everything accepted is written
			return
		}
		if c.wstate.CompareAndSwap(writerRunning, writerIdle) {
			return
		}
		c.wstate.Store(writerRunning)
	}
}

// takeMax is the most messages the writer takes from its queue at once.
const takeMax = 256

type writer struct {
	c       *Conn
	b       batch
	pool    *sync.Pool // of *batchMem, shared by a socket's connections; may be nil
	mem     *batchMem  // the pool's holder of b.buf and taken
	taken   [][][]byte // messages taken from the queue, reused
	held    int        // messages taken and not yet written
	added   int        // of those, messages wholly in the batch
	scratch []byte     // sealed frames too big for buf
	// Direct writes (writeDirect): the connection's raw access (nil when
	// there are none), the octets received at the last direct write, and
	// the messages a direct write took and left to the writer goroutine.
	raw     *rawWriter
	rxSeen  int64
	pending [][][]byte
	ping    [16]byte // PING command body
}

// startHeartbeats arms the heartbeat timer when PINGs are on.
func (c *Conn) startHeartbeats() {
	if c.cfg.HeartbeatInterval <= 0 || c.minor < 1 {
		return
	}
	c.nextPing = time.Now().Add(c.cfg.HeartbeatInterval)
	c.hbTimer = time.AfterFunc(c.cfg.HeartbeatInterval, c.heartbeatTimer)
}

// heartbeatTimer runs when a PING is due or its answer's deadline has
// come. It asks the writer for the PING and starts the deadline itself,
// so that a writer stuck on a peer that reads nothing cannot hold it off:
// the connection ends if nothing at all arrives within HeartbeatTimeout
// (never, when it is negative).
func (c *Conn) heartbeatTimer() {
	now := time.Now()
	due := c.pongDeadline
	if !due.IsZero() {
		if c.rx.n.Load() != c.rxAtPing {
			due = time.Time{} // a sign of life
		} else if !now.Before(due) {
			c.fail(&TimeoutError{Op: "heartbeat"})
			return
		}
	}
	if !now.Before(c.nextPing) {
		c.hbDue.Store(true)
		c.kickWriter()
		if due.IsZero() && c.cfg.HeartbeatTimeout > 0 {
			c.rxAtPing = c.rx.n.Load()
			due = now.Add(c.cfg.HeartbeatTimeout)
		}
		c.nextPing = now.Add(c.cfg.HeartbeatInterval)
	}
	c.pongDeadline = due
	next := c.nextPing
	if !due.IsZero() && due.Before(next) {
		next = due
	}
	c.hbTimer.Reset(next.Sub(now))
}

// writeQueued writes every queued command and message, in batches, until
// both queues are empty.
func (w *writer) writeQueued() error {
	c := w.c
	if len(w.pending) > 0 {
		// Taken by writeDirect before anything now queued. They share
		// w.taken's memory, which the loop below reuses.
		for i, m := range w.pending {
			w.pending[i] = nil
			if err := w.addMessage(m); err != nil {
				w.pending = nil
				return err
			}
		}
		w.pending = nil
	}
	for {
		w.getBuf()
		cmds := c.ctrl.take(w.taken[:0], 0)
		for _, cmd := range cmds {
			if err := w.addCommand(cmd[0]); err != nil {
				return err
			}
		}
		c.ctrl.release(len(cmds))
		clear(cmds)
		msgs := c.out.take(cmds[:0], takeMax)
		w.taken = msgs[:0]
		if len(cmds) == 0 && len(msgs) == 0 {
			err := w.flush()
			w.putBuf()
			return err
		}
		w.held += len(msgs)
		for i, m := range msgs {
			// The list lets go of each message as it goes into the batch:
			// one written while a later one waits for the peer is then
			// no longer held, and its memory can go.
			msgs[i] = nil
			if err := w.addMessage(m); err != nil {
				clear(msgs)
				return err
			}
		}
	}
}

// batchMem is the memory a writer needs only while it writes, pooled by
// a socket's connections: the batch buffer, and the list of messages
// taken from the queue.
type batchMem struct {
	buf   []byte
	taken [][][]byte
}

// getBuf gives the batch its buffer and the writer its list of taken
// messages, from the pool when there is one: an idle connection holds
// neither.
func (w *writer) getBuf() {
	if w.b.buf != nil {
		return
	}
	if w.pool != nil {
		if m, ok := w.pool.Get().(*batchMem); ok {
			w.mem, w.b.buf, w.taken = m, m.buf[:0], m.taken[:0]
			return
		}
	}
	w.b.buf = make([]byte, 0, batchSize)
	if w.pool != nil {
		w.mem = new(batchMem)
	}
}

// putBuf returns the empty batch's buffer and the list of taken messages
// to the pool.
func (w *writer) putBuf() {
	if w.pool == nil || w.b.buf == nil || !w.b.empty() {
		return
	}
	w.mem.buf, w.mem.taken = w.b.buf[:0], w.taken[:0]
	w.pool.Put(w.mem)
	w.mem, w.b.buf, w.taken = nil, nil, nil
	if cap(w.scratch) > batchSize {
		w.scratch = nil
	}
}

// release ends the queue's hold on messages the writer abandons: they are
// lost with the connection.
func (w *writer) release() {
	clear(w.pending)
	w.pending = nil
	if w.held > 0 {
		w.c.out.release(w.held)
		w.c.sess.lost(w.held)
		w.held, w.added = 0, 0
	}
}

// flush writes the batch; the messages in it stop counting against the
// high-water mark once written.
func (w *writer) flush() error {
	var err error
	if !w.b.empty() {
		var n int64
		n, err = w.b.writeTo(w.c.nc)
		w.c.stats.bytesOut.Add(n)
		w.c.stats.writes.Add(1)
		w.b.refBytes = 0
	}
	// Messages wholly added are written now (a large frame may have been
	// written on its own, leaving the batch empty).
	if err == nil && w.added > 0 {
		w.c.out.release(w.added)
		w.held -= w.added
		w.added = 0
	}
	return err
}

// addMessage adds every frame of m, flushing when the batch fills.
func (w *writer) addMessage(m [][]byte) error {
	for i, body := range m {
		flags := byte(0)
		if i < len(m)-1 {
			flags = frame.FlagMore
		}
		if err := w.addFrame(flags, body); err != nil {
			return err
		}
	}
	w.c.stats.msgsOut.Add(1)
	w.added++
	return nil
}

// addCommand adds a command frame whose body is body.
func (w *writer) addCommand(body []byte) error {
	return w.addFrame(frame.FlagCommand, body)
}

// addFrame adds one frame, sealed when the connection has a cipher.
func (w *writer) addFrame(flags byte, body []byte) error {
	c := w.c
	if c.framing == frame.FramingV1 {
		return w.addV1Frame(flags, body)
	}
	if c.cipher != nil {
		need := frame.LongHeaderSize + 1 + len(frame.CmdMessage) + c.cipher.Overhead() + len(body)
		if need > w.b.room() {
			if err := w.flush(); err != nil {
				return err
			}
		}
		if need <= w.b.room() {
			var err error
			w.b.buf, err = c.cipher.Seal(w.b.buf, flags, body)
			return err
		}
		// Too big for the batch buffer: seal into scratch and write it now.
		sealed, err := c.cipher.Seal(w.scratch[:0], flags, body)
		if err != nil {
			return err
		}
		w.scratch = sealed
		w.b.addRef(sealed)
		err = w.flush()
		if cap(w.scratch) > 4*batchSize {
			w.scratch = nil
		}
		return err
	}
	if len(body) >= vectorThreshold {
		if w.b.room() < frame.MaxHeaderSize {
			if err := w.flush(); err != nil {
				return err
			}
		}
		w.b.buf = frame.AppendHeader(w.b.buf, flags, len(body))
		w.b.addRef(body)
		w.b.refBytes += len(body)
		if w.b.refBytes >= maxBatchRefs {
			// Bounded in octets too: messages stop counting against the
			// HWM, and their memory can go, as soon as they are written.
			return w.flush()
		}
		return nil
	}
	if frame.MaxHeaderSize+len(body) > w.b.room() {
		if err := w.flush(); err != nil {
			return err
		}
	}
	w.b.buf = frame.AppendFrame(w.b.buf, flags, body)
	return nil
}

// heartbeat sends a PING, with our TTL; the timer decided it is due.
func (w *writer) heartbeat() error {
	c := w.c
	w.getBuf()
	ttl := uint16(c.cfg.HeartbeatTTL / (100 * time.Millisecond))
	body := frame.Command{Name: frame.CmdPing, Data: []byte{byte(ttl >> 8), byte(ttl)}}.AppendBody(w.ping[:0])
	if err := w.addCommand(body); err != nil {
		return err
	}
	c.stats.pingsOut.Add(1)
	return nil
}

// writeDirect is a turn of the writer taken by the goroutine whose message
// found the writer idle, saving the start of a writer goroutine and the
// wake-up of a thread to run it before the message leaves: what is queued
// is encoded as the writer goroutine would and written with one system
// call that never waits for room. Whatever that call did not write, and
// everything a direct write does not take on (commands, heartbeats, a
// Close, messages that do not fit one batch), is left to the writer
// goroutine, in order; write errors too are met and reported there. It
// reports whether the turn is over (the writer idle again); if not, the
// caller starts the writer goroutine.
//
// A direct write follows something received since the last one: a reply
// to a request, a request after a reply. A stream of sends with nothing
// coming back is written by the writer goroutine in batches, one system
// call for many messages, which a system call per send would slow down.
func (c *Conn) writeDirect() bool {
	w := &c.w
	if w.raw == nil || c.draining.Load() || c.hbDue.Load() || !c.ctrl.empty() {
		return false
	}
	rx := c.rx.n.Load()
	if rx == w.rxSeen {
		return false
	}
	w.rxSeen = rx
	select {
	case <-c.dead:
		return false
	default:
	}
	w.getBuf()
	msgs := c.out.take(w.taken[:0], takeMax)
	w.taken = msgs[:0]
	w.held += len(msgs)
	if !w.fits(msgs) {
		w.pending = msgs
		return false
	}
	for i, m := range msgs {
		msgs[i] = nil
		if err := w.addMessage(m); err != nil {
			// Cannot happen without a cipher's failure: the writer
			// goroutine meets it again and ends the connection.
			clear(msgs)
			return false
		}
	}
	if !w.b.empty() {
		n := w.raw.writeOnce(w.b.buf)
		if n > 0 {
			c.stats.bytesOut.Add(int64(n))
			c.stats.writes.Add(1)
		}
		if n < len(w.b.buf) {
			// The rest goes first when the writer goroutine flushes.
			w.b.buf = w.b.buf[:copy(w.b.buf, w.b.buf[max(n, 0):])]
			return false
		}
		w.b.buf = w.b.buf[:0]
		c.out.release(w.added)
		w.held -= w.added
		w.added = 0
	}
	w.putBuf()
	if !c.out.empty() || !c.ctrl.empty() || c.hbDue.Load() {
		return false // more than one turn's worth: the writer goroutine goes on
	}
	// A message queued from now on finds the writer running and makes the
	// CAS fail, or finds it idle and starts a turn of its own.
	return c.wstate.CompareAndSwap(writerRunning, writerIdle)
}

// fits reports whether msgs fit the empty batch whole, each frame copied
// in, so that adding them writes nothing.
func (w *writer) fits(msgs [][][]byte) bool {
	c := w.c
	if c.framing == frame.FramingV1 || len(w.b.iov) > 0 {
		return false
	}
	per := frame.MaxHeaderSize
	if c.cipher != nil {
		per = frame.LongHeaderSize + 1 + len(frame.CmdMessage) + c.cipher.Overhead()
	}
	room := w.b.room()
	for _, m := range msgs {
		for _, body := range m {
			if len(body) >= vectorThreshold {
				return false
			}
			if room -= per + len(body); room < 0 {
				return false
			}
		}
	}
	return true
}
