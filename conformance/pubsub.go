package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/conformance/libzmq"
	"github.com/zmtp-go/zmtp/frame"
	"github.com/zmtp-go/zmtp/mechanism"
)

// pubToSub: a libzmq SUB subscribed to "a" tells our PUB: with a SUBSCRIBE
// command under ZMTP 3.1, with a message "\x01a" under 3.0. It receives
// only what matches (it filters on its side too). When it unsubscribes, we
// get a CANCEL command under 3.1, a message "\x00a" under 3.0.
func pubToSub(zmtp30 bool) func(context.Context, string) error {
	return func(ctx context.Context, role string) (err error) {
		cmds := make(chan string, 8)
		cfg := config(mechanism.Pub)
		cfg.ZMTP30 = zmtp30
		cfg.OnCommand = func(cmd frame.Command) {
			select {
			case cmds <- cmd.Name + " " + string(cmd.Data):
			default:
			}
		}
		f, err := start(ctx, role, setup{
			zmqType: "SUB",
			prep:    func(s *zmq.Socket) error { return s.SetSubscribe("a") },
			cfg:     cfg,
		})
		defer finish(&err, f)
		if err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		if err := expectSubscription(ctx, f, cmds, zmtp30, frame.CmdSubscribe, 1); err != nil {
			return err
		}
		if err := sendOurs(ctx, f.conn, [][][]byte{{b("b-0")}, {b("a-1")}, {b("b-2")}, {b("a-3"), b("more")}}); err != nil {
			return err
		}
		if err := expectTheirs(ctx, f, [][][]byte{{b("a-1")}, {b("a-3"), b("more")}}); err != nil {
			return err
		}
		if err := f.zs.Z.SetUnsubscribe("a"); err != nil {
			return err
		}
		return expectSubscription(ctx, f, cmds, zmtp30, frame.CmdCancel, 0)
	}
}

// expectSubscription waits for libzmq's subscription (name SUBSCRIBE, flag
// 1) or unsubscription (CANCEL, 0) of "a": a command under ZMTP 3.1, a
// message flag+"a" under 3.0. Nothing else may arrive meanwhile.
func expectSubscription(ctx context.Context, f *fixture, cmds <-chan string, zmtp30 bool, name string, flag byte) error {
	if zmtp30 {
		var got [][]byte
		if err := poll(ctx, libzmq.Step/2, "a subscription message", func() bool {
			var err error
			if got, err = f.conn.TryRecv(); err == nil {
				return true
			}
			pokeLibzmq(f)
			return false
		}); err != nil {
			return err
		}
		if err := sameMessage([][]byte{{flag, 'a'}}, got); err != nil {
			return fmt.Errorf("subscription message: %w", err)
		}
		select {
		case cmd := <-cmds:
			return fmt.Errorf("command %q from a ZMTP 3.0 peer", cmd)
		default:
		}
		return nil
	}
	var got string
	if err := poll(ctx, libzmq.Step/2, "a "+name+" command", func() bool {
		select {
		case got = <-cmds:
			return true
		default:
			pokeLibzmq(f)
			return false
		}
	}); err != nil {
		return err
	}
	if want := name + " a"; got != want {
		return fmt.Errorf("command %q, want %q", got, want)
	}
	if msg, err := f.conn.TryRecv(); err == nil {
		return fmt.Errorf("unexpected message %q", msg)
	}
	return nil
}

// subFromPub: our SUB subscribes to "a" (a SUBSCRIBE command under ZMTP
// 3.1, a message "\x01a" under 3.0) at a libzmq PUB that publishes "a-"
// and "b-" messages; only the "a-" ones reach us.
func subFromPub(zmtp30 bool) func(context.Context, string) error {
	return func(ctx context.Context, role string) (err error) {
		cfg := config(mechanism.Sub)
		cfg.ZMTP30 = zmtp30
		f, err := start(ctx, role, setup{zmqType: "PUB", cfg: cfg})
		defer finish(&err, f)
		if err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		if zmtp30 {
			err = f.conn.Send(ctx, [][]byte{b("\x01a")})
		} else {
			err = f.conn.SendCommand(ctx, frame.Command{Name: frame.CmdSubscribe, Data: b("a")})
		}
		if err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		// Publish until we have what we want: messages sent before libzmq
		// has the subscription are dropped.
		wait := background(ctx, func(ctx context.Context) error {
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				for _, p := range []string{"b-", "a-"} {
					if err := f.zs.Send(ctx, [][]byte{b(fmt.Sprint(p, i))}); err != nil {
						if ctx.Err() != nil {
							return nil
						}
						return err
					}
				}
				select {
				case <-tick.C:
				case <-ctx.Done():
					return nil
				}
			}
		})
		defer wait()
		for i := range 5 {
			msg, err := f.conn.Recv(ctx)
			if err != nil {
				return errors.Join(fmt.Errorf("our receive %d: %w", i, err), wait())
			}
			if len(msg) != 1 || !bytes.HasPrefix(msg[0], b("a-")) {
				return fmt.Errorf("received %q, which does not match the subscription", msg)
			}
		}
		return wait()
	}
}
