// Package mechanism implements ZMTP security handshakes as state machines
// over commands, with no I/O of their own: a Handshake is fed the commands
// received from the peer and answers with the commands to send.
//
// NULL (RFC 23 and RFC 37) is implemented here. Every mechanism ends with
// the peer's metadata, whose Socket-Type is checked against the
// compatibility table of RFC 37 (see Compatible).
//
// References:
//   - RFC 23/ZMTP 3.0: https://rfc.zeromq.org/spec/23/
//   - RFC 37/ZMTP 3.1: https://rfc.zeromq.org/spec/37/
//   - RFC 27/ZAP: https://rfc.zeromq.org/spec/27/
package mechanism
