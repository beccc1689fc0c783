//go:build !linux

package zmtp

import "syscall"

// udpReuse sets no socket options outside Linux: a multicast port is bound
// by one DISH of a host at a time.
func udpReuse(multicast bool) func(network, address string, c syscall.RawConn) error {
	return nil
}
