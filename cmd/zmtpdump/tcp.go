package main

import (
	"net/netip"
	"sort"
	"time"

	"github.com/zmtp-go/zmtp/dump"
)

// maxPending is the number of out-of-order octets buffered per direction;
// past it, the missing octets are declared lost.
const maxPending = 4 << 20

// holdWindow is how long, in capture time, a hole in a stream is held open
// for its octets to arrive late (out of order in the capture) before they
// are declared lost.
const holdWindow = 2 * time.Second

// flowKey identifies a connection: a is the client's endpoint.
type flowKey struct{ a, b netip.AddrPort }

// assembler reassembles TCP streams from segments in capture order and
// feeds them to connection decoders. Segments may arrive out of order,
// duplicated or overlapping. A hole (octets known to have been sent, because
// later octets or an acknowledgement of them were seen, but not captured) is
// held open for the octets to arrive late; it is reported as a gap only when
// the direction's FIN has been acknowledged, when the hole has been open for
// holdWindow of capture time, when more than maxPending octets wait behind
// it, or at the end of the capture.
type assembler struct {
	out   *printer
	opts  dump.Options
	port  uint16 // when not zero, only connections on this port
	conns map[flowKey]*tcpConn
	// now is the latest capture time seen; lastSweep is when every
	// connection's holes were last checked against holdWindow.
	now, lastSweep time.Time
	// pkt is the number of the packet being processed, from 1; limit,
	// when not zero, is the number of packets to read.
	pkt, limit int
	// warn, when set, receives warnings about the capture.
	warn func(string)
	// spans maps connection numbers to the packets that carried each
	// direction's octets.
	spans map[int]*[2][]span
}

// span records that packet pkt carried the stream octets [off, end).
type span struct {
	off, end int64
	pkt      int
}

// maxSpans bounds the spans kept per direction.
const maxSpans = 1 << 16

type tcpConn struct {
	key    flowKey
	dc     *dump.Conn
	half   [2]halfStream
	syn    bool   // the client's SYN was seen
	synSeq uint32 // its sequence number
}

// halfStream is the reassembly state of one direction.
type halfStream struct {
	started bool // next is known
	synSeen bool // the direction's SYN was captured
	// awaiting is set while segments wait in pending for the direction's
	// SYN, captured after them, since the other direction's SYN was seen;
	// awaitSince is when the first of them arrived.
	awaiting   bool
	awaitSince time.Time
	next       uint32 // next sequence number to deliver
	pending    []pendingSeg
	pendLen    int
	// acked is set once the peer acknowledged octets; ackedTo is the
	// highest sequence number acknowledged, ackSince the capture time at
	// which an acknowledgement first went past next.
	acked    bool
	ackedTo  uint32
	ackSince time.Time
	finSeen  bool
	finSeq   uint32
	finished bool
}

type pendingSeg struct {
	seq  uint32
	data []byte
	lost int
	pkt  int       // the packet that carried it
	at   time.Time // capture time it arrived
}

func newAssembler(out *printer, opts dump.Options, port uint16) *assembler {
	a := &assembler{out: out, opts: opts, port: port, conns: make(map[flowKey]*tcpConn), spans: make(map[int]*[2][]span)}
	out.packets = a.packets
	return a
}

// seqDiff returns a-b in sequence space.
func seqDiff(a, b uint32) int64 { return int64(int32(a - b)) }

// add processes one segment.
func (a *assembler) add(s segment) {
	if a.port != 0 && s.src.Port() != a.port && s.dst.Port() != a.port {
		return
	}
	a.out.now = s.ts
	a.out.packet = a.pkt
	if s.ts.After(a.now) {
		a.now = s.ts
	}
	a.sweep()
	c, dir := a.lookup(s)
	if c == nil {
		if !s.syn && len(s.payload) == 0 && s.lost == 0 {
			return
		}
		c, dir = a.newConn(s)
	}
	h := &c.half[dir]
	if s.syn {
		h.synSeen = true
		if !h.started {
			h.started = true
			h.next = s.seq + 1
			if h.awaiting {
				// Segments captured before the SYN wait in pending.
				h.awaiting = false
				a.drain(c, dir)
			}
		}
		return
	}
	if !h.started && !h.awaiting {
		if c.half[dir.Other()].synSeen {
			// The other side's SYN was seen but not yet this one's: it
			// may have been captured after this segment.
			h.awaiting, h.awaitSince = true, a.now
		} else {
			h.started = true
			h.next = s.seq
		}
	}
	if len(s.payload) > 0 || s.lost > 0 {
		a.data(c, dir, s.seq, s.payload, s.lost)
	}
	if s.fin && !h.finSeen {
		h.finSeen = true
		h.finSeq = s.seq + uint32(len(s.payload)+s.lost)
		a.tryFin(c, dir)
	}
	if s.ackf {
		a.acked(c, dir.Other(), s.ack)
	}
	if s.rst {
		a.flush(c, dir)
		c.dc.Reset(dir)
		a.forget(c)
	}
}

