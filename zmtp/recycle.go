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
type recycler struct {
	mu    sync.Mutex
	msgs  [][][]byte
	bytes int
	// kept is len(msgs), read without the lock: a socket received from
	// with Recv, which gives nothing back, has its readers look here at
	// almost every message, and should not pay a lock for nothing.
	kept atomic.Int32
}

// Bounds of the memory kept for reuse.
const (
	recycleBatch     = 32
	maxRecycled      = 4096
	maxRecycledBytes = 4 << 20
	maxRecycleSize   = 32 << 10 // the largest frame kept
)

// put keeps as many of ms as the bounds allow and clears ms.
func (r *recycler) put(ms [][][]byte) {
	r.mu.Lock()
	for _, m := range ms {
		if len(r.msgs) >= maxRecycled || r.bytes+cap(m[0]) > maxRecycledBytes {
			break
		}
		r.msgs = append(r.msgs, m)
		r.bytes += cap(m[0])
	}
	r.kept.Store(int32(len(r.msgs)))
	r.mu.Unlock()
	clear(ms)
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
