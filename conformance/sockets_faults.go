package conformance

// Fault scenarios at the socket level: a libzmq peer restarted, slow
// receivers and high-water marks, dead endpoints, Close with a linger.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/conformance/libzmq"
	"github.com/zmtp-go/zmtp/zmtp"
)

// rebindTheirs binds z to ep, retrying while the address is still taken.
func rebindTheirs(ctx context.Context, z *libzmq.Socket, ep string) error {
	var err error
	if perr := poll(ctx, libzmq.Step/2, "binding "+ep+" again", func() bool {
		_, err = bindTheirs(z, ep)
		return err == nil
	}); perr != nil {
		return fmt.Errorf("%w (last: %v)", perr, err)
	}
	return nil
}

// theirRebound makes a libzmq socket as their does and binds it to ep
// with rebindTheirs.
func (c *sockCase) theirRebound(ctx context.Context, typ string, prep func(*zmq.Socket) error, ep string) (*libzmq.Socket, error) {
	z, err := c.their(typ, prep)
	if err != nil {
		return nil, err
	}
	if err := rebindTheirs(ctx, z, ep); err != nil {
		return nil, err
	}
	return z, nil
}

// subReconnects (RC-01): our SUB connects to a libzmq PUB, which is closed
// and replaced by a new one on the same endpoint. We reconnect and send
// our subscription again with no action by the application: the new
// publisher's "a" messages reach us, its "b" ones do not.
func subReconnects(ctx context.Context, c *sockCase, role string) error {
	pub, ep, err := c.theirBound("PUB", nil)
	if err != nil {
		return err
	}
	o, err := c.our(zmtp.Sub, zmtp.Options{})
	if err != nil {
		return err
	}
	if err := o.Subscribe([]byte("a")); err != nil {
		return err
	}
	if err := o.connectTo(ctx, ep, pub); err != nil {
		return err
	}
	if err := probeFromTheirs(ctx, pub, o, "a-first"); err != nil {
		return err
	}
	if err := pub.Close(); err != nil {
		return err
	}
	if _, err := o.waitEvent(ctx, zmtp.EventDisconnected); err != nil {
		return err
	}
	pub2, err := c.theirRebound(ctx, "PUB", nil, ep)
	if err != nil {
		return err
	}
	if _, err := o.waitEvent(ctx, zmtp.EventHandshakeSucceeded, pub2); err != nil {
		return fmt.Errorf("reconnecting: %w", err)
	}
	if err := probeFromTheirs(ctx, pub2, o, "a-second"); err != nil {
		return fmt.Errorf("after the restart: %w", err)
	}
	if err := sendTheirsSock(ctx, pub2, sockMsg("b-x"), sockMsg("a-final", "x")); err != nil {
		return err
	}
	return expectOursSock(ctx, o, pub2, "PUB", sockPrefix("a-first", "a-second"), sockMsg("a-final", "x"))
}

// dealerReconnects (RC-01): our DEALER talks to a libzmq ROUTER that is
// replaced by a new one on the same endpoint; a message sent while it is
// down waits in our queue and is delivered to the new one, which can
// reply to our routing id.
func dealerReconnects(ctx context.Context, c *sockCase, role string) error {
	const id = "our-dealer"
	mandatory := func(s *zmq.Socket) error { return s.SetRouterMandatory(1) }
	r1, ep, err := c.theirBound("ROUTER", mandatory)
	if err != nil {
		return err
	}
	o, err := c.our(zmtp.Dealer, zmtp.Options{RoutingID: []byte(id)})
	if err != nil {
		return err
	}
	if err := o.connectTo(ctx, ep, r1); err != nil {
		return err
	}
	if err := sendOursSock(ctx, o, sockMsg("before")); err != nil {
		return err
	}
	if err := expectTheirsSock(ctx, r1, nil, sockMsg(id, "before")); err != nil {
		return err
	}
	if err := routerSendTheirs(ctx, r1, sockMsg(id, "reply before")); err != nil {
		return err
	}
	if err := expectOursSock(ctx, o, r1, "ROUTER", nil, sockMsg("reply before")); err != nil {
		return err
	}
	if err := r1.Close(); err != nil {
		return err
	}
	if _, err := o.waitEvent(ctx, zmtp.EventDisconnected); err != nil {
		return err
	}
	if err := sendOursSock(ctx, o, sockMsg("while down")); err != nil {
		return err
	}
	r2, err := c.theirRebound(ctx, "ROUTER", mandatory, ep)
	if err != nil {
		return err
	}
	if err := expectTheirsSock(ctx, r2, nil, sockMsg(id, "while down")); err != nil {
		return fmt.Errorf("after the restart: %w", err)
	}
	if err := routerSendTheirs(ctx, r2, sockMsg(id, "reply after")); err != nil {
		return err
	}
	return expectOursSock(ctx, o, r2, "ROUTER", nil, sockMsg("reply after"))
}

