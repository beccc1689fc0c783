//go:build stress

package stress

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zmtp-go/zmtp/zmtp"
)

// stuckAfter is how long a Send may wait for room before the pipeline
// from the PUSH to the PULL is deemed full: it moves in microseconds while
// it has room.
const stuckAfter = 3 * time.Second

// TestHWMBoundsLargeFrames fills the pipeline from a PUSH to a PULL that
// never reads, each with the same high-water mark, and checks that the
// messages accepted, and the memory they hold, are bounded by the two
// marks and what the kernel's socket buffers can hold.
func TestHWMBoundsLargeFrames(t *testing.T) {
	for _, tc := range []struct{ size, hwm int }{{64 * KiB, 1000}, {MiB, 100}} {
		t.Run(fmt.Sprintf("%s-HWM%d", sizeName(tc.size), tc.hwm), func(t *testing.T) {
			hwmFill(t, tc.size, tc.hwm)
		})
	}
}

func hwmFill(t *testing.T, size, hwm int) {
	pull := newSocket(t, zmtp.Pull, zmtp.Options{RecvHWM: zmtp.HWMOf(hwm)})
	ep := bind(t, pull)
	push := newSocket(t, zmtp.Push, zmtp.Options{SendHWM: zmtp.HWMOf(hwm)})
	ev := monitor(push, zmtp.EventHandshakeSucceeded)
	if err := push.Connect(ep); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, zmtp.EventHandshakeSucceeded, 1)

	kernel, err := kernelBuffers()
	if err != nil {
		t.Fatal(err)
	}
	// The PUSH's queue and writer hold at most hwm, the PULL's queue hwm
	// and its reader one more waiting for room; the kernel's send and
	// receive buffers hold the rest.
	bound := 2*hwm + 1 + int(kernel)/size + 1
	before := memNow(t)
	peak := sampleHeap()
	accepted := 0
	start := time.Now()
	for {
		// A new buffer each time, so that what the library holds shows in
		// the heap.
		msg := [][]byte{make([]byte, size)}
		ctx, cancel := context.WithTimeout(context.Background(), stuckAfter)
		err := push.Send(ctx, msg)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if accepted++; accepted > 4*bound {
			t.Fatalf("%d messages accepted and no back-pressure", accepted)
		}
	}
	elapsed := time.Since(start) - stuckAfter
	if err := push.TrySend([][]byte{make([]byte, size)}); !errors.Is(err, zmtp.ErrWouldBlock) {
		t.Errorf("TrySend on the full pipeline: %v, want ErrWouldBlock", err)
	}
	held := memNow(t)
	growth := held.goBytes() - before.goBytes()
	heapBound := int64(2*hwm+8) * int64(size)
	t.Logf("%d messages of %s accepted in %v before the pipeline filled (bound %d: 2×HWM %d + 2 + kernel buffers %.1f MiB = %d messages)",
		accepted, sizeName(size), elapsed.Round(time.Millisecond), bound, 2*hwm, mib(kernel), kernel/int64(size))
	t.Logf("Go heap + stacks held: %.1f MiB (bound (2×HWM+8)×%s = %.1f MiB); peak heap growth %.1f MiB",
		mib(growth), sizeName(size), mib(heapBound), mib(peak.growth()))
	if accepted > bound {
		t.Errorf("%d messages accepted, want at most %d", accepted, bound)
	}
	if growth > heapBound {
		t.Errorf("the full pipeline holds %.1f MiB of Go memory, want at most %.1f MiB", mib(growth), mib(heapBound))
	}
	if accepted < 2*hwm {
		// Not a bound, but less than libzmq's pipeline holds: a message
		// the PUSH's writer has written (even one the PULL has received)
		// counts against the PUSH's mark until the writer's whole batch is
		// written, and the PULL, full, stops that batch.
		t.Logf("note: fewer than 2×HWM (%d) messages fit in the pipeline", 2*hwm)
	}
}

// kernelBuffers returns the most a loopback TCP connection's send buffer
// and its peer's receive buffer can hold together: the largest sizes
// autotuning gives them (net.ipv4.tcp_wmem and tcp_rmem).
func kernelBuffers() (int64, error) {
	var total int64
	for _, name := range []string{"tcp_wmem", "tcp_rmem"} {
		b, err := os.ReadFile("/proc/sys/net/ipv4/" + name)
		if err != nil {
			return 0, err
		}
		f := strings.Fields(string(b))
		if len(f) != 3 {
			return 0, fmt.Errorf("%s: %q", name, b)
		}
		n, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}
