package zmtp

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/zmtp-go/zmtp/frame"
)

// The socket types of RFC 48 (draft in libzmq): a RADIO sends each
// message with a group to the DISHes that joined the group.
const (
	Radio SocketType = frame.SocketRadio
	Dish  SocketType = frame.SocketDish
)

// ErrInvalidGroup matches (with errors.Is) the error of a Join, Leave or
// SendGroup refused because of its group: longer than 255 octets, holding
// a zero octet (RFC 48), joined twice or left without being joined (as
// libzmq's EINVAL).
var ErrInvalidGroup = errors.New("zmtp: invalid group")

// checkGroup returns an error matching ErrInvalidGroup for a group RFC 48
// does not allow.
func checkGroup(group string) error {
	if len(group) > frame.MaxGroupSize {
		return fmt.Errorf("%w: %d octets, more than %d", ErrInvalidGroup, len(group), frame.MaxGroupSize)
	}
	for i := 0; i < len(group); i++ {
		if group[i] == 0 {
			return fmt.Errorf("%w: %q holds a zero octet", ErrInvalidGroup, group)
		}
	}
	return nil
}

// radioRule is RADIO (RFC 48): each message goes to the peers that joined
// its group, and to every udp destination (which filters nothing: the
// DISH there does). A peer whose queue is full misses the message
// (counted in Socket.Dropped) unless XPubNoDrop is set, when the sender
// waits for its room, as libzmq's ZMQ_XPUB_NODROP on a RADIO. Messages
// from peers are dropped; their JOIN and LEAVE commands are kept per
// peer as a set: a second JOIN of a group changes nothing and one LEAVE
// removes it. A join holds for the connection it came on only: libzmq
// forgets joins with the connection, and its DISH joins again on the next.
type radioRule struct {
	noSubscriptions
	admitAll
	s *Socket

	mu     sync.RWMutex
	joined map[string]map[*pipe]*Conn // group -> the peers that joined it, and on which connection (nil inproc)
	all    []*pipe                    // udp destinations: every group

	targets []*pipe // used by send only (sends are serialised by Socket.sendMu)
}

func newRadioRule(s *Socket) *radioRule {
	return &radioRule{s: s, joined: map[string]map[*pipe]*Conn{}}
}

func (r *radioRule) attached(p *pipe) {
	if p.datagram {
		r.mu.Lock()
		r.all = append(r.all[:len(r.all):len(r.all)], p)
		r.mu.Unlock()
	}
}

func (r *radioRule) detached(p *pipe) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forgetLocked(p, nil)
	for i, q := range r.all {
		if q == p {
			r.all = append(r.all[:i:i], r.all[i+1:]...)
			break
		}
	}
}

// forgetLocked drops every group p joined on a connection other than
// keep (all of them when keep is nil); r.mu is held.
func (r *radioRule) forgetLocked(p *pipe, keep *Conn) {
	for g, peers := range r.joined {
		if c, ok := peers[p]; ok && (keep == nil || c != keep) {
			delete(peers, p)
		}
		if len(peers) == 0 {
			delete(r.joined, g)
		}
	}
}

// connected drops what the peer joined on its previous connections (they
// no longer count: see deliver).
func (r *radioRule) connected(p *pipe, c *Conn) {
	if c != nil {
		r.mu.Lock()
		r.forgetLocked(p, c)
		r.mu.Unlock()
	}
}

