package conformance

// Routing ids: ids that start with a zero octet, a second peer with an id
// already taken, and ROUTERs that bind and connect to each other.

import (
	"context"
	"errors"
	"fmt"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/conformance/libzmq"
	"github.com/zmtp-go/zmtp/zmtp"
)

// zeroID is a routing id that starts with a zero octet, which libzmq 4.3
// accepts from peers and in ZMQ_ROUTING_ID.
const zeroID = "\x00\xffbin"

func withID(id string) func(*zmq.Socket) error {
	return func(s *zmq.Socket) error { return s.SetIdentity(id) }
}

// theirRouter makes a libzmq ROUTER with ZMQ_ROUTER_MANDATORY, monitored,
// and binds it.
func (c *sockCase) theirRouter() (z *libzmq.Socket, mon *libzmq.Monitor, ep string, err error) {
	if z, err = c.their("ROUTER", mandatory); err != nil {
		return nil, nil, "", err
	}
	if mon, err = z.Monitor(zmq.EVENT_ALL); err != nil {
		return nil, nil, "", err
	}
	if ep, err = bindTheirs(z, c.endpoint()); err != nil {
		return nil, nil, "", err
	}
	return z, mon, ep, nil
}

// ourRouter makes our ROUTER with RouterMandatory and binds it.
func (c *sockCase) ourRouter() (*ourSock, string, error) {
	o, err := c.our(zmtp.Router, zmtp.Options{RouterMandatory: true})
	if err != nil {
		return nil, "", err
	}
	if err := o.Bind(c.endpoint()); err != nil {
		return nil, "", err
	}
	return o, o.LastEndpoint(), nil
}

// dupDealers makes two libzmq DEALERs with routing id id, d2 monitored,
// and connects d1 to ep.
func dupDealers(c *sockCase, id, ep string) (d1, d2 *libzmq.Socket, mon2 *libzmq.Monitor, err error) {
	if d1, err = c.their("DEALER", withID(id)); err != nil {
		return nil, nil, nil, err
	}
	if d2, err = c.their("DEALER", withID(id)); err != nil {
		return nil, nil, nil, err
	}
	if mon2, err = d2.Monitor(zmq.EVENT_ALL); err != nil {
		return nil, nil, nil, err
	}
	if err := d1.Z.Connect(ep); err != nil {
		return nil, nil, nil, err
	}
	return d1, d2, mon2, nil
}

// connectSecond connects d2, the second of dupDealers, to ep and waits
// for its handshake.
func connectSecond(ctx context.Context, d2 *libzmq.Socket, mon2 *libzmq.Monitor, ep string) error {
	if err := d2.Z.Connect(ep); err != nil {
		return err
	}
	if _, err := mon2.WaitFor(ctx, zmq.EVENT_HANDSHAKE_SUCCEEDED); err != nil {
		return fmt.Errorf("second DEALER: %w", err)
	}
	return nil
}

func mandatory(s *zmq.Socket) error { return s.SetRouterMandatory(1) }

// zeroIDLibzmq is the reference of the zero-id cases: libzmq's DEALER d,
// with routing id zeroID, connects to libzmq's ROUTER r at ep; r receives
// d's message under that id and its reply to that id reaches d.
func zeroIDLibzmq(ctx context.Context, d, r *libzmq.Socket, ep string) error {
	hello, reply := sockMsg("hello"), sockMsg("reply")
	if err := d.Z.Connect(ep); err != nil {
		return err
	}
	if err := sendTheirsSock(ctx, d, hello); err != nil {
		return err
	}
	if err := expectTheirsSock(ctx, r, nil, append(sockMsg(zeroID), hello...)); err != nil {
		return err
	}
	if err := routerSendTheirs(ctx, r, append(sockMsg(zeroID), reply...)); err != nil {
		return err
	}
	return expectTheirsSock(ctx, d, nil, reply)
}

// routerZeroID (2): a libzmq DEALER with routing id 00 FF "bin" connects
// to the ROUTER (ours, or libzmq's for reference): the ROUTER receives
// its message under that id, and the reply sent to that id reaches the
// DEALER.
func routerZeroID(ctx context.Context, c *sockCase, role string) error {
	d, err := c.their("DEALER", withID(zeroID))
	if err != nil {
		return err
	}
	hello, reply := sockMsg("hello"), sockMsg("reply")
	if role == RoleLibzmq {
		r, ep, err := c.theirBound("ROUTER", mandatory)
		if err != nil {
			return err
		}
		return zeroIDLibzmq(ctx, d, r, ep)
	}
	o, err := c.our(zmtp.Router, zmtp.Options{RouterMandatory: true})
	if err != nil {
		return err
	}
	if _, err := c.link(ctx, WeBind, o, d); err != nil {
		return err
	}
	if err := sendTheirsSock(ctx, d, hello); err != nil {
		return err
	}
	if err := expectOursSock(ctx, o, d, "DEALER", nil, append(sockMsg(zeroID), hello...)); err != nil {
		return err
	}
	if err := routerSendOurs(ctx, o, append(sockMsg(zeroID), reply...)); err != nil {
		return err
	}
	return expectTheirsSock(ctx, d, nil, reply)
}

