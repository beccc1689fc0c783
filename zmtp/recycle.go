package zmtp

import (
	"sync"
	"sync/atomic"
)

// recycler holds single-frame messages whose memory the application is
// done with (see Socket.RecvInto), for the socket's connections to
// receive into again. Messages move in batches, so that neither side pays
// a synchronisation per message: RecvInto gathers them under the socket's
// receive lock and puts them here recycleBatch at a time, and a reader
// takes up to recycleBatch at once into a cache of its own.
//
// What it keeps is bounded by maxRecycled messages and maxRecycledBytes
// octets; anything beyond is left to the garbage collector. Its list keeps
// the room it grew to (at most maxRecycled slots, 96 KiB), so that a queue
// whose depth swings does not reallocate it at every swing. Within those
// bounds a receiver allocates nothing per message in steady state,
// whatever the depth of its queue: every message RecvInto copies out
// gives its memory back for the next one the reader receives.
//
// Messages larger than a read buffer (up to maxRecycleLarge octets) are
// kept apart, one at a time: a reader reads the body of the next large
// message straight into one (see Conn.largeBody), so that RecvInto of
// large messages allocates nothing either. They count against the same
// bounds.
type recycler struct {
	mu    sync.Mutex
	msgs  [][][]byte
	large [][][]byte
	bytes int
	// kept and keptLarge are len(msgs) and len(large), read without the
	// lock: a socket received from with Recv, which gives nothing back,
	// has its readers look here at almost every message, and should not
	// pay a lock for nothing.
	kept      atomic.Int32
	keptLarge atomic.Int32
}

// Bounds of the memory kept for reuse.
const (
	recycleBatch     = 32
	maxRecycled      = 4096
	maxRecycledBytes = 4 << 20
	maxRecycleSize   = 32 << 10 // the largest frame kept with the small ones
	maxRecycleLarge  = 1 << 20  // the largest frame kept at all
)

// put keeps as many of ms as the bounds allow and clears ms.
func (r *recycler) put(ms [][][]byte) {
	r.mu.Lock()
	for _, m := range ms {
		size := cap(m[0])
		if len(r.msgs)+len(r.large) >= maxRecycled || r.bytes+size > maxRecycledBytes || size > maxRecycleLarge {
			continue
		}
		if size > maxRecycleSize {
			r.large = append(r.large, m)
		} else {
			r.msgs = append(r.msgs, m)
		}
		r.bytes += size
	}
	r.kept.Store(int32(len(r.msgs)))
	r.keptLarge.Store(int32(len(r.large)))
	r.mu.Unlock()
	clear(ms)
}

// takeLarge returns the large message given back last if its frame has
// room for n octets, or nil. One too small is dropped, so that memory
// that does not fit what arrives does not stay.
func (r *recycler) takeLarge(n int) [][]byte {
	if r.keptLarge.Load() == 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	last := len(r.large) - 1
	if last < 0 {
		return nil
	}
	m := r.large[last]
	r.large[last] = nil
	r.large = r.large[:last]
	r.keptLarge.Store(int32(last))
	r.bytes -= cap(m[0])
	if cap(m[0]) < n {
		return nil
	}
	return m
}

// take moves up to n kept messages to dst.
func (r *recycler) take(dst [][][]byte, n int) [][][]byte {
	if r.kept.Load() == 0 {
		return dst // a put racing with this is seen at a later take
	}
	r.mu.Lock()
	k := max(len(r.msgs)-n, 0)
	for _, m := range r.msgs[k:] {
		r.bytes -= cap(m[0])
		dst = append(dst, m)
	}
	clear(r.msgs[k:])
	r.msgs = r.msgs[:k]
	r.kept.Store(int32(k))
	r.mu.Unlock()
	return dst
}

// largeBody is the memory source of the connection's frame reader (see
// frame.Reader.SetBodyMemory): for a body of n octets, larger than the
// read buffer, the memory of a message the application gave back, or
// nil. The message is lent to ownedMessage, which hands the body over in
// it.
func (c *Conn) largeBody(n int) []byte {
	r := c.sess.recycled()
	if r == nil {
		return nil
	}
	m := r.takeLarge(n)
	if m == nil {
		return nil
	}
	c.lent = m
	return m[0][:0]
}

// ownedMessage returns a one-frame message of body, after slot free
// frames (see readMessages), whose memory the reader gave away: in the
// message largeBody lent its memory from, if any (sockets that want a
// free frame recycle nothing, so lend nothing).
func (c *Conn) ownedMessage(body []byte, slot int) [][]byte {
	m := c.lent
	if m == nil || slot > 0 {
		m = make([][]byte, slot+1)
		m[slot] = body
		return m
	}
	c.lent = nil
	m[0] = body
	return m
}
