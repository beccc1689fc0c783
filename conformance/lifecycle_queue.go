package conformance

// Queues at Close and without a high-water mark.

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/zmtp"
)

// closeAfterDelivery: a message the peer has received was delivered, so a
// Close after that has nothing to discard, whatever its Linger: our PUSH
// with NoLinger sends 4 messages, the libzmq PULL receives all 4, then
// Close must return nil and Discarded stay 0. Done over many sockets,
// since what could go wrong is a writer that has written a message but
// not yet counted it as written when Close looks.
func closeAfterDelivery(ctx context.Context, c *sockCase, role string) error {
	const rounds = 100
	for round := range rounds {
		o, err := c.our(zmtp.Push, zmtp.Options{})
		if err != nil {
			return err
		}
		z, err := c.their("PULL", nil)
		if err != nil {
			return err
		}
		if _, err := c.link(ctx, WeConnect, o, z); err != nil {
			return fmt.Errorf("round %d: %w", round, err)
		}
		if err := sendOursSock(ctx, o, pipelineMsgs...); err != nil {
			return fmt.Errorf("round %d: %w", round, err)
		}
		if err := expectTheirsSock(ctx, z, nil, pipelineMsgs...); err != nil {
			return fmt.Errorf("round %d: %w", round, err)
		}
		if err := o.Close(); err != nil {
			return fmt.Errorf("round %d: Close with NoLinger after libzmq received all %d messages: %v, want nil", round, len(pipelineMsgs), err)
		}
		if d := o.Discarded(); d != 0 {
			return fmt.Errorf("round %d: Discarded() = %d after libzmq received every message", round, d)
		}
		if err := z.Close(); err != nil {
			return err
		}
	}
	return nil
}

// hwmUnlimited (6): a libzmq PULL with ZMQ_RCVHWM 10 and a small kernel
// buffer does not read. A PUSH without high-water mark (ours with
// SendHWM Unlimited, libzmq's with ZMQ_SNDHWM 0) accepts 100,000 messages
// without waiting: every TrySend (zmq_send with ZMQ_DONTWAIT) succeeds.
// Far fewer would fill every buffer on the way with a limit. Then the PULL
// reads all of them, in order, and the PUSH closes with nothing lost.
func hwmUnlimited(ctx context.Context, c *sockCase, role string) error {
	const n = 100_000
	body := pattern(100, 5)
	pull, err := c.their("PULL", func(s *zmq.Socket) error {
		return errors.Join(s.SetRcvhwm(10), s.SetRcvbuf(4096))
	})
	if err != nil {
		return err
	}
	ep, err := bindTheirs(pull, c.endpoint())
	if err != nil {
		return err
	}
	p, err := newLingerPush(ctx, role, lingerDefault, zmtp.Options{SendHWM: zmtp.Unlimited},
		func(s *zmq.Socket) error { return s.SetSndhwm(0) })
	if err != nil {
		return err
	}
	defer p.release()
	if err := p.connect(ep); err != nil {
		return err
	}
	for i := range n {
		var err error
		if p.o != nil {
			err = p.o.TrySend([][]byte{seq(i), body})
		} else if _, err = p.z.Z.SendBytes(seq(i), zmq.DONTWAIT|zmq.SNDMORE); err == nil {
			_, err = p.z.Z.SendBytes(body, zmq.DONTWAIT)
		}
		if err != nil {
			return fmt.Errorf("%s PUSH without high-water mark: send %d of %d without waiting: %w", role, i, n, err)
		}
	}
	for i := range n {
		m, err := pull.Recv(ctx)
		if err != nil {
			return fmt.Errorf("libzmq PULL after %d of %d: %w", i, n, err)
		}
		if len(m) != 2 || !bytes.Equal(m[0], seq(i)) || !bytes.Equal(m[1], body) {
			return fmt.Errorf("libzmq PULL: message %d is %d frames, first %x", i, len(m), m[0])
		}
	}
	_, done := p.close(ctx)
	_, err = p.waitChecked(ctx, done)
	return err
}
