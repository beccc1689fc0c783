package conformance

// Close and Linger: a PUSH connects to a libzmq PULL (bound already,
// bound later or never), queues messages and closes. In RoleOurs the PUSH
// is ours and "close" is Close (CloseContext bounded by the case's
// deadline, which is Close for any case that passes). In RoleLibzmq the
// PUSH is libzmq's, alone in a context of its own, and "close" is
// zmq_close followed by zmq_ctx_term: zmq_close returns at once and the
// socket delivers in the background, for as long as ZMQ_LINGER allows,
// while zmq_ctx_term waits for it. Both must deliver the same messages.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zmtp-go/zmtp/conformance/libzmq"
	"github.com/zmtp-go/zmtp/zmtp"
)

// lingerDefault asks for the default linger: Options.Linger left unset for
// ours, ZMQ_LINGER -1 (libzmq's default) for libzmq's.
const lingerDefault = time.Duration(-1)

// Timing of the linger scenarios. lateBind is how long after the close
// started the PULL binds (the scenario, not a synchronisation: every
// outcome is waited for); prompt bounds a close that must not wait for
// anyone.
const (
	lateBind     = 300 * time.Millisecond
	lateBindLong = 500 * time.Millisecond
	shortLinger  = 300 * time.Millisecond
	prompt       = 5 * time.Second
	// libzmq's timers count whole milliseconds from a clock it caches:
	// its linger may end up to this much early.
	libzmqTimerSlack = 10 * time.Millisecond
)

// lingerPush is the PUSH under test: ours, or libzmq's in an Env of its
// own.
type lingerPush struct {
	role string
	o    *ourSock
	z    *libzmq.Socket
	env  *libzmq.Env
	ep   string // where it connects

	closeCtx    context.Context // bounds our Close; ended by release
	cancelClose context.CancelFunc
	done        *closeOp // set once the close started
}

// newLingerPush makes the PUSH of role with the given linger
// (lingerDefault for the default) and, for ours, options opts.
func newLingerPush(ctx context.Context, role string, linger time.Duration, opts zmtp.Options, prep func(*zmq.Socket) error) (*lingerPush, error) {
	p := &lingerPush{role: role}
	p.closeCtx, p.cancelClose = context.WithCancel(ctx)
	switch role {
	case RoleOurs:
		if linger != lingerDefault {
			opts.Linger = zmtp.DurationOf(linger)
		}
		if opts.HandshakeTimeout == (zmtp.Duration{}) {
			opts.HandshakeTimeout = zmtp.DurationOf(5 * time.Second)
		}
		s, err := zmtp.NewSocket(zmtp.Push, opts)
		if err != nil {
			return nil, fmt.Errorf("our PUSH: %w", err)
		}
		p.o = &ourSock{Socket: s, events: s.Monitor(zmtp.EventAll)}
	case RoleLibzmq:
		env, err := libzmq.NewEnv()
		if err != nil {
			return nil, err
		}
		p.env = env
		if p.z, err = env.Socket("PUSH"); err == nil {
			err = p.z.Z.SetLinger(linger)
		}
		if err == nil && prep != nil {
			err = prep(p.z.Z)
		}
		if err != nil {
			env.Close()
			return nil, fmt.Errorf("libzmq PUSH: %w", err)
		}
	default:
		return nil, fmt.Errorf("unknown role %q", role)
	}
	return p, nil
}

// who names the PUSH's close in messages.
func (p *lingerPush) who() string {
	if p.o != nil {
		return "our PUSH's Close"
	}
	return "libzmq's zmq_close and zmq_ctx_term"
}

func (p *lingerPush) connect(ep string) error {
	p.ep = ep
	if p.o != nil {
		return p.o.Connect(ep)
	}
	if err := p.z.Z.Connect(ep); err != nil {
		return fmt.Errorf("libzmq PUSH connect %s: %w", ep, err)
	}
	return nil
}

// sendSeqs sends n messages numbered from 0, each with body after the
// number when body is not nil.
func (p *lingerPush) sendSeqs(ctx context.Context, n int, body []byte) error {
	for i := range n {
		m := [][]byte{seq(i)}
		if body != nil {
			m = append(m, body)
		}
		var err error
		if p.o != nil {
			err = p.o.Send(ctx, m)
		} else {
			err = p.z.Send(ctx, m)
		}
		if err != nil {
			return fmt.Errorf("%s PUSH send %d: %w", p.role, i, err)
		}
	}
	return nil
}

