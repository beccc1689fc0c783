// Package zmtp speaks ZMTP 3.0 and 3.1: single connections (Conn) and
// ZeroMQ sockets (Socket) built on them. Like libzmq, it also talks to
// ZMTP 1.0 and 2.0 peers when its security mechanism is NULL without
// authentication (see LegacyPeerError and ConnConfig.RefuseLegacy).
//
// A Conn runs the greeting, version negotiation and security handshake
// (through package mechanism) over any net.Conn, then carries multipart
// messages and commands, with heartbeats. It has exactly one reader
// goroutine and one writer goroutine: the reader decodes frames, answers
// PINGs by queueing PONGs to the writer and hands complete messages on;
// the writer batches queued messages into few writes (vectored for large
// bodies) and sends heartbeats. Close stops both.
//
// A Socket binds and connects any number of tcp, ipc, inproc, ws and wss
// endpoints and routes messages among its peers by the rule of its type: PAIR, PUB,
// SUB, XPUB, XSUB, REQ, REP, DEALER, ROUTER, PUSH, PULL and STREAM share one
// machinery of per-peer pipes (bounded queues that outlive reconnects) and
// differ only in routing: load-balance, fair-queue, fan-out with prefix
// matching, or routing by id. A peer is routable only once its handshake
// has succeeded. Sockets are safe for concurrent use; Close stops every
// goroutine the socket started. Inproc endpoints live in a Context, as in
// libzmq. Monitor reports libzmq's socket events; Proxy relays between two
// sockets like zmq_proxy; ServeZAP and Context.ZAPAuthenticator carry RFC 27
// requests over inproc://zeromq.zap.01. A Poller waits on several sockets
// at once, like zmq_poll, reading readiness from their queues without
// taking any message. RADIO and DISH (RFC 48) send and receive
// single-frame messages with a group (Socket.SendGroup, Socket.Join,
// Message.Group), also over udp, with libzmq's datagrams. CLIENT and
// SERVER (RFC 41), SCATTER and GATHER (RFC 49), PEER (RFC 51) and CHANNEL
// (RFC 52) carry single-frame messages; a SERVER or PEER sends to one peer
// by its routing id (Message.RoutingID, Socket.SendTo, Socket.ConnectPeer).
//
// References:
//   - RFC 23/ZMTP 3.0: https://rfc.zeromq.org/spec/23/
//   - RFC 37/ZMTP 3.1: https://rfc.zeromq.org/spec/37/
//   - RFC 28, 29, 30, 31: request-reply, publish-subscribe, pipeline and
//     exclusive pair semantics.
//   - RFC 27/ZAP: https://rfc.zeromq.org/spec/27/
//   - RFC 13/ZMTP 1.0 and RFC 15/ZMTP 2.0, for older peers.
//   - RFC 45/ZWS 2.0 (ws:// and wss://): https://rfc.zeromq.org/spec/45/
//   - RFC 48/RADIO-DISH: https://rfc.zeromq.org/spec/48/
//   - RFC 41/CLIENT-SERVER, RFC 49/SCATTER-GATHER, RFC 51/P2P (PEER),
//     RFC 52/CHANNEL: https://rfc.zeromq.org/spec/41/ (and 49, 51, 52)
package zmtp
