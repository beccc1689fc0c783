package main

import (
	"net/netip"
	"sort"

	"github.com/zmtp-go/zmtp/dump"
)

// maxPending is the number of out-of-order octets buffered per direction;
// past it, the missing octets are declared lost.
const maxPending = 4 << 20

// flowKey identifies a connection: a is the client's endpoint.
type flowKey struct{ a, b netip.AddrPort }

// assembler reassembles TCP streams from segments in capture order and
// feeds them to connection decoders. Segments may arrive out of order,
// duplicated or overlapping; octets that never arrive are reported as gaps
// once the receiver has acknowledged them, when too much data waits behind
// them, or at the end of the capture.
type assembler struct {
	out   *printer
	opts  dump.Options
	port  uint16 // when not zero, only connections on this port
	conns map[flowKey]*tcpConn
}

type tcpConn struct {
	key    flowKey
	dc     *dump.Conn
	half   [2]halfStream
	syn    bool   // the client's SYN was seen
	synSeq uint32 // its sequence number
}

// halfStream is the reassembly state of one direction.
type halfStream struct {
	started  bool   // next is known
	next     uint32 // next sequence number to deliver
	pending  []pendingSeg
	pendLen  int
	finSeen  bool
	finSeq   uint32
	finished bool
}

type pendingSeg struct {
	seq  uint32
	data []byte
	lost int
}

func newAssembler(out *printer, opts dump.Options, port uint16) *assembler {
	return &assembler{out: out, opts: opts, port: port, conns: make(map[flowKey]*tcpConn)}
}

// seqDiff returns a-b in sequence space.
func seqDiff(a, b uint32) int64 { return int64(int32(a - b)) }

// add processes one segment.
func (a *assembler) add(s segment) {
	if a.port != 0 && s.src.Port() != a.port && s.dst.Port() != a.port {
		return
	}
	a.out.now = s.ts
	c, dir := a.lookup(s)
	if c == nil {
		if !s.syn && len(s.payload) == 0 && s.lost == 0 {
			return
		}
		c, dir = a.newConn(s)
	}
	h := &c.half[dir]
	if s.syn {
		if !h.started {
			h.started = true
			h.next = s.seq + 1
		}
		return
	}
	if !h.started {
		h.started = true
		h.next = s.seq
		if c.half[dir.Other()].started {
			// The other side's SYN was seen but not this one's.
			c.dc.Decoder(dir).StartMidstream()
		}
	}
	if s.ackf {
		a.acked(c, dir.Other(), s.ack)
	}
	if len(s.payload) > 0 || s.lost > 0 {
		a.data(c, dir, s.seq, s.payload, s.lost)
	}
	if s.fin && !h.finSeen {
		h.finSeen = true
		h.finSeq = s.seq + uint32(len(s.payload)+s.lost)
		a.tryFin(c, dir)
	}
	if s.rst {
		a.flush(c, dir)
		c.dc.Reset(dir)
		delete(a.conns, c.key)
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
		h.insert(pendingSeg{seq: seq, data: append([]byte(nil), p...), lost: lost})
		if h.pendLen > maxPending {
			a.skipTo(c, dir, h.pending[0].seq)
		}
		return
	}
	a.deliver(c, dir, p, lost)
	a.drain(c, dir)
}

func (h *halfStream) insert(p pendingSeg) {
	i := sort.Search(len(h.pending), func(i int) bool { return seqDiff(h.pending[i].seq, p.seq) > 0 })
	h.pending = append(h.pending, pendingSeg{})
	copy(h.pending[i+1:], h.pending[i:])
	h.pending[i] = p
	h.pendLen += len(p.data)
}

// deliver feeds in-order octets to the decoder.
func (a *assembler) deliver(c *tcpConn, dir dump.Dir, p []byte, lost int) {
	h := &c.half[dir]
	if len(p) > 0 {
		c.dc.Feed(dir, p)
	}
	if lost > 0 {
		c.dc.Gap(dir, int64(lost))
	}
	h.next += uint32(len(p) + lost)
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
			a.deliver(c, dir, data, lost)
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
// octets acknowledged but not captured will not be sent again.
func (a *assembler) acked(c *tcpConn, dir dump.Dir, ack uint32) {
	h := &c.half[dir]
	if !h.started || h.finished {
		return
	}
	limit := ack
	if h.finSeen && ack == h.finSeq+1 {
		limit = h.finSeq
	}
	if seqDiff(limit, h.next) <= 0 {
		return
	}
	if len(h.pending) > 0 && seqDiff(h.pending[0].seq, limit) < 0 {
		limit = h.pending[0].seq
	}
	a.skipTo(c, dir, limit)
}

// tryFin closes the direction once every octet before its FIN is in.
func (a *assembler) tryFin(c *tcpConn, dir dump.Dir) {
	h := &c.half[dir]
	if !h.finSeen || h.finished || h.next != h.finSeq {
		return
	}
	h.finished = true
	c.dc.Close(dir)
	if c.dc.Ended() {
		delete(a.conns, c.key)
	}
}

// flush delivers everything buffered for a direction, reporting the holes.
func (a *assembler) flush(c *tcpConn, dir dump.Dir) {
	h := &c.half[dir]
	for len(h.pending) > 0 {
		a.skipTo(c, dir, h.pending[0].seq)
	}
}

// end finishes a connection: buffered data is delivered and open
// directions end without a FIN.
func (a *assembler) end(c *tcpConn) {
	for dir := range c.half {
		a.flush(c, dump.Dir(dir))
		if h := &c.half[dir]; h.finSeen && !h.finished {
			if n := seqDiff(h.finSeq, h.next); n > 0 {
				c.dc.Gap(dump.Dir(dir), n)
				h.next = h.finSeq
			}
			a.tryFin(c, dump.Dir(dir))
		}
		c.dc.Decoder(dump.Dir(dir)).End()
	}
	delete(a.conns, c.key)
}

// finish ends every connection still open, in order of appearance.
func (a *assembler) finish() {
	open := make([]*tcpConn, 0, len(a.conns))
	for _, c := range a.conns {
		open = append(open, c)
	}
	sort.Slice(open, func(i, j int) bool { return open[i].dc.ID < open[j].dc.ID })
	for _, c := range open {
		a.end(c)
	}
}
