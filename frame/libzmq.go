package frame

// LibzmqErrorPrefix is how libzmq 4.3's PLAIN server starts the ERROR
// command it sends when it refuses a client: in C, the string "\x05ERROR"
// reads as the octet 0x5E (a hex escape takes every hex digit that
// follows) and "RROR", one octet short. frame.ParseCommand rejects it (a
// name of 0x5E octets does not fit).
const LibzmqErrorPrefix = "\x5e" + "RROR"

// ParseLibzmqError reports whether body is that malformed ERROR: 0x5E,
// "RROR", then a reason length and the reason, which must fill the body
// exactly. It returns the reason (libzmq sends the ZAP status code, such
// as "400").
func ParseLibzmqError(body []byte) (reason string, ok bool) {
	n := len(LibzmqErrorPrefix)
	if len(body) <= n || string(body[:n]) != LibzmqErrorPrefix || int(body[n]) != len(body)-n-1 {
		return "", false
	}
	return string(body[n+1:]), true
}