func (a *assembler) lookup(s segment) (*tcpConn, dump.Dir) {
	if c := a.conns[flowKey{s.src, s.dst}]; c != nil {
		if s.syn && !s.ackf && c.half[0].started && !(c.syn && s.seq == c.synSeq) {
			// A new connection on the same ports (not a SYN seen twice).
			a.end(c)
			return nil, 0
		}
		return c, dump.FromClient
	}
	if c := a.conns[flowKey{s.dst, s.src}]; c != nil {
		return c, dump.FromServer
	}
	return nil, 0
}

// newConn starts tracking a connection. Its client is the sender of a SYN,
// the receiver of a SYN-ACK, or else the side with the higher port (or the
// side not on the filtered port).
func (a *assembler) newConn(s segment) (*tcpConn, dump.Dir) {
	client, server := s.src, s.dst
	switch {
	case s.syn && !s.ackf:
	case s.syn && s.ackf:
		client, server = s.dst, s.src
	case a.port != 0:
		if s.src.Port() == a.port {
			client, server = s.dst, s.src
		}
	case s.src.Port() < s.dst.Port():
		client, server = s.dst, s.src
	}
	a.out.nextID++
	opts := a.opts
	opts.Midstream = !s.syn
	c := &tcpConn{key: flowKey{client, server}, syn: s.syn && !s.ackf, synSeq: s.seq}
	c.dc = dump.NewConn(a.out.nextID, client.String(), server.String(), opts, a.out.emit)
	a.conns[c.key] = c
	a.out.track(c.dc)
	if s.syn {
		c.dc.Open()
	}
	dir := dump.FromClient
	if s.src != client {
		dir = dump.FromServer
	}
	return c, dir
}

// data delivers or buffers a segment's payload.
func (a *assembler) data(c *tcpConn, dir dump.Dir, seq uint32, p []byte, lost int) {
	h := &c.half[dir]
	if h.finished {
		return
	}
	if h.awaiting {
		h.insert(pendingSeg{seq: seq, data: append([]byte(nil), p...), lost: lost, pkt: a.pkt, at: a.now})
		if h.pendLen > maxPending {
			a.startAwaited(c, dir)
		}
		return
	}
	d := seqDiff(seq, h.next)
	if d < 0 {
		// Octets already delivered: keep what is new.
		old := -d
		if old >= int64(len(p)+lost) {
			return
		}
		if old <= int64(len(p)) {
			p = p[old:]
		} else {
			lost -= int(old) - len(p)
			p = nil
		}
		seq, d = h.next, 0
	}
	if d > 0 {
		h.insert(pendingSeg{seq: seq, data: append([]byte(nil), p...), lost: lost, pkt: a.pkt, at: a.now})
		for h.pendLen > maxPending {
			a.skipTo(c, dir, h.pending[0].seq)
		}
		return
	}
	a.deliver(c, dir, p, lost, a.pkt)
	a.drain(c, dir)
}

func (h *halfStream) insert(p pendingSeg) {
	i := sort.Search(len(h.pending), func(i int) bool { return seqDiff(h.pending[i].seq, p.seq) > 0 })
	h.pending = append(h.pending, pendingSeg{})
	copy(h.pending[i+1:], h.pending[i:])
	h.pending[i] = p
	h.pendLen += len(p.data)
}

// deliver feeds in-order octets, carried by packet pkt, to the decoder.
func (a *assembler) deliver(c *tcpConn, dir dump.Dir, p []byte, lost int, pkt int) {
	h := &c.half[dir]
	if n := int64(len(p) + lost); n > 0 {
		a.record(c.dc.ID, dir, c.dc.Decoder(dir).Offset(), n, pkt)
	}
	if len(p) > 0 {
		c.dc.Feed(dir, p)
	}
	if lost > 0 {
		c.dc.Gap(dir, int64(lost))
	}
	h.next += uint32(len(p) + lost)
	if h.acked && seqDiff(h.ackedTo, h.next) <= 0 {
		h.ackSince = time.Time{}
	}
}