// dealerZeroID (2): a DEALER (ours, or libzmq's for reference) with
// routing id 00 FF "bin" connects to a libzmq ROUTER: the ROUTER receives
// its message under that id and its reply to that id reaches the DEALER.
func dealerZeroID(ctx context.Context, c *sockCase, role string) error {
	r, ep, err := c.theirBound("ROUTER", mandatory)
	if err != nil {
		return err
	}
	hello, reply := sockMsg("hello"), sockMsg("reply")
	if role == RoleLibzmq {
		d, err := c.their("DEALER", withID(zeroID))
		if err != nil {
			return err
		}
		return zeroIDLibzmq(ctx, d, r, ep)
	}
	o, err := c.our(zmtp.Dealer, zmtp.Options{RoutingID: []byte(zeroID)})
	if err != nil {
		return err
	}
	if err := o.Connect(ep); err != nil {
		return err
	}
	if err := sendOursSock(ctx, o, hello); err != nil {
		return err
	}
	if err := expectTheirsSock(ctx, r, nil, append(sockMsg(zeroID), hello...)); err != nil {
		return err
	}
	if err := routerSendTheirs(ctx, r, append(sockMsg(zeroID), reply...)); err != nil {
		return err
	}
	return expectOursSock(ctx, o, r, "ROUTER", nil, reply)
}

// lifeQuiet is how long a scenario watches for something that must not
// happen: several reconnect intervals (100 ms by default on both sides).
const lifeQuiet = 500 * time.Millisecond

// dupRouter is the ROUTER of the duplicate-id scenario: ours or libzmq's.
type dupRouter struct {
	o    *ourSock
	z    *libzmq.Socket
	zmon *libzmq.Monitor
}

func (r *dupRouter) send(ctx context.Context, msg [][]byte) error {
	if r.o != nil {
		return routerSendOurs(ctx, r.o, msg)
	}
	return routerSendTheirs(ctx, r.z, msg)
}

// trySend sends once and reports whether the id was routable.
func (r *dupRouter) trySend(ctx context.Context, msg [][]byte) (bool, error) {
	var err error
	if r.o != nil {
		err = r.o.Send(ctx, sockClone(msg))
		if errors.Is(err, zmtp.ErrHostUnreachable) {
			return false, nil
		}
	} else {
		err = r.z.Send(ctx, msg)
		if isHostUnreachable(err) {
			return false, nil
		}
	}
	return err == nil, err
}

// tryRecv returns a message the ROUTER has, waiting about libzmq.Step.
func (r *dupRouter) tryRecv(ctx context.Context, poke ...*libzmq.Socket) ([][]byte, bool, error) {
	if r.o != nil {
		m, ok, err := tryOurs(ctx, r.o, poke...)
		return m.Frames, ok, err
	}
	sockPoke(poke...)
	m, err := r.z.TryRecv()
	if libzmq.IsAgain(err) {
		return nil, false, nil
	}
	return m, err == nil, err
}

// disconnected waits until the ROUTER reports a connection closed.
func (r *dupRouter) disconnected(ctx context.Context, poke ...*libzmq.Socket) error {
	if r.o != nil {
		_, err := r.o.waitEvent(ctx, zmtp.EventDisconnected, poke...)
		return err
	}
	_, err := r.zmon.WaitFor(ctx, zmq.EVENT_DISCONNECTED)
	return err
}

// noDisconnect checks that the ROUTER has reported no closed connection
// so far.
func (r *dupRouter) noDisconnect() error {
	if r.o != nil {
		for {
			select {
			case ev := <-r.o.events:
				if ev.Type == zmtp.EventDisconnected {
					return fmt.Errorf("our ROUTER reported %v", ev)
				}
			default:
				return nil
			}
		}
	}
	if _, err := r.zmon.Poll(); err != nil {
		return err
	}
	if n := r.zmon.Count(zmq.EVENT_DISCONNECTED); n > 0 {
		return fmt.Errorf("libzmq's ROUTER reported a disconnection: %v", r.zmon.Seen())
	}
	return nil
}

