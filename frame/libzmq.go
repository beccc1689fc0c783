package frame

// LibzmqErrorPrefix is how libzmq 4.3's PLAIN server (4.3.4 and 4.3.5
// alike) starts the ERROR command it sends when it refuses a client: in C,
// the string "\x05ERROR" reads as the octet 0x5E (a hex escape takes every
// hex digit that follows) and "RROR", one octet short. ParseCommand rejects
// it (a name of 0x5E octets does not fit). libzmq's PLAIN client compares
// with the same string, so it takes only this form for an ERROR: a
// well-formed one is an unexpected command to it. Its NULL and CURVE
// mechanisms send and expect the well-formed ERROR.
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

// AppendLibzmqErrorBody appends the body of that malformed ERROR carrying
// reason: LibzmqErrorPrefix, the reason length and the reason, truncated
// to MaxReasonSize octets. ParseLibzmqError reads it back.
func AppendLibzmqErrorBody(dst []byte, reason string) []byte {
	if len(reason) > MaxReasonSize {
		reason = reason[:MaxReasonSize]
	}
	dst = append(dst, LibzmqErrorPrefix...)
	dst = append(dst, byte(len(reason)))
	return append(dst, reason...)
}

// LibzmqError returns an ERROR command carrying reason (truncated to
// MaxReasonSize octets) that is written as libzmq 4.3's PLAIN server
// writes it: its Raw is the body AppendLibzmqErrorBody makes, and its Name
// and Data are those of the well-formed ERROR with the same reason.
func LibzmqError(reason string) Command {
	if len(reason) > MaxReasonSize {
		reason = reason[:MaxReasonSize]
	}
	return Command{
		Name: CmdError,
		Data: append([]byte{byte(len(reason))}, reason...),
		Raw:  AppendLibzmqErrorBody(nil, reason),
	}
}
