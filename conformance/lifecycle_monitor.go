package conformance

// What a ROUTER's monitor reports about a peer whose id is taken.

import (
	"context"
	"fmt"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/zmtp"
)

// monitorWait bounds the wait for an event that should come within
// milliseconds, so that a case that fails does not use up its time.
const monitorWait = 5 * time.Second

// routerDuplicateHandshake: two libzmq DEALERs with the same routing id
// connect to the ROUTER (ours, or libzmq's for reference), the second
// once the first has completed its handshake. The second one's handshake
// completes too (its own monitor says so), and the ROUTER's monitor
// reports HANDSHAKE_SUCCEEDED for it, as libzmq's does: the peer is
// connected, only not routable.
func routerDuplicateHandshake(ctx context.Context, c *sockCase, role string) error {
	const id = "dup"
	var (
		ep   string
		wait func(ctx context.Context, which string) error
	)
	if role == RoleLibzmq {
		_, mon, bound, err := c.theirRouter()
		if err != nil {
			return err
		}
		ep = bound
		wait = func(ctx context.Context, which string) error {
			if _, err := mon.WaitFor(ctx, zmq.EVENT_HANDSHAKE_SUCCEEDED); err != nil {
				return fmt.Errorf("libzmq's ROUTER, the %s DEALER's handshake: %w", which, err)
			}
			return nil
		}
	} else {
		o, bound, err := c.ourRouter()
		if err != nil {
			return err
		}
		ep = bound
		wait = func(ctx context.Context, which string) error {
			if _, err := o.waitEvent(ctx, zmtp.EventHandshakeSucceeded); err != nil {
				return fmt.Errorf("our ROUTER, the %s DEALER's handshake: %w", which, err)
			}
			return nil
		}
	}
	_, d2, mon2, err := dupDealers(c, id, ep)
	if err != nil {
		return err
	}
	if err := wait(ctx, "first"); err != nil {
		return err
	}
	if err := connectSecond(ctx, d2, mon2, ep); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, monitorWait)
	defer cancel()
	return wait(wctx, "second")
}