// seq is a message's sequence number.
func seq(i int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(i)) }

// hwmPayload is large, so that the kernel's buffers fill after a few
// dozen messages.
var hwmPayload = pattern(64<<10, 9)

func smallQueue(s *zmq.Socket) error {
	if err := s.SetRcvhwm(4); err != nil {
		return err
	}
	return s.SetRcvbuf(4096)
}

// pushHWM (RX-02): a libzmq PULL with small queues that does not read. Our
// PUSH with SendHWM 4 fills up: TrySend returns ErrWouldBlock and Send
// blocks until its context ends. Then the PULL reads every message sent,
// in order: nothing was lost.
func pushHWM(ctx context.Context, c *sockCase, role string) error {
	o, z, err := c.linked(ctx, role, zmtp.Push, zmtp.Options{SendHWM: zmtp.HWMOf(4)}, "PULL", smallQueue)
	if err != nil {
		return err
	}
	const most = 10000
	sent := 0
	for {
		err := o.TrySend([][]byte{seq(sent), hwmPayload})
		if errors.Is(err, zmtp.ErrWouldBlock) {
			break
		}
		if err != nil {
			return fmt.Errorf("TrySend %d: %w", sent, err)
		}
		if sent++; sent > most {
			return fmt.Errorf("TrySend never returned ErrWouldBlock in %d messages of %d octets", most, len(hwmPayload))
		}
		sockPoke(z)
	}
	// The writer may still be making room; Send must end up blocked.
	for {
		sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		err := o.Send(sctx, [][]byte{seq(sent), hwmPayload})
		cancel()
		if err == nil {
			if sent++; sent > most {
				return fmt.Errorf("Send never blocked in %d messages", most)
			}
			continue
		}
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			break
		}
		return fmt.Errorf("blocked Send: %v, want context.DeadlineExceeded", err)
	}
	for i := range sent {
		m, err := z.Recv(ctx)
		if err != nil {
			return fmt.Errorf("libzmq PULL after %d of %d: %w", i, sent, err)
		}
		if len(m) != 2 || !bytes.Equal(m[0], seq(i)) || !bytes.Equal(m[1], hwmPayload) {
			return fmt.Errorf("libzmq PULL: message %d of %d is %d frames, first %x", i, sent, len(m), m[0])
		}
	}
	if m, err := z.TryRecv(); err == nil {
		return fmt.Errorf("libzmq PULL got an extra message, first frame %x (the blocked Send was delivered)", m[0])
	}
	return nil
}

