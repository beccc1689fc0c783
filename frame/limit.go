package frame

// SetMaxFrameSize changes the largest frame body the Reader accepts, for
// example once a handshake with a tighter limit has succeeded. Values of
// zero or less, or above HardMaxFrameSize, mean HardMaxFrameSize.
func (r *Reader) SetMaxFrameSize(n int64) {
	if n <= 0 || n > HardMaxFrameSize {
		n = HardMaxFrameSize
	}
	r.max = uint64(n)
}
