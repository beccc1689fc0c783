package frame

// RADIO and DISH (RFC 48) attach a group to each message: 0 to 255
// octets, none of them zero. Over ZMTP a RADIO sends a message as two
// frames, the group (with MORE) and the body; a DISH tells a RADIO which
// groups it wants with JOIN and LEAVE commands whose data is the group
// (AppendJoin, AppendLeave, ParseGroup), to ZMTP 3.0 and 3.1 peers alike.
// Over udp each message is one datagram: a group size octet, the group,
// and the body (AppendDatagram, ParseDatagram).

// MaxDatagramSize is the largest datagram libzmq receives for a RADIO
// message over udp: its receive buffer is 8192 octets and a longer
// datagram is cut to that size.
const MaxDatagramSize = 8192

// Protocol violations of the group encodings.
var (
	ErrMalformedGroup    = &Error{"malformed group (more than 255 octets, or a zero octet)"}
	ErrMalformedDatagram = &Error{"malformed RADIO datagram"}
	ErrGroupMessage      = &Error{"a RADIO message is two frames, a group and a body"}
)

// CheckGroup reports whether group is a valid RFC 48 group: at most
// MaxGroupSize octets, none of them zero. It returns nil or
// ErrMalformedGroup.
func CheckGroup(group []byte) error {
	if len(group) > MaxGroupSize {
		return ErrMalformedGroup
	}
	for _, c := range group {
		if c == 0 {
			return ErrMalformedGroup
		}
	}
	return nil
}

// ParseGroupMessage splits a message received from a RADIO over ZMTP into
// its group and body: exactly two frames, the first a valid group. The
// results are views of msg. It returns ErrGroupMessage for any other
// number of frames and ErrMalformedGroup for an invalid group.
func ParseGroupMessage(msg [][]byte) (group, body []byte, err error) {
	if len(msg) != 2 {
		return nil, nil, ErrGroupMessage
	}
	if err := CheckGroup(msg[0]); err != nil {
		return nil, nil, err
	}
	return msg[0], msg[1], nil
}

// AppendDatagram appends the udp datagram of a RADIO message: the group's
// size in one octet, the group, the body. The group must be valid
// (CheckGroup); the caller keeps the result within MaxDatagramSize for
// libzmq peers.
func AppendDatagram(dst, group, body []byte) []byte {
	dst = append(dst, byte(len(group)))
	dst = append(dst, group...)
	return append(dst, body...)
}

// ParseDatagram splits a udp datagram from a RADIO into group and body,
// views of b. An empty datagram, a group size beyond the datagram and an
// invalid group are ErrMalformedDatagram.
func ParseDatagram(b []byte) (group, body []byte, err error) {
	if len(b) == 0 {
		return nil, nil, ErrMalformedDatagram
	}
	n := int(b[0])
	if n > len(b)-1 {
		return nil, nil, ErrMalformedDatagram
	}
	group = b[1 : 1+n]
	if CheckGroup(group) != nil {
		return nil, nil, ErrMalformedDatagram
	}
	return group, b[1+n:], nil
}
