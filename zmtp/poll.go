package zmtp

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Events is a set of readiness conditions of a socket, as zmq_poll's
// ZMQ_POLLIN and ZMQ_POLLOUT.
type Events uint8

// The events a Poller waits for.
const (
	// PollIn: TryRecv can return a message now. A REQ is readable only
	// once its request is out and the reply is there; a REP only between
	// replies; a SUB only with a message that matches its subscriptions;
	// an XPUB with a subscription message; PUB and PUSH never.
	PollIn Events = 1 << iota
	// PollOut: TrySend can queue a message now. A PUSH, DEALER, PAIR or
	// REQ needs a peer with room (and a REQ no request outstanding); a
	// REP has a request to answer; PUB, XPUB, XSUB and ROUTER never wait
	// (a ROUTER with RouterMandatory needs a peer with room, an XPUB with
	// XPubNoDrop room at every peer); SUB and PULL are never writable.
	PollOut
)

// String names the events: "PollIn|PollOut", "PollIn", "PollOut" or
// "none".
func (e Events) String() string {
	switch e & (PollIn | PollOut) {
	case 0:
		return "none"
	case PollIn:
		return "PollIn"
	case PollOut:
		return "PollOut"
	}
	return "PollIn|PollOut"
}

// Polled is a socket a Poller found ready, and for what.
type Polled struct {
	Socket *Socket // as registered with Add
	Events Events  // those of its registered events it is ready for
}

// Poller waits on several sockets at once, as zmq_poll does. Register
// sockets with Add, wait with Wait or Poll, then receive or send with
// TryRecv and TrySend on the sockets it reports, which do not wait.
//
// Readiness is read from the sockets' queues: a Poller receives nothing
// itself, so a poll that returns, times out or is cancelled leaves every
// message where it was. (It drops only what Recv would drop unseen: a
// message a SUB no longer subscribes to, a REQ's reply that is not one,
// a REP's request without an envelope.) A socket is also reported, with the events it was
// registered for, once it is closed or every endpoint of it has given up
// for good: the Try call then returns why. Readiness is a moment's
// truth: another goroutine that receives from or sends on the socket may
// take it first, and the Try call then returns ErrWouldBlock; while a
// Recv (Send) is blocked on a socket, its PollIn (PollOut) is not
// reported.
//
// Ready fits a Poller into a select beside other channels.
//
// A Poller is for one goroutine at a time. Its zero value is an empty
// Poller, ready to use. Close it when done: it unregisters from its
// sockets.
type Poller struct {
	items []pollItem
	wake  chan struct{} // signalled by the sockets on any change (capacity 1)
	ready []Polled
}

type pollItem struct {
	s  *Socket
	ev Events
}

// NewPoller returns an empty Poller.
func NewPoller() *Poller { return &Poller{} }

func (p *Poller) init() {
	if p.wake == nil {
		p.wake = make(chan struct{}, 1)
	}
}

// Add registers s for the events ev, or changes the events of a socket
// already registered. Adding it with no events removes it.
func (p *Poller) Add(s *Socket, ev Events) {
	p.init()
	ev &= PollIn | PollOut
	if ev == 0 {
		p.Remove(s)
		return
	}
	s.watch.add(p.wake, ev)
	for i := range p.items {
		if p.items[i].s == s {
			p.items[i].ev = ev
			return
		}
	}
	p.items = append(p.items, pollItem{s, ev})
	signal(p.wake) // it may be ready already
}

// Remove unregisters s. Removing a socket that is not registered does
// nothing.
func (p *Poller) Remove(s *Socket) {
	i := slices.IndexFunc(p.items, func(it pollItem) bool { return it.s == s })
	if i < 0 {
		return
	}
	s.watch.remove(p.wake)
	p.items = slices.Delete(p.items, i, i+1)
}

// Close unregisters every socket; the Poller is empty afterwards and can
// be used again.
func (p *Poller) Close() {
	for _, it := range p.items {
		it.s.watch.remove(p.wake)
	}
	clear(p.items)
	p.items = p.items[:0]
}

