//go:build unix

package zmtp

import (
	"net"
	"syscall"
)

// rawWriter writes to a kernel socket without ever waiting for room (see
// Conn.writeDirect).
type rawWriter struct {
	rc    syscall.RawConn
	write func(fd uintptr) bool // made once: a write allocates nothing
	buf   []byte
	n     int
}

// newRawWriter returns the rawWriter of nc, or nil where there is none.
func newRawWriter(nc net.Conn) *rawWriter {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawWriter{rc: rc}
	r.write = func(fd uintptr) bool {
		n, err := syscall.Write(int(fd), r.buf)
		if err != nil {
			n = 0
		}
		r.n = n
		return true // never wait: what is left is the writer goroutine's
	}
	return r
}

// writeOnce writes what one system call takes of b, and returns how many
// octets that was (0 on any error, which the writer goroutine meets again).
func (r *rawWriter) writeOnce(b []byte) int {
	r.buf, r.n = b, 0
	if r.rc.Write(r.write) != nil {
		r.n = 0
	}
	r.buf = nil
	return r.n
}