// close starts closing in a goroutine: ours with CloseContext(ctx) (ctx
// is also ended by release), libzmq's by closing its Env. started is
// closed just before the call.
func (p *lingerPush) close(ctx context.Context) (started <-chan struct{}, done *closeOp) {
	if p.o != nil {
		ctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(p.closeCtx, cancel)
		started, p.done = closing(func() error {
			defer stop()
			defer cancel()
			return p.o.CloseContext(ctx)
		})
	} else {
		started, p.done = closing(p.env.Close)
	}
	return started, p.done
}

// release frees the PUSH whatever happened: closes it at once if the case
// did not, and waits for a close the case started. libzmq's zmq_ctx_term
// waits for ever with the default linger while its peer is absent: a PULL
// of release's own takes the messages then.
func (p *lingerPush) release() {
	p.cancelClose()
	if p.done == nil {
		if p.o != nil {
			p.o.SetOptions(func(o *zmtp.Options) { o.Linger = zmtp.NoLinger })
			p.o.Close()
		} else {
			p.z.Z.SetLinger(0)
			p.env.Close()
		}
		return
	}
	if _, ok := p.done.returned(); ok {
		return
	}
	if p.o != nil {
		<-p.done.fin // its context has ended
		return
	}
	drainTerm(p.ep, p.done)
}

// drainTerm binds a PULL of its own at ep, if it can, and reads from it
// until done fires or a few seconds pass.
func drainTerm(ep string, done *closeOp) {
	env, err := libzmq.NewEnv()
	if err != nil {
		return
	}
	defer env.Close()
	pull, err := env.Socket("PULL")
	if err != nil || ep == "" {
		return
	}
	pull.Z.Bind(ep) // it may fail: the case's PULL may hold ep
	deadline := time.Now().Add(prompt)
	for time.Now().Before(deadline) {
		if _, ok := done.returned(); ok {
			return
		}
		pull.TryRecv()
	}
}

// waitChecked waits for the close done and checks its outcome with
// checkClosed.
func (p *lingerPush) waitChecked(ctx context.Context, done *closeOp) (closeResult, error) {
	r, err := waitClosed(ctx, p.who(), done)
	if err != nil {
		return r, err
	}
	return r, p.checkClosed(r)
}

// checkClosed checks the outcome of a close that had to deliver
// everything: no error, and for ours nothing counted as discarded.
func (p *lingerPush) checkClosed(r closeResult) error {
	if r.err != nil {
		return fmt.Errorf("%s returned %v after %v, want nil", p.who(), r.err, r.took.Round(time.Millisecond))
	}
	if p.o != nil {
		if n := p.o.Discarded(); n != 0 {
			return fmt.Errorf("%s returned nil but Discarded() = %d", p.who(), n)
		}
	}
	return nil
}

// checkDiscarded checks the outcome of a close that had to give up on n
// queued messages: ours returns an *UndeliveredError that counts them
// (and Discarded agrees); libzmq's zmq_ctx_term returns without error
// and counts nothing.
func (p *lingerPush) checkDiscarded(r closeResult, n int) error {
	if p.o == nil {
		if r.err != nil {
			return fmt.Errorf("%s: %v", p.who(), r.err)
		}
		return nil
	}
	if got := undelivered(r.err); got != n {
		return fmt.Errorf("%s returned %v, want *zmtp.UndeliveredError{Messages: %d}", p.who(), r.err, n)
	}
	if d := p.o.Discarded(); d != int64(n) {
		return fmt.Errorf("%s: Discarded() = %d, want %d", p.who(), d, n)
	}
	return nil
}

// lingerPushSent returns a PUSH (ours or libzmq's, by role) with the
// given linger, connected to ep, that has sent n messages of body (see
// sendSeqs). The caller releases it, also when err is not nil and p is
// not.
func lingerPushSent(ctx context.Context, role string, linger time.Duration, ep string, n int, body []byte) (*lingerPush, error) {
	p, err := newLingerPush(ctx, role, linger, zmtp.Options{}, nil)
	if err != nil {
		return nil, err
	}
	if err := p.connect(ep); err != nil {
		return p, err
	}
	return p, p.sendSeqs(ctx, n, body)
}