func (r *radioRule) onCommand(p *pipe, cmd frame.Command) {
	if cmd.Name != frame.CmdJoin && cmd.Name != frame.CmdLeave {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	peers := r.joined[string(cmd.Data)]
	if cmd.Name == frame.CmdJoin {
		if peers == nil {
			peers = map[*pipe]*Conn{}
			r.joined[string(cmd.Data)] = peers
		}
		// The command comes from the reader of p's current connection.
		peers[p] = p.conn.Load()
		return
	}
	delete(peers, p)
	if peers != nil && len(peers) == 0 {
		delete(r.joined, string(cmd.Data))
	}
}

// intercept drops every message a DISH sends.
func (r *radioRule) intercept(p *pipe, msg [][]byte) bool { return true }

// send is Socket.Send on a RADIO: one frame, sent with the empty group.
func (r *radioRule) send(ctx context.Context, msg [][]byte, nonblock bool) error {
	if len(msg) != 1 {
		return ErrMultipart
	}
	return r.deliver(ctx, [][]byte{{}, msg[0]}, nonblock)
}

// deliver sends m, the group and the body, to the peers that joined the
// group and to every udp destination.
func (r *radioRule) deliver(ctx context.Context, m [][]byte, nonblock bool) error {
	r.mu.RLock()
	for p, c := range r.joined[string(m[0])] {
		// Joins made on an earlier connection, or on none (inproc), hold
		// on the current one only.
		if p.conn.Load() == c {
			r.targets = append(r.targets, p)
		}
	}
	r.targets = append(r.targets, r.all...)
	r.mu.RUnlock()
	err := distribute(ctx, r.s, r.targets, m, r.s.options().XPubNoDrop, nonblock)
	clear(r.targets)
	r.targets = r.targets[:0]
	return err
}

// topics counts the groups peers joined (once each) and their octets.
func (r *radioRule) topics() (n, octets int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for g := range r.joined {
		n, octets = n+1, octets+len(g)
	}
	return n, octets
}

func (r *radioRule) recv(context.Context, bool) ([][]byte, *pipe, error) {
	return nil, nil, ErrNotSupported
}

func (r *radioRule) readyToRecv() bool { return false }
func (r *radioRule) readyToSend() bool {
	return !r.s.options().XPubNoDrop || r.s.anyRoom(true)
}

// dishRule is DISH (RFC 48): messages from every RADIO, fair-queued, of
// the groups joined; each peer is told the groups (JOIN, LEAVE) so that a
// RADIO over ZMTP sends only those, and the DISH filters too (a udp RADIO
// sends everything). A peer that sends anything but a group frame and a
// body is cut off with a protocol error, as libzmq does.
type dishRule struct {
	noSubscriptions
	admitAll
	s  *Socket
	fq fairQueue

	// mu orders group changes and their sending; nothing done under it
	// waits (commands are queued beside the HWM).
	mu     sync.RWMutex
	groups map[string]struct{}
}

func newDishRule(s *Socket) *dishRule {
	return &dishRule{s: s, groups: map[string]struct{}{}}
}

func (r *dishRule) attached(p *pipe)                     {}
func (r *dishRule) detached(p *pipe)                     {}
func (r *dishRule) onCommand(p *pipe, cmd frame.Command) {}

// connected sends the peer a JOIN for every group; from then on change
// sends it each JOIN and LEAVE (not before: it would be sent twice).
func (r *dishRule) connected(p *pipe, c *Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p.subsSent = c
	for g := range r.groups {
		sendGroupCommand(p, c, frame.CmdJoin, g)
	}
}

// sendGroupCommand sends a JOIN or LEAVE on connection c of p (a command
// to ZMTP 3.0 peers too, as libzmq sends it), without waiting.
func sendGroupCommand(p *pipe, c *Conn, name, group string) {
	cmd := frame.Command{Name: name, Data: []byte(group)}
	switch {
	case p.twin != nil:
		p.twin.s.rule.onCommand(p.twin, cmd)
	case c != nil:
		c.queueCommand(cmd)
	}
}

// intercept cuts off a peer whose message is not a group frame and a
// body: it is not a RADIO.
func (r *dishRule) intercept(p *pipe, msg [][]byte) bool {
	if _, _, err := frame.ParseGroupMessage(msg); err != nil {
		if c := p.conn.Load(); c != nil {
			c.fail(err)
		}
		return true
	}
	return false
}

func (r *dishRule) send(context.Context, [][]byte, bool) error { return ErrNotSupported }

// topics counts the groups joined and their octets.
func (r *dishRule) topics() (n, octets int) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for g := range r.groups {
		n, octets = n+1, octets+len(g)
	}
	return n, octets
}

