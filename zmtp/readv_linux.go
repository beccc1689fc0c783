package zmtp

import (
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// vectorConn is the source of the frame reader of a connection over a
// kernel socket (tcp, ipc): its countingConn, which is also a
// frame.VectorReader through readv on the socket, so that the end of a
// large body and the header after it come in one system call.
type vectorConn struct {
	*countingConn
	rc   syscall.RawConn
	iov  [2][]byte
	n    int
	err  error
	read func(fd uintptr) bool // v.readv, made once: reading allocates nothing
}

// readSource returns what the frame reader of a connection reads from:
// cc, or a vectorConn of it when cc's connection is a kernel socket of the
// net package (not a wrapper around one, which may read otherwise).
func readSource(cc *countingConn) io.Reader {
	switch cc.Conn.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return cc
	}
	rc, err := cc.Conn.(syscall.Conn).SyscallConn()
	if err != nil {
		return cc
	}
	v := &vectorConn{countingConn: cc, rc: rc}
	v.read = v.readv
	return v
}

// readv reads the socket into v.iov; it reports false when nothing has
// arrived, for rc.Read to wait until something has.
func (v *vectorConn) readv(fd uintptr) bool {
	for {
		v.n, v.err = unix.Readv(int(fd), v.iov[:])
		if v.err != unix.EINTR {
			return v.err != unix.EAGAIN
		}
	}
}

// ReadVector reads into a, then b, with one readv. The end of the stream,
// errors and deadlines are left to countingConn's Read, so that they are
// reported as the connection reports them.
func (v *vectorConn) ReadVector(a, b []byte) (int, error) {
	v.iov = [2][]byte{a, b}
	err := v.rc.Read(v.read)
	v.iov = [2][]byte{}
	if err != nil || v.err != nil || v.n <= 0 {
		return v.countingConn.Read(a)
	}
	v.counted(v.n)
	return v.n, nil
}
