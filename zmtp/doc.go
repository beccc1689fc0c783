// Package zmtp speaks ZMTP 3.0 and 3.1 over a net.Conn: the greeting and
// version negotiation, the security handshake (through package mechanism),
// heartbeats, and multipart messages and commands once connected.
//
// A Conn has exactly one reader goroutine and one writer goroutine. The
// reader decodes frames, answers PINGs by queueing PONGs to the writer, and
// hands complete messages to Recv. The writer batches queued messages into
// few writes (vectored for large bodies) and sends heartbeats.
//
// References:
//   - RFC 23/ZMTP 3.0: https://rfc.zeromq.org/spec/23/
//   - RFC 37/ZMTP 3.1: https://rfc.zeromq.org/spec/37/
package zmtp
