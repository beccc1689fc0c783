package zmtp

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// unsent returns the octets written to nc that its peer has not yet read
// (ipc) or acknowledged (tcp), and whether the system could say.
func unsent(nc net.Conn) (int, bool) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	n, ierr := 0, error(nil)
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); err != nil || ierr != nil {
		return 0, false
	}
	return n, true
}
