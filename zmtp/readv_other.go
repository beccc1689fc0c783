//go:build !linux

package zmtp

import "io"

// readSource returns what the frame reader of a connection reads from.
func readSource(cc *countingConn) io.Reader { return cc }