// drain delivers buffered segments that have become contiguous.
func (a *assembler) drain(c *tcpConn, dir dump.Dir) {
	h := &c.half[dir]
	for len(h.pending) > 0 {
		p := h.pending[0]
		d := seqDiff(p.seq, h.next)
		if d > 0 {
			break
		}
		h.pending = h.pending[1:]
		h.pendLen -= len(p.data)
		if old := -d; old < int64(len(p.data)+p.lost) {
			data, lost := p.data, p.lost
			if old <= int64(len(data)) {
				data = data[old:]
			} else {
				lost -= int(old) - len(data)
				data = nil
			}
			a.deliver(c, dir, data, lost, p.pkt)
		}
	}
	if len(h.pending) == 0 {
		h.pending = nil
	}
	a.tryFin(c, dir)
}

// skipTo declares the octets up to seq lost and delivers what follows.
func (a *assembler) skipTo(c *tcpConn, dir dump.Dir, seq uint32) {
	h := &c.half[dir]
	if n := seqDiff(seq, h.next); n > 0 {
		c.dc.Gap(dir, n)
		h.next = seq
	}
	a.drain(c, dir)
}

// acked handles an acknowledgement of direction dir's octets up to ack:
// octets acknowledged but not captured make a hole, which is held open
// (see release). Once the direction's FIN is acknowledged, nothing more
// will be sent: its holes are reported.
func (a *assembler) acked(c *tcpConn, dir dump.Dir, ack uint32) {
	h := &c.half[dir]
	if !h.started || h.finished {
		return
	}
	if !h.acked || seqDiff(ack, h.ackedTo) > 0 {
		h.acked, h.ackedTo = true, ack
	}
	if h.finSeen && seqDiff(ack, h.finSeq) > 0 {
		a.release(c, dir)
		return
	}
	if seqDiff(h.ackLimit(), h.next) > 0 && h.ackSince.IsZero() {
		h.ackSince = a.now
	}
}

// ackLimit is the end of the octets acknowledged (the FIN excluded).
func (h *halfStream) ackLimit() uint32 {
	limit := h.ackedTo
	if !h.acked {
		return h.next
	}
	if h.finSeen && seqDiff(limit, h.finSeq) > 0 {
		limit = h.finSeq
	}
	return limit
}

// release reports every hole of a direction as a gap and delivers what
// waits behind them, up to the octets acknowledged and the FIN.
func (a *assembler) release(c *tcpConn, dir dump.Dir) {
	h := &c.half[dir]
	a.flush(c, dir)
	if h.finished || !h.started {
		return
	}
	if limit := h.ackLimit(); seqDiff(limit, h.next) > 0 {
		a.skipTo(c, dir, limit)
	}
	h.ackSince = time.Time{}
}

// startAwaited starts a direction whose SYN was not captured (or not yet,
// after holdWindow) at the lowest sequence number seen, as a capture that
// began in the middle of the stream.
func (a *assembler) startAwaited(c *tcpConn, dir dump.Dir) {
	h := &c.half[dir]
	if !h.awaiting {
		return
	}
	switch {
	case len(h.pending) > 0:
		h.next = h.pending[0].seq
	case h.finSeen:
		h.next = h.finSeq
	default:
		return
	}
	h.awaiting, h.started = false, true
	c.dc.Decoder(dir).StartMidstream()
	a.drain(c, dir)
}

// expire reports the holes of a direction that have been open for
// holdWindow of capture time, oldest first.
func (a *assembler) expire(c *tcpConn, dir dump.Dir) {
	h := &c.half[dir]
	if h.awaiting {
		if a.now.Sub(h.awaitSince) < holdWindow {
			return
		}
		a.startAwaited(c, dir)
	}
	for !h.finished {
		if len(h.pending) > 0 {
			// The hole before the first buffered segment is known since
			// the earliest of them arrived, or since it was acknowledged.
			since := h.ackSince
			for _, p := range h.pending {
				if since.IsZero() || p.at.Before(since) {
					since = p.at
				}
			}
			if a.now.Sub(since) < holdWindow {
				return
			}
			a.skipTo(c, dir, h.pending[0].seq)
			if !h.acked || seqDiff(h.ackedTo, h.next) <= 0 {
				h.ackSince = time.Time{}
			}
			continue
		}
		if !h.ackSince.IsZero() && a.now.Sub(h.ackSince) >= holdWindow {
			a.release(c, dir)
		}
		return
	}
}

