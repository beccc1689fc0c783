package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/mechanism"
	"github.com/zmtp-go/zmtp/zmtp"
)

// ourMaxMessageSize: a message from libzmq larger than our MaxMessageSize
// (all frames together) ends the connection; what came before is
// delivered.
func ourMaxMessageSize(ctx context.Context, role string) (err error) {
	const limit = 1000
	cfg := config(mechanism.Pull)
	cfg.MaxMessageSize = limit
	f, err := start(ctx, role, setup{zmqType: "PUSH", cfg: cfg})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	fits := [][]byte{pattern(limit/2, 1), pattern(limit/2, 2)}
	if err := sendTheirs(ctx, f, [][][]byte{fits, {pattern(limit/2, 3), pattern(limit/2+1, 4)}}); err != nil {
		return err
	}
	if err := expectOurs(ctx, f.conn, [][][]byte{fits}); err != nil {
		return err
	}
	msg, err := f.conn.Recv(ctx)
	if err == nil {
		return fmt.Errorf("received a message of %v octets, over the limit of %d", sizes(msg), limit)
	}
	if !errors.Is(err, zmtp.ErrMessageTooLarge) {
		return fmt.Errorf("our receive: %w, want ErrMessageTooLarge", err)
	}
	_, err = f.mon.WaitFor(ctx, zmq.EVENT_DISCONNECTED)
	return err
}

// libzmqMaxMessageSize: a frame larger than libzmq's ZMQ_MAXMSGSIZE makes
// libzmq drop the connection, which we notice; libzmq delivers what came
// before and not the large message.
func libzmqMaxMessageSize(ctx context.Context, role string) (err error) {
	const limit = 1000
	f, err := start(ctx, role, setup{
		zmqType: "PULL", cfg: config(mechanism.Push),
		prep: func(s *zmq.Socket) error { return s.SetMaxmsgsize(limit) },
	})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	fits := [][]byte{pattern(limit, 1)}
	if err := sendOurs(ctx, f.conn, [][][]byte{fits, {pattern(limit+1, 2)}}); err != nil {
		return err
	}
	if err := expectTheirs(ctx, f, [][][]byte{fits}); err != nil {
		return err
	}
	select {
	case <-f.conn.Done():
	case <-ctx.Done():
		return fmt.Errorf("our connection is still up after libzmq's limit was exceeded: %w", ctx.Err())
	}
	var te *zmtp.TimeoutError
	if cause := f.conn.Err(); cause == nil || errors.As(cause, &te) {
		return fmt.Errorf("our connection ended with %v, want an end of stream", cause)
	}
	if _, err := f.mon.WaitFor(ctx, zmq.EVENT_DISCONNECTED); err != nil {
		return err
	}
	if msg, err := f.zs.TryRecv(); err == nil {
		return fmt.Errorf("libzmq delivered %v octets", sizes(msg))
	}
	return nil
}

// closeFlushes: messages queued on our side when we Close are all
// written before the connection closes.
func closeFlushes(ctx context.Context, role string) (err error) {
	const n = 1000
	f, err := start(ctx, role, setup{zmqType: "PULL", cfg: config(mechanism.Push)})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := f.ourEnd().sendNumbered(ctx, n); err != nil {
		return err
	}
	if err := f.conn.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if err := f.conn.Err(); err != nil {
		return fmt.Errorf("after Close, Err() = %v, want nil", err)
	}
	return f.theirEnd().recvNumbered(ctx, n)
}

// libzmqCloses: when libzmq closes its socket (lingering so that what it
// queued goes out), we receive everything it sent, then Recv reports the
// end of the connection and Done fires.
func libzmqCloses(ctx context.Context, role string) (err error) {
	const n = 100
	f, err := start(ctx, role, setup{zmqType: "PUSH", cfg: config(mechanism.Pull)})
	defer finish(&err, f)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if err := f.theirEnd().sendNumbered(ctx, n); err != nil {
		return err
	}
	if err := f.zs.Z.SetLinger(5 * time.Second); err != nil {
		return err
	}
	if err := f.zs.Close(); err != nil {
		return err
	}
	if err := f.ourEnd().recvNumbered(ctx, n); err != nil {
		return err
	}
	msg, err := f.conn.Recv(ctx)
	switch {
	case err == nil:
		return fmt.Errorf("unexpected message %v", sizes(msg))
	case ctx.Err() != nil:
		return fmt.Errorf("our connection did not notice libzmq closing: %w", err)
	case !errors.Is(err, net.ErrClosed):
		return fmt.Errorf("our receive after libzmq closed: %v, want a ClosedError", err)
	case !errors.Is(err, io.EOF) && !isReset(err):
		return fmt.Errorf("our receive after libzmq closed: %v, want an end of stream", err)
	}
	select {
	case <-f.conn.Done():
	default:
		return errors.New("Done has not fired")
	}
	return nil
}
