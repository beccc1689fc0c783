package frame

import (
	"encoding/binary"
	"io"
)

// Frame flag bits (RFC 23 and RFC 37).
const (
	FlagMore     byte = 0x01 // more frames of the same message follow
	FlagLong     byte = 0x02 // the size field is 8 octets
	FlagCommand  byte = 0x04 // the frame is a command
	reservedBits byte = 0xF8
)

// Header sizes.
const (
	ShortHeaderSize = 2
	LongHeaderSize  = 9
	MaxHeaderSize   = LongHeaderSize
	maxShortSize    = 255
)

// Header is a decoded frame header.
type Header struct {
	// Flags holds FlagMore and FlagCommand as received. FlagLong is cleared:
	// the size form is a detail of the encoding.
	Flags byte
	// Size is the body size in octets.
	Size uint64
}

// More reports whether more frames of the same message follow.
func (h Header) More() bool { return h.Flags&FlagMore != 0 }

// IsCommand reports whether the frame is a command.
func (h Header) IsCommand() bool { return h.Flags&FlagCommand != 0 }

// HeaderSize returns the number of octets of the header that encodes a
// body of size octets: short form up to 255 octets, long form above.
func HeaderSize(size int) int {
	if size > maxShortSize {
		return LongHeaderSize
	}
	return ShortHeaderSize
}

// AppendHeader appends a frame header with the given flags (FlagMore,
// FlagCommand) for a body of size octets. It chooses the short form for
// bodies of up to 255 octets and the long form above; a FlagLong in flags is
// ignored. Flags are not validated: callers that need a protocol-violating
// header for negative tests can build one this way.
func AppendHeader(dst []byte, flags byte, size int) []byte {
	flags &^= FlagLong
	if size > maxShortSize {
		dst = append(dst, flags|FlagLong)
		return binary.BigEndian.AppendUint64(dst, uint64(size))
	}
	return append(dst, flags, byte(size))
}

// AppendFrame appends a whole frame: header and body.
func AppendFrame(dst []byte, flags byte, body []byte) []byte {
	return append(AppendHeader(dst, flags, len(body)), body...)
}

// ParseHeader parses a frame header at the start of b and returns it with
// the number of octets it occupies. It returns io.ErrUnexpectedEOF when b
// holds only part of a header. Reserved flag bits and MORE on a command are
// protocol errors. The long form is accepted for any size, also for bodies
// that would fit the short form. Sizes are not checked against any limit
// here; see Reader.
func ParseHeader(b []byte) (Header, int, error) {
	if len(b) == 0 {
		return Header{}, 0, io.ErrUnexpectedEOF
	}
	flags := b[0]
	if flags&reservedBits != 0 {
		return Header{}, 0, ErrReservedFlags
	}
	if flags&FlagCommand != 0 && flags&FlagMore != 0 {
		return Header{}, 0, ErrCommandMore
	}
	h := Header{Flags: flags &^ FlagLong}
	if flags&FlagLong == 0 {
		if len(b) < ShortHeaderSize {
			return Header{}, 0, io.ErrUnexpectedEOF
		}
		h.Size = uint64(b[1])
		return h, ShortHeaderSize, nil
	}
	if len(b) < LongHeaderSize {
		return Header{}, 0, io.ErrUnexpectedEOF
	}
	h.Size = binary.BigEndian.Uint64(b[1:LongHeaderSize])
	return h, LongHeaderSize, nil
}
