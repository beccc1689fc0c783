// Package workerloop runs the worker side of a heartbeated request-reply
// protocol (6/PPP, 7/MDP): a DEALER socket connected to a queue or broker,
// a READY to register, heartbeats both ways, a liveness count that finds a
// silent peer, and reconnection on a new socket with exponential backoff.
// The protocol's messages are given by a Protocol; the loop knows none of
// them.
package workerloop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

// Kind classifies a message from the broker.
type Kind int

const (
	// Request carries work: an envelope to return with the reply and a body.
	Request Kind = iota
	// Heartbeat only proves the peer alive.
	Heartbeat
	// Disconnect asks the worker to start over on a new socket.
	Disconnect
)

// Protocol encodes and decodes one protocol's worker messages.
type Protocol interface {
	// Ready registers the worker; Heartbeat is sent every interval;
	// Disconnect is sent before leaving (nil when the protocol has none).
	Ready() [][]byte
	Heartbeat() [][]byte
	Disconnect() [][]byte
	// Reply wraps a reply to the request that came with envelope.
	Reply(envelope, reply [][]byte) [][]byte
	// Parse classifies a message from the broker; an error drops it.
	Parse(frames [][]byte) (k Kind, envelope, body [][]byte, err error)
}

// Handler serves one request. An error sends no reply.
type Handler func(ctx context.Context, request [][]byte) ([][]byte, error)

// Stats counts what a worker did; it is safe for concurrent use.
type Stats struct {
	Connects  atomic.Int64 // sockets opened (first connection and reconnections)
	Requests  atomic.Int64 // requests received
	Replies   atomic.Int64 // replies sent
	Abandoned atomic.Int64 // requests whose reply was not sent
}

// Snapshot reads the counters.
func (s *Stats) Snapshot() (connects, requests, replies, abandoned int64) {
	return s.Connects.Load(), s.Requests.Load(), s.Replies.Load(), s.Abandoned.Load()
}

// Config is what Run needs. Every duration and count must be positive.
type Config struct {
	Endpoint     string
	Context      *zmtp.Context
	Socket       zmtp.Options
	Heartbeat    time.Duration
	Liveness     int
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	Protocol     Protocol
	Handler      Handler
	Logger       *slog.Logger
	Stats        *Stats
}

// Validate checks that every duration and count is positive and the
// reconnection interval does not shrink.
func (c *Config) Validate() error {
	if c.Heartbeat <= 0 || c.Liveness <= 0 || c.ReconnectMin <= 0 || c.ReconnectMax < c.ReconnectMin {
		return fmt.Errorf("invalid worker options: heartbeat %v, liveness %d, reconnect %v to %v",
			c.Heartbeat, c.Liveness, c.ReconnectMin, c.ReconnectMax)
	}
	if c.Protocol == nil || c.Handler == nil || c.Stats == nil {
		return errors.New("worker: no protocol, handler or stats")
	}
	return nil
}

// why a session ended
type ending int

const (
	endContext    ending = iota // Run's context ended
	endSilent                   // the peer missed Liveness heartbeats
	endDisconnect               // the peer sent DISCONNECT
	endAbandon                  // a handler failed or a reply could not be queued
	endSocket                   // the socket failed
)

// Run serves until ctx ends, opening a new socket after each failure. It
// returns ctx's error, or the error of a socket that cannot be made.
func Run(ctx context.Context, c Config) error {
	backoff := c.ReconnectMin
	for {
		end, heard, err := session(ctx, c)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if heard {
			backoff = c.ReconnectMin
		}
		if end == endDisconnect {
			continue // the peer is alive: register again at once
		}
		if end == endAbandon {
			// The broker gives the request to another worker; coming
			// back at once could take the same request again at once.
			if !sleep(ctx, c.ReconnectMin) {
				return ctx.Err()
			}
			continue
		}
		logf(c.Logger, "workerloop: reconnecting", "endpoint", c.Endpoint, "after", backoff)
		if !sleep(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(2*backoff, c.ReconnectMax)
	}
}

// sleep waits d, or less when ctx ends first (then it returns false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type result struct {
	envelope, reply [][]byte
	err             error
}

