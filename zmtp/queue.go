package zmtp

import (
	"sync"
	"sync/atomic"
)

// queue is a FIFO of messages between one producer side and one consumer
// side, bounded by a high-water mark counted in messages. Its memory grows
// with use, up to the high-water mark, and is given back once it has
// drained queueSlackDrains times in a row without the bursts in between
// needing it; a queue never used costs a few dozen octets, and a drained
// ring of up to queueKeepCap slots is always kept.
//
// Messages a consumer has taken but not finished with (a connection's
// writer holds them until they are written) still count against the mark:
// they are held until release. The wake functions run without the lock
// and must not block.
type queue struct {
	mu       sync.Mutex
	ring     [][][]byte // len(ring) is the capacity, a power of two or 0
	head, n  int
	peak     int  // the most queued since the queue last drained
	slack    int  // drains in a row at which the ring was oversized
	held     int  // taken by the consumer, not yet released
	hwm      int  // 0: no limit
	conflate bool // keeps only the newest message
	dead     bool // no more pushes are accepted
	// lowWater: the producer, once refused at the mark, is woken when
	// the queue is down to half of it (or when it drains), not at every
	// take, as libzmq wakes a pipe's writer at its low-water mark: a
	// connection's reader then hands over hundreds of messages per
	// wake-up rather than a receive batch's worth. waiting: a push was
	// refused since the producer was last woken.
	lowWater, waiting bool

	// queued is whether n > 0, for a consumer to see without the lock
	// that there is nothing to take: a socket's receive walks over all
	// its pipes, most of them empty when it has many peers. A push it
	// misses that way wakes it (onPush) after the flag has changed. It
	// is written only when the queue becomes empty or stops being so,
	// not at every message.
	queued atomic.Bool

	// onPush runs when a push makes the queue non-empty (wakes the
	// consumer), not at every message: a consumer takes until it finds
	// the queue empty before it waits, so a message added behind others
	// is taken by the pass the first of them started. A publisher
	// pushing to many subscribers' queues, or a sender outrunning its
	// connection's writer, does not touch the consumer's state (the
	// writer's run flag, the socket's readable channel) at every message.
	onPush func()
	onRoom func() // room appeared or the queue drained (wakes the producer)
}

// Limits of the memory a queue keeps while empty.
const (
	queueMinCap  = 8
	queueKeepCap = 64 // a drained ring up to this size is always kept
	// queueSlackDrains is how many drains in a row a larger ring must be
	// oversized (the bursts between them used at most a quarter of it)
	// before it goes back. A queue whose bursts come and go (a
	// publisher's subscriber: the writer drains it whenever it catches
	// up) keeps its ring instead of growing it anew from queueMinCap
	// after each drain; one whose traffic has died down lets it go.
	queueSlackDrains = 16
)

func newQueue(hwm int, conflate bool, onPush, onRoom func()) *queue {
	return &queue{hwm: hwm, conflate: conflate, onPush: onPush, onRoom: onRoom}
}

// full reports whether a push would exceed the high-water mark; q.mu held.
func (q *queue) full() bool {
	return q.hwm > 0 && q.n+q.held >= q.hwm
}

// push adds m unless the queue is at its high-water mark (or dead). With
// conflate it replaces whatever is queued and always succeeds.
func (q *queue) push(m [][]byte) bool { return q.add(m, false) }

// pushForce adds m whatever the high-water mark: for the few messages
// that ZeroMQ queues beside the user's (subscriptions to ZMTP 3.0 peers).
func (q *queue) pushForce(m [][]byte) bool { return q.add(m, true) }

func (q *queue) add(m [][]byte, force bool) bool {
	q.mu.Lock()
	if q.dead || !force && !q.roomLocked() {
		q.waiting = !q.dead
		q.mu.Unlock()
		return false
	}
	wake := q.n == 0
	q.pushLocked(m)
	q.mu.Unlock()
	if wake && q.onPush != nil {
		q.onPush()
	}
	return true
}

// roomLocked reports whether a message may be added, making room for it
// with conflate; q.mu is held.
func (q *queue) roomLocked() bool {
	if q.conflate {
		for q.n > 0 {
			q.popLocked()
		}
		return true
	}
	return !q.full()
}

// pushSome adds the first messages of ms that fit under the high-water
// mark (all of them with conflate, where the last one stays) and returns
// how many it took, or -1 when the queue is dead. The consumer is woken
// once.
func (q *queue) pushSome(ms [][][]byte) int {
	q.mu.Lock()
	if q.dead {
		q.mu.Unlock()
		return -1
	}
	wake := q.n == 0
	k := 0
	if q.conflate {
		wake = true
		for ; k < len(ms) && q.roomLocked(); k++ {
			q.pushLocked(ms[k])
		}
	} else {
		k = len(ms)
		if q.hwm > 0 {
			k = max(0, min(k, q.hwm-q.n-q.held))
		}
		q.putLocked(ms[:k])
		if k < len(ms) {
			q.waiting = true
		}
	}
	q.mu.Unlock()
	if wake && k > 0 && q.onPush != nil {
		q.onPush()
	}
	return k
}

func (q *queue) pushLocked(m [][]byte) {
	if q.n == len(q.ring) {
		q.grow()
	}
	q.ring[(q.head+q.n)&(len(q.ring)-1)] = m
	if q.n++; q.n == 1 {
		q.queued.Store(true)
	}
	q.peak = max(q.peak, q.n)
}