// routerDuplicateWaits (3): two libzmq DEALERs with the same routing id
// connect to the ROUTER, the second once the first is routable. The first
// keeps the id: it gets everything sent to it. The second stays connected
// (its monitor shows one connection and no disconnection over several
// reconnect intervals, and the ROUTER reports no disconnection) and is
// not routable.
//
// Then the first leaves. Ours: the waiting DEALER takes the id at once,
// and a message to it reaches the second DEALER. libzmq 4.3.4 (the
// reference) keeps that connection and never reads it while the id is
// taken; after the first left it looks at the waiting peer again only
// when that peer sends something, so when it takes the id is a matter of
// timing there.
func routerDuplicateWaits(ctx context.Context, c *sockCase, role string) error {
	const id = "dup"
	r := &dupRouter{}
	var ep string
	if role == RoleLibzmq {
		var err error
		if r.z, r.zmon, ep, err = c.theirRouter(); err != nil {
			return err
		}
	} else {
		o, bound, err := c.ourRouter()
		if err != nil {
			return err
		}
		ep = bound
		r.o = o
	}
	d1, d2, mon2, err := dupDealers(c, id, ep)
	if err != nil {
		return err
	}
	if err := r.send(ctx, sockMsg(id, "to the first")); err != nil {
		return err
	}
	if err := expectTheirsSock(ctx, d1, nil, sockMsg("to the first")); err != nil {
		return fmt.Errorf("first DEALER: %w", err)
	}
	if err := connectSecond(ctx, d2, mon2, ep); err != nil {
		return err
	}
	for i := range 3 {
		if err := r.send(ctx, sockMsg(id, fmt.Sprintf("while both %d", i))); err != nil {
			return err
		}
	}
	for i := range 3 {
		if err := expectTheirsSock(ctx, d1, nil, sockMsg(fmt.Sprintf("while both %d", i))); err != nil {
			return fmt.Errorf("first DEALER: %w", err)
		}
	}
	if role == RoleLibzmq {
		if err := sendTheirsSock(ctx, d2, sockMsg("from the second, early")); err != nil {
			return err
		}
	}
	// Watch the second DEALER for several reconnect intervals.
	qctx, cancel := context.WithTimeout(ctx, lifeQuiet)
	for {
		if _, err := mon2.Next(qctx); err != nil {
			break
		}
	}
	cancel()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := checkStayed(mon2); err != nil {
		return err
	}
	if err := r.noDisconnect(); err != nil {
		return err
	}
	if m, err := d2.TryRecv(); err == nil {
		return fmt.Errorf("second DEALER with the id taken got %s", sockString(m))
	}
	if err := d1.Close(); err != nil {
		return err
	}
	if err := r.disconnected(ctx, d2); err != nil {
		return fmt.Errorf("the first DEALER's leaving: %w", err)
	}
	if role == RoleOurs {
		if err := r.send(ctx, sockMsg(id, "to the second")); err != nil {
			return fmt.Errorf("after the first DEALER left: %w", err)
		}
		if err := expectTheirsSock(ctx, d2, nil, sockMsg("to the second")); err != nil {
			return fmt.Errorf("second DEALER after the first left: %w", err)
		}
		if err := sendTheirsSock(ctx, d2, sockMsg("from the second")); err != nil {
			return err
		}
		if err := expectOursSock(ctx, r.o, d2, "DEALER", nil, sockMsg(id, "from the second")); err != nil {
			return err
		}
		return checkStayed(mon2)
	}
	// libzmq: the waiting peer is looked at again only when it sends
	// something, and may then take the id (libzmq re-identifies a peer it
	// kept when its pipe becomes readable): whether a message it sends now
	// is delivered depends on that timing, so only the connection's
	// survival is pinned here.
	if err := sendTheirsSock(ctx, d2, sockMsg("from the second, late")); err != nil {
		return err
	}
	return checkStayed(mon2)
}

// checkStayed checks a libzmq DEALER's monitor: one connection, never
// closed.
func checkStayed(mon *libzmq.Monitor) error {
	if _, err := mon.Poll(); err != nil {
		return err
	}
	if n, d := mon.Count(zmq.EVENT_CONNECTED), mon.Count(zmq.EVENT_DISCONNECTED|zmq.EVENT_CLOSED); n != 1 || d != 0 {
		return fmt.Errorf("second DEALER: %d connections and %d closed, want 1 and 0 (events %v)", n, d, mon.Seen())
	}
	return nil
}