// lingerPeerBound (1a): the PULL is bound; the PUSH connects, sends 3
// and closes at once with the default linger: 3 of 3 arrive and the close
// reports nothing lost.
func lingerPeerBound(ctx context.Context, c *sockCase, role string) error {
	const n = 3
	pull, ep, err := c.theirBound("PULL", nil)
	if err != nil {
		return err
	}
	p, err := lingerPushSent(ctx, role, lingerDefault, ep, n, nil)
	if p != nil {
		defer p.release()
	}
	if err != nil {
		return err
	}
	_, done := p.close(ctx)
	if _, err := p.waitChecked(ctx, done); err != nil {
		return err
	}
	_, err = recvSeqs(ctx, n, 0, pull)
	return err
}

// lingerLate runs the scenarios where the PULL binds after the close
// started: the PUSH connects to an endpoint where nothing listens, sends
// n, starts closing; bindAfter later (the close must still be waiting)
// the PULL binds; the close returns with nothing lost and n of n arrive.
func lingerLate(ctx context.Context, c *sockCase, role string, linger time.Duration, n int, bindAfter time.Duration) error {
	ep, err := c.deadEndpoint()
	if err != nil {
		return err
	}
	p, err := lingerPushSent(ctx, role, linger, ep, n, nil)
	if p != nil {
		defer p.release()
	}
	if err != nil {
		return err
	}
	started, done := p.close(ctx)
	<-started
	pause(ctx, bindAfter)
	if r, early := done.returned(); early {
		return fmt.Errorf("%s returned (%v) after %v, before any peer was there", p.who(), r.err, r.took.Round(time.Millisecond))
	}
	pull, err := c.theirRebound(ctx, "PULL", nil, ep)
	if err != nil {
		return err
	}
	if _, err := p.waitChecked(ctx, done); err != nil {
		return err
	}
	_, err = recvSeqs(ctx, n, 0, pull)
	return err
}

// lingerPeerLate (1b): default linger, the PULL binds 300 ms after the
// close started: 3 of 3.
func lingerPeerLate(ctx context.Context, c *sockCase, role string) error {
	return lingerLate(ctx, c, role, lingerDefault, 3, lateBind)
}

// lingerFiveSeconds (1c): a linger of 5 s, 10 messages, the PULL binds
// 500 ms after the close started: 10 of 10, nothing reported lost.
func lingerFiveSeconds(ctx context.Context, c *sockCase, role string) error {
	return lingerLate(ctx, c, role, 5*time.Second, 10, lateBindLong)
}

// lingerNever starts the scenarios where no PULL ever binds: the PUSH
// connects to an endpoint where nothing listens, sends n and closes;
// closeWith, when set, closes ours instead of Close (it gets the case's
// context).
func lingerNever(ctx context.Context, c *sockCase, role string, linger time.Duration, n int, closeWith func(context.Context) context.Context) (*lingerPush, closeResult, error) {
	ep, err := c.deadEndpoint()
	if err != nil {
		return nil, closeResult{}, err
	}
	p, err := lingerPushSent(ctx, role, linger, ep, n, nil)
	if err != nil {
		return p, closeResult{}, err
	}
	cctx := ctx
	if closeWith != nil {
		cctx = closeWith(ctx)
	}
	_, done := p.close(cctx)
	r, err := waitClosed(ctx, p.who(), done)
	return p, r, err
}

// lingerNone (1d): NoLinger (ZMQ_LINGER 0), no PULL ever: the close
// returns promptly; ours reports the 3 messages discarded.
func lingerNone(ctx context.Context, c *sockCase, role string) error {
	const n = 3
	p, r, err := lingerNever(ctx, c, role, 0, n, nil)
	if p != nil {
		defer p.release()
	}
	if err != nil {
		return err
	}
	if r.took >= prompt {
		return fmt.Errorf("%s took %v with no linger", p.who(), r.took.Round(time.Millisecond))
	}
	return p.checkDiscarded(r, n)
}

// lingerShort (1e): a linger of 300 ms, no PULL ever: the close returns
// once the linger is over (not before) and well within the case's time;
// ours reports the 3 messages discarded.
func lingerShort(ctx context.Context, c *sockCase, role string) error {
	const n = 3
	p, r, err := lingerNever(ctx, c, role, shortLinger, n, nil)
	if p != nil {
		defer p.release()
	}
	if err != nil {
		return err
	}
	least := shortLinger
	if role == RoleLibzmq {
		least -= libzmqTimerSlack
	}
	if r.took < least || r.took >= lifeTimeout/2 {
		return fmt.Errorf("%s took %v with a linger of %v", p.who(), r.took.Round(time.Millisecond), shortLinger)
	}
	return p.checkDiscarded(r, n)
}

