package perf

import (
	"fmt"
	"os"
	"strconv"
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
