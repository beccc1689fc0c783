package mdp

import (
	"cmp"
	"context"
	"errors"

	"github.com/zmtp-go/zmtp/internal/workerloop"
	"github.com/zmtp-go/zmtp/pirate"
)

// Handler serves one request; see pirate.Handler. Its reply goes back to
// the client through the broker; an empty reply is sent as one empty
// frame.
type Handler = pirate.Handler

// HandlerFunc is a function used as a Handler.
type HandlerFunc = pirate.HandlerFunc

// WorkerOptions configures a Worker: heartbeat interval, liveness,
// reconnection backoff and sockets, as for a pirate.Worker. Heartbeat and
// Liveness must match the broker's.
type WorkerOptions = pirate.WorkerOptions

// WorkerStats counts what a worker did.
type WorkerStats = pirate.WorkerStats

// Worker is the worker side of MDP/Worker: it registers a service with a
// broker (READY), serves the requests the broker gives it with a Handler,
// one at a time on their own goroutine, and heartbeats. When the broker is
// silent for Liveness heartbeats, or sends DISCONNECT, or a handler fails,
// it closes its socket and registers again on a new one (after a backoff
// when the broker was silent). A reply whose connection was given up is
// not sent: the broker has requeued the request by then, so the client
// gets one reply. Run serves; Stats may be called from any goroutine.
type Worker struct {
	cfg   workerloop.Config
	stats workerloop.Stats
}

// NewWorker returns a worker of service for the broker at endpoint.
func NewWorker(endpoint, service string, h Handler, opts WorkerOptions) (*Worker, error) {
	if h == nil {
		return nil, errors.New("mdp: nil Handler")
	}
	w := &Worker{cfg: workerloop.Config{
		Endpoint:     endpoint,
		Context:      opts.Context,
		Socket:       opts.Socket,
		Heartbeat:    cmp.Or(opts.Heartbeat, pirate.DefaultHeartbeat),
		Liveness:     cmp.Or(opts.Liveness, pirate.DefaultLiveness),
		ReconnectMin: cmp.Or(opts.ReconnectMin, pirate.DefaultReconnectMin),
		ReconnectMax: cmp.Or(opts.ReconnectMax, max(pirate.DefaultReconnectMax, opts.ReconnectMin)),
		Protocol:     workerSide{service: service},
		Handler:      h.Serve,
		Logger:       opts.Logger,
	}}
	w.cfg.Stats = &w.stats
	if err := w.cfg.Validate(); err != nil {
		return nil, err
	}
	return w, nil
}

// Run serves until ctx ends, then sends DISCONNECT and returns ctx's
// error, once the handler in progress (whose context ends too) has
// returned; it returns earlier only with the error of a socket that cannot
// be made (an invalid endpoint). It is called once.
func (w *Worker) Run(ctx context.Context) error { return workerloop.Run(ctx, w.cfg) }

// Stats returns the worker's counters.
func (w *Worker) Stats() WorkerStats {
	var s WorkerStats
	s.Connects, s.Requests, s.Replies, s.Abandoned = w.stats.Snapshot()
	return s
}
