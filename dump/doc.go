// Package dump decodes ZMTP traffic for people and programs: a push-style
// stream decoder that turns the octets of each direction of a connection
// into events (greetings, commands, whole multipart messages, gaps and
// errors), and writers that print those events as text lines or JSON Lines.
//
// It does no I/O of its own beyond the io.Writer given to a writer. Feed a
// Decoder (one direction) or a Conn (both directions, which lets each event
// know both peers' socket types and the mechanism) with the octets of a
// stream in order, in pieces of any size; report octets lost by a capture
// with Gap and the end of a direction with End or Conn.Close.
//
// The decoder understands ZMTP 3.0 and 3.1 framing and commands, the NULL,
// PLAIN and CURVE handshakes (CURVE boxes are shown by size and nonce, not
// opened), subscriptions sent as commands or as messages, and the greetings
// of ZMTP 1.0 and 2.0 peers with their framing, including the other
// side of such a connection: libzmq begins a ZMTP 3 greeting and, having
// seen an older peer's greeting, continues in ZMTP 2.0 or 1.0 (a Conn
// follows it from the other direction; a Decoder on its own recognises a
// downgrade to ZMTP 2.0 by the identity frame). Its memory is bounded
// whatever sizes the stream declares: bodies are streamed, keeping only a
// preview and a running FNV-1a hash. Malformed traffic yields an error
// event, after which the decoder looks for the next plausible frame
// boundary and marks what follows as unsynchronised.
//
// A stream that begins with an HTTP request ("GET ") or response ("HTTP/")
// is ZMTP over WebSocket (ZWS 2.0, the ws:// transport): the upgrade is an
// event (KindUpgrade) that names the mechanism in its subprotocol, the
// RFC 6455 frames are unmasked and reassembled, each binary message is one
// ZMTP frame (a flags octet, the body), and control frames are events of
// their own (KindWebSocket). A stream that begins with a TLS handshake
// record (wss://) is reported once (KindTLS) and not decoded.
//
// References:
//   - RFC 23/ZMTP 3.0 and RFC 37/ZMTP 3.1
//   - RFC 13/ZMTP 1.0 and RFC 15/ZMTP 2.0, for legacy peers
//   - RFC 24/ZMTP-PLAIN and RFC 26/CurveZMQ (RFC 25/ZMTP-CURVE)
//   - RFC 45/ZWS 2.0 and RFC 6455 (WebSocket)
package dump
