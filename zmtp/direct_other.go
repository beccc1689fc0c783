//go:build !unix

package zmtp

import "net"

// rawWriter writes to a kernel socket without waiting; there is none here.
type rawWriter struct{}

func newRawWriter(net.Conn) *rawWriter { return nil }

func (*rawWriter) writeOnce([]byte) int { return 0 }
