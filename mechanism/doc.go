// Package mechanism implements ZMTP security handshakes as state machines
// over commands, with no I/O of their own: a Handshake is fed the commands
// received from the peer and answers with the commands to send.
//
// NULL (RFC 23 and RFC 37), PLAIN (RFC 24) and CURVE (RFC 25 and RFC 26)
// are implemented here, with ZAP-style authentication (RFC 27) through the
// Authenticator interface; CURVE keys in Z85 text are handled by package
// z85 (RFC 32). Every mechanism ends with the peer's metadata, whose
// Socket-Type is checked against the compatibility table of RFC 37 (see
// Compatible). Servers fail closed: without an Authenticator, PLAIN and
// CURVE refuse every client (CURVE accepts any client key only with
// AllowAnyClient, which is stricter than libzmq).
//
// References:
//   - RFC 23/ZMTP 3.0: https://rfc.zeromq.org/spec/23/
//   - RFC 37/ZMTP 3.1: https://rfc.zeromq.org/spec/37/
//   - RFC 24/ZMTP-PLAIN: https://rfc.zeromq.org/spec/24/
//   - RFC 25/ZMTP-CURVE and RFC 26/CurveZMQ: https://rfc.zeromq.org/spec/26/
//   - RFC 27/ZAP: https://rfc.zeromq.org/spec/27/
package mechanism
