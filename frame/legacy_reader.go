package frame

import "io"

// SetFraming makes the Reader decode frames in framing f from its next
// frame on: ZMTP 2.0 or 1.0 after a downgraded greeting, or ZMTP 3.x (the
// default). Frames in legacy framing are never commands.
func (r *Reader) SetFraming(f Framing) { r.framing = f }

// readLegacyHeader is ReadHeader for ZMTP 1.0 and 2.0 framing.
func (r *Reader) readLegacyHeader() (Header, error) {
	if err := r.fill(1); err != nil {
		return Header{}, err
	}
	// A bad first octet is rejected without waiting for the rest.
	if _, _, err := ParseLegacyHeader(r.buf[r.rpos:r.rpos+1], r.framing); err != io.ErrUnexpectedEOF {
		return Header{}, err
	}
	if err := r.fill(legacyHeaderNeed(r.framing, r.buf[r.rpos])); err != nil {
		return Header{}, unexpected(err)
	}
	h, n, err := ParseLegacyHeader(r.buf[r.rpos:r.wpos], r.framing)
	if err != nil {
		return Header{}, err
	}
	if h.Size > r.max {
		return Header{}, ErrFrameTooLarge
	}
	r.rpos += n
	r.consumed += int64(n)
	return h, nil
}

// legacyFrameBuffered is FrameBuffered for ZMTP 1.0 and 2.0 framing.
func (r *Reader) legacyFrameBuffered() bool {
	h, n, err := ParseLegacyHeader(r.buf[r.rpos:r.wpos], r.framing)
	if err != nil {
		return err != io.ErrUnexpectedEOF
	}
	return uint64(r.wpos-r.rpos-n) >= h.Size
}
