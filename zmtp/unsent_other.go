//go:build !linux

package zmtp

import "net"

// unsent returns the octets written to nc that its peer has not yet read,
// and whether the system could say: elsewhere than on Linux it cannot.
func unsent(nc net.Conn) (int, bool) { return 0, false }
