package zmtp

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// udpReuse returns the socket options of a DISH's udp socket, as libzmq
// sets them: SO_REUSEADDR, and SO_REUSEPORT for a multicast group, so that
// several DISHes of one host can bind the group's port.
func udpReuse(multicast bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			if serr == nil && multicast {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}
