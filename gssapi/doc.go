// Package gssapi implements the GSSAPI security mechanism of ZMTP (RFC 38)
// with Kerberos V5 (RFC 4120, RFC 4121), in pure Go on top of
// github.com/jcmturner/gokrb5/v8, as libzmq 4.3 speaks it.
//
// It lives apart from package mechanism so that programs which do not use
// Kerberos do not build gokrb5 in. A *Mechanism is given to a socket like
// the other mechanisms:
//
//	opts := zmtp.Options{Mechanism: &gssapi.Mechanism{Client: cl, ServicePrincipal: "zmtp@host.example"}}
//
// # The exchange
//
// The client sends its Kerberos AP-REQ, as a GSS-API initial context token
// (RFC 2743 section 3.1), in an INITIATE command whose data is a 4-octet
// network-order length and the token. The server answers with the AP-REP
// in an INITIATE of the same form (libzmq always asks for mutual
// authentication); the client then sends an empty command frame. The
// server asks its Authenticator (ZAP, mechanism "GSSAPI", the client's
// principal name as the only credential) and sends READY; the client
// answers with READY. Unless Plaintext is set, both READY commands and
// every frame after the handshake travel in MESSAGE commands: a 4-octet
// length and an RFC 4121 wrap token with confidentiality, whose plaintext
// is one flags octet (0x01 more, 0x02 command) and the frame's body.
// With Plaintext (libzmq's ZMQ_GSSAPI_PLAINTEXT) READY and all frames
// travel in clear text after the Kerberos exchange; both peers must agree,
// as nothing on the wire says which they chose.
//
// Only the Kerberos mechanism of GSS-API is spoken (libzmq asks for the
// default mechanism, which is Kerberos with MIT's library), with the
// AES encryption types of RFC 3962 and RFC 8009. Credential delegation,
// channel bindings and SPNEGO are not used by libzmq and not offered.
//
// References: RFC 38 (ZMTP-GSSAPI), RFC 2743 (GSS-API), RFC 4121 (Kerberos
// V5 GSS-API mechanism), RFC 4120 (Kerberos V5), RFC 27 (ZAP).
package gssapi