// lingerCloseContext (1f): the default linger, no PULL ever. Ours:
// CloseContext with a context that ends 300 ms after the call returns
// then, not before, with the 3 messages reported discarded. libzmq has
// nothing like it: zmq_ctx_term is bounded by ZMQ_LINGER alone, so with
// the default it is still waiting 300 ms later, and returns only once a
// PULL binds and takes all 3.
func lingerCloseContext(ctx context.Context, c *sockCase, role string) error {
	const n = 3
	if role == RoleLibzmq {
		return lingerLate(ctx, c, role, lingerDefault, n, lateBind)
	}
	var (
		cancel context.CancelFunc
		from   time.Time // when the context's timer started
	)
	defer func() {
		if cancel != nil {
			cancel()
		}
	}()
	p, r, err := lingerNever(ctx, c, role, lingerDefault, n, func(ctx context.Context) context.Context {
		from = time.Now()
		var cctx context.Context
		cctx, cancel = context.WithTimeout(ctx, lateBind)
		return cctx
	})
	if p != nil {
		defer p.release()
	}
	if err != nil {
		return err
	}
	if r.took >= lifeTimeout/2 {
		return fmt.Errorf("%s took %v with a context ending after %v", p.who(), r.took.Round(time.Millisecond), lateBind)
	}
	if err := p.checkDiscarded(r, n); err != nil {
		return err
	}
	if waited := r.end.Sub(from); waited < lateBind {
		return fmt.Errorf("%s returned %v after its context was made, before it ended (%v)", p.who(), waited.Round(time.Millisecond), lateBind)
	}
	return nil
}

// slowPull makes a PULL's queues small, so that a sender's messages wait
// on the sender's side until the PULL reads them.
func slowPull(s *zmq.Socket) error {
	return errors.Join(s.SetRcvhwm(2), s.SetRcvbuf(4096))
}

// lingerSlowReader (1g): a libzmq PULL with small queues reads one
// message every few milliseconds from a goroutine of its own; the PUSH
// sends 200 large messages (far more than the kernel buffers hold) and
// closes with the default linger: the close returns nil once all are
// written, and the PULL reads all 200 in order.
func lingerSlowReader(ctx context.Context, c *sockCase, role string) error {
	const n = 200
	const every = 3 * time.Millisecond
	pull, ep, err := c.theirBound("PULL", slowPull)
	if err != nil {
		return err
	}
	// From here until it returns, the reader alone uses pull.
	rctx, stopReader := context.WithCancel(ctx)
	read := make(chan error, 1)
	go func() { read <- readSlowly(rctx, pull, n, every) }()
	readerDone := false
	defer func() {
		stopReader()
		if !readerDone {
			<-read
		}
	}()
	p, err := lingerPushSent(ctx, role, lingerDefault, ep, n, hwmPayload)
	if p != nil {
		defer p.release()
	}
	if err != nil {
		return err
	}
	_, done := p.close(ctx)
	r, err := p.waitChecked(ctx, done)
	if err != nil {
		return err
	}
	// The reader ends when it has all, or with the case's context.
	readerDone = true
	if err := <-read; err != nil {
		return fmt.Errorf("%s returned nil after %v, but: %w", p.who(), r.took.Round(time.Millisecond), err)
	}
	return nil
}

// readSlowly reads n messages numbered from 0 with body hwmPayload, one
// at most every d, and then checks that no other comes.
func readSlowly(ctx context.Context, pull *libzmq.Socket, n int, d time.Duration) error {
	t := time.NewTicker(d)
	defer t.Stop()
	for i := range n {
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("slow PULL after %d of %d: %w", i, n, ctx.Err())
		}
		m, err := pull.Recv(ctx)
		if err != nil {
			return fmt.Errorf("slow PULL after %d of %d: %w", i, n, err)
		}
		if len(m) != 2 || !bytes.Equal(m[0], seq(i)) || !bytes.Equal(m[1], hwmPayload) {
			return fmt.Errorf("slow PULL: message %d is %d frames, first %x", i, len(m), m[0])
		}
	}
	if m, err := pull.TryRecv(); err == nil {
		return fmt.Errorf("slow PULL got an extra message, first frame %x", m[0])
	}
	return nil
}
