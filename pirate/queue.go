package pirate

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

// QueueOptions configures a Queue; the zero value gives the defaults.
type QueueOptions struct {
	// Heartbeat and Liveness are as in WorkerOptions, and must match the
	// workers': a worker silent for Liveness intervals is forgotten.
	Heartbeat time.Duration
	Liveness  int
	// Context, when set, makes the sockets in it, for inproc endpoints.
	Context *zmtp.Context
	// Socket is given to both ROUTER sockets.
	Socket zmtp.Options
	// Logger receives debug records; nil means none.
	Logger *slog.Logger
}

// Queue is the Paranoid Pirate queue: a ROUTER frontend for clients
// (LazyClient or REQ sockets), a ROUTER backend for Workers, and between
// them a list of ready workers, the one ready longest served first. It
// reads a request from the frontend only when a worker is ready, so that
// requests wait in the sockets' queues (bounded by their high-water
// marks) while every worker is busy. A reply from a worker that has no
// request of ours (forgotten as dead, or a stranger) is dropped: a client
// gets at most one reply per request.
type Queue struct {
	opts        QueueOptions
	front, back *zmtp.Socket
	closeOnce   sync.Once
	heartbeat   time.Duration
	liveness    int
}

// NewQueue returns a queue with its two sockets, not yet bound.
func NewQueue(opts QueueOptions) (*Queue, error) {
	q := &Queue{opts: opts,
		heartbeat: cmp.Or(opts.Heartbeat, DefaultHeartbeat),
		liveness:  cmp.Or(opts.Liveness, DefaultLiveness)}
	if q.heartbeat < 0 || q.liveness < 0 {
		return nil, errors.New("pirate: negative Heartbeat or Liveness")
	}
	var err error
	if q.front, err = newSocket(opts.Context, zmtp.Router, opts.Socket); err != nil {
		return nil, err
	}
	if q.back, err = newSocket(opts.Context, zmtp.Router, opts.Socket); err != nil {
		q.front.Close()
		return nil, err
	}
	return q, nil
}

func newSocket(zc *zmtp.Context, t zmtp.SocketType, o zmtp.Options) (*zmtp.Socket, error) {
	if zc != nil {
		return zc.NewSocket(t, o)
	}
	return zmtp.NewSocket(t, o)
}

// BindFrontend binds the clients' side; FrontendEndpoint returns the
// endpoint bound last there.
func (q *Queue) BindFrontend(ep string) error { return q.front.Bind(ep) }

// BindBackend binds the workers' side; BackendEndpoint returns the
// endpoint bound last there.
func (q *Queue) BindBackend(ep string) error { return q.back.Bind(ep) }

// FrontendEndpoint returns the endpoint bound last by BindFrontend.
func (q *Queue) FrontendEndpoint() string { return q.front.LastEndpoint() }

// BackendEndpoint returns the endpoint bound last by BindBackend.
func (q *Queue) BackendEndpoint() string { return q.back.LastEndpoint() }

// Close closes both sockets; a Run in progress returns.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		q.front.Close()
		q.back.Close()
	})
	return nil
}

type qworker struct {
	id     []byte
	expiry time.Time
	busy   bool
}

// Run moves requests and replies until ctx ends or the queue is closed,
// then closes the queue. It returns ctx's error, or the error that ended a
// socket. It is called once.
func (q *Queue) Run(ctx context.Context) error {
	defer q.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	frontc, backc := make(chan zmtp.Message), make(chan zmtp.Message)
	failed := make(chan error, 2)
	for _, r := range []struct {
		s  *zmtp.Socket
		ch chan zmtp.Message
	}{{q.front, frontc}, {q.back, backc}} {
		wg.Go(func() { readInto(ctx, r.s, r.ch, failed) })
	}

	workers := map[string]*qworker{}
	var ready []*qworker // oldest first
	tick := time.NewTicker(q.heartbeat)
	defer tick.Stop()
	for {
		var fc chan zmtp.Message
		if len(ready) > 0 {
			fc = frontc
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			return err
		case m := <-backc:
			if len(m.Frames) < 2 {
				continue
			}
			id, rest := m.Frames[0], m.Frames[1:]
			w := workers[string(id)]
			isCmd := len(rest) == 1 && (bytes.Equal(rest[0], cmdReady) || bytes.Equal(rest[0], cmdHeartbeat))
			if !isCmd && (w == nil || !w.busy) {
				q.log("pirate: dropped a reply from a worker with no request", "worker", id)
				continue
			}
			if w == nil {
				// A READY, or the heartbeat of a worker that was here
				// before this queue (re)started: it is ready.
				w = &qworker{id: id}
				workers[string(id)] = w
				ready = append(ready, w)
			}
			w.expiry = time.Now().Add(time.Duration(q.liveness) * q.heartbeat)
			if !isCmd {
				q.front.Send(ctx, rest)
			}
			if !isCmd || bytes.Equal(rest[0], cmdReady) {
				if w.busy {
					w.busy = false
					ready = append(ready, w)
				}
			}
		case m := <-fc:
			w := ready[0]
			ready = ready[1:]
			w.busy = true
			q.back.Send(ctx, append([][]byte{w.id}, m.Frames...))
		case now := <-tick.C:
			for k, w := range workers {
				if now.After(w.expiry) {
					q.log("pirate: worker expired", "worker", w.id, "busy", w.busy)
					delete(workers, k)
					continue
				}
				q.back.Send(ctx, [][]byte{w.id, bytes.Clone(cmdHeartbeat)})
			}
			kept := ready[:0]
			for _, w := range ready {
				if workers[string(w.id)] == w {
					kept = append(kept, w)
				}
			}
			clear(ready[len(kept):])
			ready = kept
		}
	}
}

// readInto hands s's messages to ch until ctx ends or s fails.
func readInto(ctx context.Context, s *zmtp.Socket, ch chan<- zmtp.Message, failed chan<- error) {
	for {
		m, err := s.Recv(ctx)
		if err != nil {
			if ctx.Err() == nil {
				failed <- err
			}
			return
		}
		select {
		case ch <- m:
		case <-ctx.Done():
			return
		}
	}
}

func (q *Queue) log(msg string, args ...any) {
	if q.opts.Logger != nil {
		q.opts.Logger.Debug(msg, args...)
	}
}
