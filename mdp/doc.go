// Package mdp is the Majordomo Protocol, 7/MDP 0.1 ("MDPC01" for clients,
// "MDPW01" for workers), with the mmi.service query of 8/MMI: a Broker,
// a Client API and a Worker API, which interoperate with any other
// implementation of those specifications.
//
// A Broker binds one ROUTER socket for clients and workers. Workers
// register a service name; clients send requests by service name; the
// broker queues requests per service and hands each to the worker of that
// service that has waited longest. Broker and workers heartbeat each other
// every Heartbeat and take the other for dead after Liveness silent
// intervals: a worker then reconnects on a new socket (with backoff), and
// the broker gives the dead worker's request to another worker.
//
// A Client is a Lazy Pirate (package pirate) speaking MDP/Client: each
// Request waits Timeout for its reply, then resends on a new socket, and
// after Attempts tries reports a failure, so it returns within MaxWait.
// A client gets at most one reply per request: the broker passes on a
// reply only from the worker it gave the request to, and a reply that
// comes after its attempt timed out arrives on a socket already closed.
// Workers must be idempotent, as 7/MDP assumes: a request may be served
// twice (by a worker that died before replying, then by another).
//
// A service:
//
//	w, _ := mdp.NewWorker("tcp://127.0.0.1:5555", "echo",
//		mdp.HandlerFunc(func(ctx context.Context, req [][]byte) ([][]byte, error) {
//			return req, nil
//		}), mdp.WorkerOptions{})
//	w.Run(ctx)
//
// A client:
//
//	c, _ := mdp.NewClient("tcp://127.0.0.1:5555", mdp.ClientOptions{})
//	defer c.Close()
//	reply, err := c.Request(ctx, "echo", []byte("hello"))
//
// Every blocking call takes a context.Context. Time is measured with the
// time package's timers only, so tests may run brokers, clients and
// workers in a testing/synctest bubble over inproc endpoints.
//
// References:
//   - 7/MDP, Majordomo Protocol: https://rfc.zeromq.org/spec/7/
//   - 8/MMI, Majordomo Management Interface: https://rfc.zeromq.org/spec/8/
//   - 6/PPP, from which MDP's heartbeating comes: https://rfc.zeromq.org/spec/6/
package mdp