// member reports whether a received message's group is joined.
func (r *dishRule) member(m [][]byte) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.groups[string(m[0])]
	return ok
}

func (r *dishRule) recv(ctx context.Context, nonblock bool) ([][]byte, *pipe, error) {
	return r.fq.recv(ctx, r.s, nonblock, func(_ *pipe, m [][]byte) bool { return r.member(m) })
}

func (r *dishRule) readyToRecv() bool { return r.s.anyQueued(r.member) }
func (r *dishRule) readyToSend() bool { return false }

// change joins (on) or leaves a group and tells every connected peer.
func (r *dishRule) change(group string, on bool) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, joined := r.groups[group]
	switch {
	case on && joined:
		return fmt.Errorf("%w: %q is already joined", ErrInvalidGroup, group)
	case !on && !joined:
		return fmt.Errorf("%w: %q is not joined", ErrInvalidGroup, group)
	case on:
		r.groups[group] = struct{}{}
	default:
		delete(r.groups, group)
	}
	name := frame.CmdLeave
	if on {
		name = frame.CmdJoin
	}
	for _, p := range r.s.snapshot() {
		if c := p.conn.Load(); p.twin != nil || c != nil && p.subsSent == c {
			sendGroupCommand(p, c, name, group)
		}
	}
	return nil
}

// Join makes a DISH receive the messages of group: at most 255 octets,
// none of them zero (RFC 48). Joining a group already joined is an error
// matching ErrInvalidGroup, as in libzmq. Every RADIO connected over ZMTP
// is told at once (a JOIN command); it never waits. Safe for concurrent
// use; ErrNotSupported on other socket types.
func (s *Socket) Join(group string) error {
	r, ok := s.rule.(*dishRule)
	if !ok {
		return ErrNotSupported
	}
	return r.change(group, true)
}

// Leave undoes a Join: messages of group still queued are no longer
// received. Leaving a group not joined is an error matching
// ErrInvalidGroup.
func (s *Socket) Leave(group string) error {
	r, ok := s.rule.(*dishRule)
	if !ok {
		return ErrNotSupported
	}
	return r.change(group, false)
}

// SendGroup sends body to the DISHes that joined group, on a RADIO. It
// never blocks unless XPubNoDrop is set: a DISH whose queue is full
// misses the message (counted in Dropped). The group must be at most 255
// octets without a zero octet (else an error matching ErrInvalidGroup).
// The socket takes ownership of body. Send on a RADIO sends one frame
// with the empty group; a message of several frames is refused with
// ErrMultipart. ErrNotSupported on other socket types.
func (s *Socket) SendGroup(ctx context.Context, group string, body []byte) error {
	return s.sendGroup(ctx, group, body, false)
}

// TrySendGroup is SendGroup that returns ErrWouldBlock instead of
// blocking.
func (s *Socket) TrySendGroup(group string, body []byte) error {
	return s.sendGroup(context.Background(), group, body, true)
}

// sendMessage sends a received message on: a RADIO sends it with its
// group (a DISH's message keeps its group through a Proxy, as libzmq's
// messages carry theirs), other types send its frames.
func (s *Socket) sendMessage(ctx context.Context, m Message) error {
	if _, ok := s.rule.(*radioRule); ok && len(m.Frames) == 1 {
		return s.SendGroup(ctx, m.Group, m.Frames[0])
	}
	return s.Send(ctx, m.Frames)
}

func (s *Socket) sendGroup(ctx context.Context, group string, body []byte, nonblock bool) error {
	r, ok := s.rule.(*radioRule)
	if !ok {
		return ErrNotSupported
	}
	if err := checkGroup(group); err != nil {
		return err
	}
	if nonblock {
		if !s.sendMu.TryLock() {
			return ErrWouldBlock
		}
	} else {
		s.sendMu.Lock()
	}
	defer s.sendMu.Unlock()
	if s.isClosed() {
		return ErrClosed
	}
	if body == nil {
		body = []byte{}
	}
	return r.deliver(ctx, [][]byte{[]byte(group), body}, nonblock)
}