// sweep checks every connection's holes against holdWindow, at most a few
// times per window of capture time.
func (a *assembler) sweep() {
	if a.now.Sub(a.lastSweep) < holdWindow/4 {
		return
	}
	a.lastSweep = a.now
	for _, c := range a.ordered() {
		for dir := range c.half {
			a.expire(c, dump.Dir(dir))
		}
	}
}

// ordered returns the open connections in order of appearance.
func (a *assembler) ordered() []*tcpConn {
	open := make([]*tcpConn, 0, len(a.conns))
	for _, c := range a.conns {
		open = append(open, c)
	}
	sort.Slice(open, func(i, j int) bool { return open[i].dc.ID < open[j].dc.ID })
	return open
}

// record notes that packet pkt carried n octets of a direction from
// stream offset off.
func (a *assembler) record(id int, dir dump.Dir, off, n int64, pkt int) {
	sp := a.spans[id]
	if sp == nil {
		sp = new([2][]span)
		a.spans[id] = sp
	}
	s := sp[dir]
	if k := len(s); k > 0 && s[k-1].pkt == pkt && s[k-1].end == off {
		s[k-1].end += n
		return
	}
	if len(s) >= maxSpans {
		s = append(s[:0], s[len(s)/2:]...)
	}
	sp[dir] = append(s, span{off: off, end: off + n, pkt: pkt})
}

// packets returns the numbers of the packets that carried an event's
// octets, in order and without repeats.
func (a *assembler) packets(ev dump.Event) []int {
	sp := a.spans[ev.ConnID]
	if sp == nil || ev.Len <= 0 {
		return nil
	}
	s := sp[ev.Dir&1]
	var out []int
	seen := map[int]bool{}
	for _, x := range s {
		if x.end > ev.Offset && x.off < ev.Offset+ev.Len && !seen[x.pkt] {
			seen[x.pkt] = true
			out = append(out, x.pkt)
		}
	}
	sort.Ints(out)
	if ev.Kind == dump.KindMessage || ev.Kind == dump.KindGreeting {
		// Later events begin after this one ends.
		k := 0
		for k < len(s) && s[k].end <= ev.Offset+ev.Len {
			k++
		}
		sp[ev.Dir&1] = s[k:]
	}
	return out
}

// tryFin closes the direction once every octet before its FIN is in.
func (a *assembler) tryFin(c *tcpConn, dir dump.Dir) {
	h := &c.half[dir]
	if !h.started || !h.finSeen || h.finished || h.next != h.finSeq {
		return
	}
	h.finished = true
	c.dc.Close(dir)
	if c.dc.Ended() {
		a.forget(c)
	}
}

// flush delivers everything buffered for a direction, reporting the holes.
func (a *assembler) flush(c *tcpConn, dir dump.Dir) {
	h := &c.half[dir]
	a.startAwaited(c, dir)
	for h.started && len(h.pending) > 0 {
		a.skipTo(c, dir, h.pending[0].seq)
	}
}

// end finishes a connection: buffered data is delivered and open
// directions end without a FIN.
func (a *assembler) end(c *tcpConn) {
	for dir := range c.half {
		a.release(c, dump.Dir(dir))
		if h := &c.half[dir]; h.started && h.finSeen && !h.finished {
			if n := seqDiff(h.finSeq, h.next); n > 0 {
				c.dc.Gap(dump.Dir(dir), n)
				h.next = h.finSeq
			}
			a.tryFin(c, dump.Dir(dir))
		}
		c.dc.Decoder(dump.Dir(dir)).End()
	}
	a.forget(c)
}

// finish ends every connection still open, in order of appearance.
func (a *assembler) finish() {
	for _, c := range a.ordered() {
		a.end(c)
	}
}

// forget stops tracking a connection that has ended.
func (a *assembler) forget(c *tcpConn) {
	delete(a.conns, c.key)
	delete(a.spans, c.dc.ID)
}
