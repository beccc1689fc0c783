package perf

import (
	"fmt"
	"os"
	"strconv"

	"github.com/zmtp-go/zmtp/zmtp"
)

// Args parses the three arguments shared by the perf programs: endpoint,
// message size and count. It exits with a usage line when they are wrong.
func Args(usage string) (endpoint string, size, count int) {
	if len(os.Args) != 4 {
		fmt.Fprintf(os.Stderr, "usage: %s\n", usage)
		os.Exit(1)
	}
	size, err1 := strconv.Atoi(os.Args[2])
	count, err2 := strconv.Atoi(os.Args[3])
	if err1 != nil || err2 != nil || size < 0 || count < 1 {
		fmt.Fprintf(os.Stderr, "usage: %s\n", usage)
		os.Exit(1)
	}
	return os.Args[1], size, count
}

// Fatal prints err and exits.
func Fatal(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}

// Open returns a socket of type t bound to (bind) or connected to ep, and
// exits on failure.
func Open(t zmtp.SocketType, opts zmtp.Options, ep string, bind bool) *zmtp.Socket {
	s, err := zmtp.NewSocket(t, opts)
	if err != nil {
		Fatal(err)
	}
	if bind {
		err = s.Bind(ep)
	} else {
		err = s.Connect(ep)
	}
	if err != nil {
		Fatal(err)
	}
	return s
}

// Check exits unless m is one frame of size octets, as the perf programs
// exchange.
func Check(m zmtp.Message, size int) {
	if len(m.Frames) != 1 || len(m.Frames[0]) != size {
		Fatal(fmt.Errorf("message of wrong size"))
	}
}