type job struct{ envelope, body [][]byte }

// maxPending bounds the requests a broker may send ahead of replies.
const maxPending = 16

// session lives for one socket. heard reports whether the peer sent
// anything.
func session(ctx context.Context, c Config) (end ending, heard bool, err error) {
	opts := c.Socket
	opts.Linger = zmtp.NoLinger
	var s *zmtp.Socket
	if c.Context != nil {
		s, err = c.Context.NewSocket(zmtp.Dealer, opts)
	} else {
		s, err = zmtp.NewSocket(zmtp.Dealer, opts)
	}
	if err != nil {
		return endSocket, false, err
	}
	c.Stats.Connects.Add(1)
	if err := s.Connect(c.Endpoint); err != nil {
		s.Close()
		return endSocket, false, err
	}

	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	msgs := make(chan zmtp.Message)
	failed := make(chan error, 1)
	wg.Go(func() {
		for {
			m, err := s.Recv(sctx)
			if err != nil {
				failed <- err
				return
			}
			select {
			case msgs <- m:
			case <-sctx.Done():
				return
			}
		}
	})
	done := make(chan result, 1)
	busy := false
	var pending []job
	start := func(j job) {
		busy = true
		c.Stats.Requests.Add(1)
		wg.Go(func() {
			reply, err := c.Handler(sctx, j.body)
			done <- result{j.envelope, reply, err}
		})
	}
	defer func() {
		if end == endContext || end == endAbandon {
			if d := c.Protocol.Disconnect(); d != nil {
				s.SetOptions(func(o *zmtp.Options) { o.Linger = zmtp.DurationOf(c.Heartbeat) })
				s.TrySend(d)
			}
		}
		cancel()
		if busy {
			<-done
			c.Stats.Abandoned.Add(1)
		}
		c.Stats.Abandoned.Add(int64(len(pending)))
		s.Close()
		wg.Wait()
	}()

	s.TrySend(c.Protocol.Ready())
	liveness := c.Liveness
	tick := time.NewTicker(c.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return endContext, heard, nil
		case err := <-failed:
			if ctx.Err() != nil {
				return endContext, heard, nil
			}
			logf(c.Logger, "workerloop: socket failed", "err", err)
			return endSocket, heard, nil
		case m := <-msgs:
			heard = true
			liveness = c.Liveness
			k, env, body, err := c.Protocol.Parse(m.Frames)
			if err != nil {
				logf(c.Logger, "workerloop: dropped a message", "err", err)
				continue
			}
			switch k {
			case Disconnect:
				return endDisconnect, heard, nil
			case Request:
				switch {
				case !busy:
					start(job{env, body})
				case len(pending) < maxPending:
					pending = append(pending, job{env, body})
				default:
					c.Stats.Abandoned.Add(1)
				}
			}
		case r := <-done:
			busy = false
			if r.err != nil {
				c.Stats.Abandoned.Add(1)
				logf(c.Logger, "workerloop: handler failed; registering again", "err", r.err)
				return endAbandon, heard, nil
			}
			if err := s.TrySend(c.Protocol.Reply(r.envelope, r.reply)); err != nil {
				c.Stats.Abandoned.Add(1)
				logf(c.Logger, "workerloop: reply not sent", "err", err)
				return endAbandon, heard, nil
			}
			c.Stats.Replies.Add(1)
			if len(pending) > 0 {
				j := pending[0]
				pending = pending[1:]
				start(j)
			}
		case <-tick.C:
			// A broker may stop heartbeating a worker it gave work to (as
			// the Guide's broker does): liveness counts only while idle.
			if !busy {
				liveness--
				if liveness <= 0 {
					logf(c.Logger, "workerloop: peer silent", "endpoint", c.Endpoint)
					return endSilent, heard, nil
				}
			}
			s.TrySend(c.Protocol.Heartbeat())
		}
	}
}

func logf(l *slog.Logger, msg string, args ...any) {
	if l != nil {
		l.Debug(msg, args...)
	}
}
