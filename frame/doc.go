// Package frame is the ZMTP 3.x wire codec: greetings, frame headers,
// commands and metadata properties; and, for talking to older peers as
// libzmq does, the detection of ZMTP 1.0 and 2.0 peers, their greetings
// and their framing (legacy.go).
//
// It works on bytes only. Encoders append to a caller's slice
// (AppendX(dst, ...) []byte) and parsers return a value and an error,
// reporting io.ErrUnexpectedEOF when more bytes are needed. Reader is a thin
// streaming decoder over an io.Reader that never allocates more than its
// configured limit and never allocates ahead of the bytes actually received.
//
// Every malformed input yields an error for which errors.Is(err, ErrProtocol)
// is true; the specific cause can be tested with the other Err values.
//
// References:
//   - RFC 23/ZMTP 3.0: https://rfc.zeromq.org/spec/23/
//   - RFC 37/ZMTP 3.1: https://rfc.zeromq.org/spec/37/
//   - RFC 13 and RFC 15 (ZMTP 1.0 and 2.0), for talking to legacy peers.
package frame