// putLocked adds ms, a stretch of the ring at a time; q.mu is held.
func (q *queue) putLocked(ms [][][]byte) {
	if len(ms) == 0 {
		return
	}
	for q.n+len(ms) > len(q.ring) {
		q.grow()
	}
	if q.n == 0 {
		q.queued.Store(true)
	}
	for len(ms) > 0 {
		tail := (q.head + q.n) & (len(q.ring) - 1)
		k := copy(q.ring[tail:], ms)
		q.n += k
		ms = ms[k:]
	}
	q.peak = max(q.peak, q.n)
}

func (q *queue) grow() {
	c := max(2*len(q.ring), queueMinCap)
	ring := make([][][]byte, c)
	for i := range q.n {
		ring[i] = q.ring[(q.head+i)&(len(q.ring)-1)]
	}
	q.ring, q.head = ring, 0
}

func (q *queue) popLocked() [][]byte {
	m := q.ring[q.head]
	q.ring[q.head] = nil
	q.head = (q.head + 1) & (len(q.ring) - 1)
	if q.n--; q.n == 0 {
		q.drainedLocked()
	}
	return m
}

// takeLocked moves the k oldest messages (k <= q.n) to dst, a stretch of
// the ring at a time rather than one by one, and counts them as held;
// q.mu is held.
func (q *queue) takeLocked(dst [][][]byte, k int) [][][]byte {
	for k > 0 {
		seg := q.ring[q.head:min(q.head+k, len(q.ring))]
		dst = append(dst, seg...)
		clear(seg)
		q.head = (q.head + len(seg)) & (len(q.ring) - 1)
		q.n -= len(seg)
		q.held += len(seg)
		k -= len(seg)
	}
	if q.n == 0 {
		q.drainedLocked()
	}
	return dst
}

// drainedLocked runs when the last queued message has been taken; q.mu
// is held. A ring much larger than what the recent bursts needed goes
// back; one that the traffic fills now and then is kept, so that a busy
// queue does not reallocate at every drain.
func (q *queue) drainedLocked() {
	q.queued.Store(false)
	q.head = 0
	if len(q.ring) > queueKeepCap && 4*q.peak <= len(q.ring) {
		if q.slack++; q.slack >= queueSlackDrains {
			q.ring, q.slack = nil, 0
		}
	} else {
		q.slack = 0
	}
	q.peak = 0
}

// pop takes the oldest message.
func (q *queue) pop() ([][]byte, bool) {
	q.mu.Lock()
	if q.n == 0 {
		q.mu.Unlock()
		return nil, false
	}
	wasFull := q.full()
	m := q.popLocked()
	wake := q.wakeLocked(wasFull)
	q.mu.Unlock()
	if wake && q.onRoom != nil {
		q.onRoom()
	}
	return m, true
}

// take moves up to max messages (all when max <= 0) to dst and counts them
// as held until release.
func (q *queue) take(dst [][][]byte, max int) [][][]byte {
	q.mu.Lock()
	k := q.n
	if max > 0 {
		k = min(k, max)
	}
	dst = q.takeLocked(dst, k)
	q.mu.Unlock()
	return dst
}

// takeHalf is take of at most max messages and at most half the
// high-water mark, so that the producer, which waits for room while they
// are held, can go on before the consumer has returned them all. It
// reports whether they are held: a single message is popped as pop does,
// and needs no release.
func (q *queue) takeHalf(dst [][][]byte, max int) ([][][]byte, bool) {
	q.mu.Lock()
	if q.hwm > 0 {
		max = min(max, (q.hwm+1)/2)
	}
	if q.n <= 1 || max <= 1 {
		wasFull := q.full()
		if q.n > 0 {
			dst = append(dst, q.popLocked())
		}
		wake := q.wakeLocked(wasFull)
		q.mu.Unlock()
		if wake && q.onRoom != nil {
			q.onRoom()
		}
		return dst, false
	}
	dst = q.takeLocked(dst, min(q.n, max))
	q.mu.Unlock()
	return dst, true
}

// release ends the hold on k messages taken with take.
func (q *queue) release(k int) {
	if k == 0 {
		return
	}
	q.mu.Lock()
	q.held -= k
	wake := !q.lowWater || q.wakeLocked(false)
	q.mu.Unlock()
	if wake && q.onRoom != nil {
		q.onRoom()
	}
}

// wakeLocked reports whether a take that found the queue full (wasFull)
// or a release is to wake the producer; q.mu is held. With lowWater the
// producer is woken only if it was refused, and once the queue is down
// to half the mark.
func (q *queue) wakeLocked(wasFull bool) bool {
	if !q.lowWater {
		return wasFull
	}
	if q.waiting && (q.hwm <= 0 || 2*(q.n+q.held) <= q.hwm) {
		q.waiting = false
		return true
	}
	return false
}

// len returns the number of messages queued, held ones included.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n + q.held
}

// empty reports, without the lock, whether no message is queued (held
// ones aside); a message pushed meanwhile comes with a call of onPush.
func (q *queue) empty() bool { return !q.queued.Load() }

// ready returns the number of messages queued and not taken.
func (q *queue) ready() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// isDead reports whether the queue refuses every push.
func (q *queue) isDead() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dead
}

// isFull reports whether a push would fail at the high-water mark.
func (q *queue) isFull() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.full()
}

// setHWM changes the high-water mark.
func (q *queue) setHWM(hwm int) {
	q.mu.Lock()
	q.hwm = hwm
	q.mu.Unlock()
	if q.onRoom != nil {
		q.onRoom()
	}
}

// discard drops every queued message (not held ones), refuses further
// pushes when kill is set, and returns how many it dropped.
func (q *queue) discard(kill bool) int {
	q.mu.Lock()
	n := q.n
	for q.n > 0 {
		q.popLocked()
	}
	q.ring, q.slack = nil, 0
	if kill {
		q.dead = true
	}
	q.mu.Unlock()
	if q.onRoom != nil {
		q.onRoom()
	}
	return n
}
