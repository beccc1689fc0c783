// Package pirate is reliable request-reply over ZeroMQ sockets, as the
// Guide's Chapter 4 builds it: a Lazy Pirate client that retries a request
// on a fresh socket when no reply comes in time, and the Paranoid Pirate
// queue and worker of 6/PPP, which watch each other with heartbeats and
// recover from a dead peer.
//
// A LazyClient speaks to any REP-like server (a REP socket, a ROUTER that
// keeps the envelope, a Queue): each Request waits at most Timeout for a
// reply, then closes its REQ socket, opens a new one and sends again, and
// after Attempts tries returns a *NoReplyError. A reply is returned at most
// once: a reply that comes after its attempt timed out arrives on a closed
// socket and is lost with it.
//
// A Queue binds a frontend for clients and a backend for workers and hands
// each request to the worker that has been ready longest. A Worker connects
// to a Queue, sends READY, serves requests with a Handler one at a time,
// sends HEARTBEAT every Heartbeat and takes the queue for dead when
// Liveness intervals pass without a word from it; it then reconnects on a
// new socket, waiting ReconnectMin, doubled after each failure up to
// ReconnectMax. The queue forgets a worker that is silent for Liveness
// intervals; a request it had given that worker is lost, and its client's
// retry goes to another worker.
//
// Every blocking call takes a context.Context. Time is measured with the
// time package's timers only, so tests may run these types in a
// testing/synctest bubble over inproc endpoints.
//
// References:
//   - 6/PPP, Paranoid Pirate Protocol: https://rfc.zeromq.org/spec/6/
//   - The Guide, Chapter 4, Reliable Request-Reply Patterns.
package pirate