// pubHWM: a libzmq SUB with small queues that does not read. Our PUB with
// SendHWM 4 never blocks: once the queue is full, messages are dropped and
// counted in Dropped. The SUB then receives exactly the ones not dropped,
// in order.
func pubHWM(ctx context.Context, c *sockCase, role string) error {
	o, z, err := c.linked(ctx, role, zmtp.Pub, zmtp.Options{SendHWM: zmtp.HWMOf(4)}, "SUB", func(s *zmq.Socket) error {
		if err := smallQueue(s); err != nil {
			return err
		}
		return s.SetSubscribe("")
	})
	if err != nil {
		return err
	}
	if err := probeFromOurs(ctx, o, z, "probe"); err != nil {
		return err
	}
	const most = 10000
	before := o.Dropped()
	sent := 0
	for o.Dropped() == before {
		if err := o.Send(ctx, [][]byte{seq(sent), hwmPayload}); err != nil {
			return fmt.Errorf("our PUB Send %d: %w", sent, err)
		}
		if sent++; sent > most {
			return fmt.Errorf("no message dropped in %d of %d octets", most, len(hwmPayload))
		}
	}
	for range 10 {
		if err := o.TrySend([][]byte{seq(sent), hwmPayload}); err != nil {
			return fmt.Errorf("our PUB TrySend when full: %v, want nil (dropped)", err)
		}
		sent++
	}
	dropped := int(o.Dropped() - before)
	want := sent - dropped
	last := -1
	for n := 0; n < want; {
		m, err := z.Recv(ctx)
		if err != nil {
			return fmt.Errorf("libzmq SUB after %d of the %d not dropped (%d sent): %w", n, want, sent, err)
		}
		if string(m[0]) == "probe" {
			continue
		}
		if len(m) != 2 || len(m[0]) != 8 {
			return fmt.Errorf("libzmq SUB got %s", sockString(m))
		}
		i := int(binary.BigEndian.Uint64(m[0]))
		if i <= last || i >= sent {
			return fmt.Errorf("libzmq SUB got message %d after %d (%d sent)", i, last, sent)
		}
		last = i
		n++
	}
	if m, err := z.TryRecv(); err == nil {
		return fmt.Errorf("libzmq SUB got more than the %d messages not dropped: %s", want, sockString(m[:1]))
	}
	return nil
}

// recvSeqs gathers the n messages numbered from first from the PULL
// sockets, polling each in turn, and returns how many each received. Each
// must arrive exactly once.
func recvSeqs(ctx context.Context, n int, first int, pulls ...*libzmq.Socket) ([]int, error) {
	counts := make([]int, len(pulls))
	seen := map[int]bool{}
	for len(seen) < n {
		for k, z := range pulls {
			m, err := z.TryRecv()
			if libzmq.IsAgain(err) {
				continue
			}
			if err != nil {
				return counts, err
			}
			i := int(binary.BigEndian.Uint64(m[0]))
			if i < first || i >= first+n || seen[i] {
				return counts, fmt.Errorf("PULL %d got message %d (want each of %d..%d once)", k, i, first, first+n-1)
			}
			seen[i] = true
			counts[k]++
		}
		if ctx.Err() != nil {
			return counts, fmt.Errorf("got %d of %d messages (%v per PULL): %w", len(seen), n, counts, ctx.Err())
		}
	}
	// Nothing more, in particular no duplicate.
	for k, z := range pulls {
		if m, err := z.TryRecv(); err == nil {
			return counts, fmt.Errorf("PULL %d got an extra message %x", k, m[0])
		}
	}
	return counts, nil
}

func sendSeqs(ctx context.Context, o *ourSock, first, n int) error {
	for i := first; i < first+n; i++ {
		if err := o.Send(ctx, [][]byte{seq(i)}); err != nil {
			return fmt.Errorf("our %s Send %d: %w", o.Type(), i, err)
		}
	}
	return nil
}