// Wait blocks until at least one registered socket is ready for one of
// its events, and returns those that are, in the order they were added;
// or returns ctx.Err() when ctx ends first. The returned slice is reused
// by the next call.
func (p *Poller) Wait(ctx context.Context) ([]Polled, error) {
	p.init()
	for {
		// Emptied before looking: a change after the look signals again.
		clearSignal(p.wake)
		if ready := p.check(); len(ready) > 0 {
			return ready, nil
		}
		select {
		case <-p.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Poll is Wait with a timeout instead of a context, as zmq_poll: it
// returns the ready sockets, or none when timeout passes first. A
// timeout of 0 only looks; a negative one waits for as long as it takes.
func (p *Poller) Poll(timeout time.Duration) ([]Polled, error) {
	p.init()
	switch {
	case timeout < 0:
		return p.Wait(context.Background())
	case timeout == 0:
		return p.check(), nil
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		clearSignal(p.wake)
		if ready := p.check(); len(ready) > 0 {
			return ready, nil
		}
		select {
		case <-p.wake:
		case <-t.C:
			return p.check(), nil
		}
	}
}

// Ready returns a channel that delivers a value when a registered socket
// is ready, now or later, for use in a select; Poll(0) then tells which.
// It may also deliver when a socket changed without becoming ready, in
// which case Poll(0) returns none: call Ready again for the next select.
func (p *Poller) Ready() <-chan struct{} {
	p.init()
	clearSignal(p.wake)
	if len(p.check()) > 0 {
		signal(p.wake)
	}
	return p.wake
}

// check returns the sockets ready now.
func (p *Poller) check() []Polled {
	p.ready = p.ready[:0]
	for _, it := range p.items {
		if ev := it.s.readiness(it.ev); ev != 0 {
			p.ready = append(p.ready, Polled{it.s, ev})
		}
	}
	return p.ready
}

// clearSignal empties a signal channel.
func clearSignal(ch chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// readiness returns which of want the socket is ready for: want itself
// once it is closed or every endpoint has given up, so that the Try call
// returns why.
func (s *Socket) readiness(want Events) Events {
	if s.isClosed() {
		return want
	}
	var got Events
	if want&PollIn != 0 && s.recvMu.TryLock() {
		if s.canRecvNow() {
			got |= PollIn
		} else {
			// Nobody may be reading: a Recv that read the connection
			// itself left the read lease free.
			s.reclaimLease()
		}
		s.recvMu.Unlock()
	}
	if want&PollOut != 0 && s.sendMu.TryLock() {
		if s.canSendNow() {
			got |= PollOut
		}
		s.sendMu.Unlock()
	}
	if got == 0 && s.hopeless() != nil {
		return want
	}
	return got
}

// canRecvNow reports whether a Recv would return a message at once; s.recvMu
// is held. Messages that Recv would drop (a SUB's unmatched ones, a REQ's
// stray replies, a REP's malformed requests) are dropped here too.
func (s *Socket) canRecvNow() bool { return s.rule.readyToRecv() }

// canSendNow reports whether a Send would queue a message at once; s.sendMu
// is held.
func (s *Socket) canSendNow() bool { return s.rule.readyToSend() }

// anyQueued reports whether a routable pipe has a message that keep (nil
// keeps all) accepts at the head of its queue, dropping those it rejects.
func (s *Socket) anyQueued(keep func([][]byte) bool) bool {
	for _, p := range s.snapshot() {
		if keep == nil {
			if p.hasQueued() {
				return true
			}
		} else if p.headWhere(keep) {
			return true
		}
	}
	return false
}

// anyRoom reports whether a routable pipe can take a message; with all,
// whether every one can.
func (s *Socket) anyRoom(all bool) bool {
	for _, p := range s.snapshot() {
		if p.gone.Load() {
			continue
		}
		if p.out.hasRoom() != all {
			return !all
		}
	}
	return all
}

// hasRoom reports whether a push would succeed.
func (q *queue) hasRoom() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return !q.dead && (q.conflate || !q.full())
}

// headWhere reports whether the oldest message is one keep accepts,
// dropping the older ones it rejects first. keep runs without q.mu; the
// caller is the queue's only consumer.
func (q *queue) headWhere(keep func([][]byte) bool) bool {
	for {
		q.mu.Lock()
		if q.n == 0 {
			q.mu.Unlock()
			return false
		}
		m := q.ring[q.head]
		q.mu.Unlock()
		if keep(m) {
			return true
		}
		q.dropHead(m)
	}
}

// dropHead drops the oldest message if it is still m.
func (q *queue) dropHead(m [][]byte) {
	q.mu.Lock()
	if q.n == 0 || &q.ring[q.head][0] != &m[0] {
		q.mu.Unlock()
		return
	}
	wasFull := q.full()
	q.popLocked()
	q.mu.Unlock()
	if wasFull && q.onRoom != nil {
		q.onRoom()
	}
}

// watchers are the Pollers registered with a socket: each has a channel
// the socket signals, without blocking, on the changes that may make it
// ready for the events the Poller wants. The zero value has none; waking
// none costs an atomic load.
type watchers struct {
	mu   sync.Mutex
	list atomic.Pointer[[]watcher] // copied on write
}

type watcher struct {
	ch chan struct{}
	ev Events
}

func (w *watchers) add(ch chan struct{}, ev Events) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var l []watcher
	if cur := w.list.Load(); cur != nil {
		l = slices.Clone(*cur)
	}
	if i := slices.IndexFunc(l, func(x watcher) bool { return x.ch == ch }); i >= 0 {
		l[i].ev = ev
	} else {
		l = append(l, watcher{ch, ev})
	}
	w.list.Store(&l)
}

func (w *watchers) remove(ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := w.list.Load()
	if cur == nil {
		return
	}
	l := slices.DeleteFunc(slices.Clone(*cur), func(x watcher) bool { return x.ch == ch })
	if len(l) == 0 {
		w.list.Store(nil)
		return
	}
	w.list.Store(&l)
}

func (w *watchers) wake(ev Events) {
	l := w.list.Load()
	if l == nil {
		return
	}
	for _, x := range *l {
		if x.ev&ev != 0 {
			signal(x.ch)
		}
	}
}

// wakeIn wakes a Recv waiting on the socket, and the Pollers that wait
// for it to be readable: a message arrived, a pipe came or went, an
// endpoint gave up, the socket is closing.
func (s *Socket) wakeIn() { s.wakeInFrom(nil) }

// wakeInFrom is wakeIn for a message that connection c (nil for none)
// handed over. A Recv reading a connection itself (Socket.recvDirect) is
// interrupted, so that it looks at the socket's pipes again, unless the
// message came from the connection it reads: it hands that over itself.
func (s *Socket) wakeInFrom(c *Conn) {
	if d := s.direct.Load(); d != nil && d != c {
		d.interruptRecv()
	}
	signal(s.readable)
	s.watch.wake(PollIn)
}

// wakeOut wakes a Send waiting on the socket, and the Pollers that wait
// for it to be writable.
func (s *Socket) wakeOut() {
	signal(s.writable)
	s.watch.wake(PollOut)
}