// immediateOff (RC-05, test_immediate_1): without Immediate, a connecting
// PUSH queues messages for an endpoint that is not there yet, in turn with
// the live one; they are delivered, once each, when it comes up.
func immediateOff(ctx context.Context, c *sockCase, role string) error {
	live, lep, err := c.theirBound("PULL", nil)
	if err != nil {
		return err
	}
	dead, err := c.deadEndpoint()
	if err != nil {
		return err
	}
	o, err := c.our(zmtp.Push, zmtp.Options{})
	if err != nil {
		return err
	}
	for _, ep := range []string{lep, dead} {
		if err := o.Connect(ep); err != nil {
			return err
		}
	}
	if _, err := o.waitEvent(ctx, zmtp.EventHandshakeSucceeded, live); err != nil {
		return err
	}
	const n = 10
	if err := sendSeqs(ctx, o, 0, n); err != nil {
		return err
	}
	late, err := c.theirRebound(ctx, "PULL", nil, dead)
	if err != nil {
		return err
	}
	counts, err := recvSeqs(ctx, n, 0, live, late)
	if err != nil {
		return err
	}
	if counts[0] != n/2 || counts[1] != n/2 {
		return fmt.Errorf("live and late PULLs got %v of %d messages, want them shared round-robin", counts, n)
	}
	return nil
}

// immediateOn (RC-05, test_immediate_2/3): with Immediate, a PUSH whose
// only endpoint is dead cannot send; once a live one is up, everything
// goes there; when the dead one comes up, both share, with no duplicate.
func immediateOn(ctx context.Context, c *sockCase, role string) error {
	dead, err := c.deadEndpoint()
	if err != nil {
		return err
	}
	o, err := c.our(zmtp.Push, zmtp.Options{Immediate: true})
	if err != nil {
		return err
	}
	if err := o.Connect(dead); err != nil {
		return err
	}
	if err := o.TrySend([][]byte{seq(-1)}); !errors.Is(err, zmtp.ErrWouldBlock) {
		return fmt.Errorf("TrySend with no connected peer: %v, want ErrWouldBlock", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err = o.Send(sctx, [][]byte{seq(-1)})
	cancel()
	if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("Send with no connected peer: %v, want context.DeadlineExceeded", err)
	}
	live, lep, err := c.theirBound("PULL", nil)
	if err != nil {
		return err
	}
	if err := o.connectTo(ctx, lep, live); err != nil {
		return err
	}
	const n = 10
	if err := sendSeqs(ctx, o, 0, n); err != nil {
		return err
	}
	if _, err := recvSeqs(ctx, n, 0, live); err != nil {
		return err
	}
	late, err := c.theirRebound(ctx, "PULL", nil, dead)
	if err != nil {
		return err
	}
	if _, err := o.waitEvent(ctx, zmtp.EventHandshakeSucceeded, late); err != nil {
		return err
	}
	if err := sendSeqs(ctx, o, n, n); err != nil {
		return err
	}
	counts, err := recvSeqs(ctx, n, n, live, late)
	if err != nil {
		return err
	}
	if counts[0] == 0 || counts[1] == 0 {
		return fmt.Errorf("live and late PULLs got %v of %d messages, want them shared", counts, n)
	}
	return nil
}

// pushCloseFlushes: Close with a Linger delivers what is queued before
// returning; a libzmq PULL then reads all of it.
func pushCloseFlushes(ctx context.Context, c *sockCase, role string) error {
	o, z, err := c.linked(ctx, role, zmtp.Push, zmtp.Options{Linger: zmtp.DurationOf(2 * time.Second)}, "PULL", nil)
	if err != nil {
		return err
	}
	const n = 500
	body := pattern(1000, 3)
	for i := range n {
		if err := o.Send(ctx, [][]byte{seq(i), body}); err != nil {
			return fmt.Errorf("our PUSH Send %d: %w", i, err)
		}
	}
	if err := o.Close(); err != nil {
		return err
	}
	for i := range n {
		m, err := z.Recv(ctx)
		if err != nil {
			return fmt.Errorf("libzmq PULL after %d of %d sent before Close: %w", i, n, err)
		}
		if len(m) != 2 || !bytes.Equal(m[0], seq(i)) || !bytes.Equal(m[1], body) {
			return fmt.Errorf("libzmq PULL: message %d is %s", i, sockString(m))
		}
	}
	return nil
}
