package zmtp

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// The mspoller loop fed by libzmq (through pyzmq): a libzmq PUSH and a
// libzmq XPUB, read by our PULL and SUB in one Poller.
func TestPollerLibzmqMsPoller(t *testing.T) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import zmq").CombinedOutput(); err != nil {
		t.Fatalf("this test needs %s with pyzmq (Debian package python3-zmq): %v\n%s", python, err, out)
	}
	ctx := testCtx(t)
	const n = 500
	cmd := exec.CommandContext(ctx, python, "testdata/mspoller_feed.py", fmt.Sprint(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("mspoller_feed.py: %v\n%s", err, stderr.String())
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	eps := strings.Fields(line)
	if err != nil || len(eps) != 2 {
		t.Fatalf("mspoller_feed.py printed %q (%v)\n%s", line, err, stderr.String())
	}

	receiver := newSock(t, Pull, Options{})
	subscriber := newSock(t, Sub, Options{})
	receiver.Connect(eps[0])
	subscriber.Subscribe([]byte("10001 "))
	subscriber.Connect(eps[1])
	poller := NewPoller()
	defer poller.Close()
	poller.Add(receiver, PollIn)
	poller.Add(subscriber, PollIn)
	tasks, updates := 0, 0
	for tasks < n || updates < n {
		ready, err := poller.Wait(ctx)
		if err != nil {
			t.Fatalf("Wait after %d tasks, %d updates: %v\n%s", tasks, updates, err, stderr.String())
		}
		for _, r := range ready {
			m, err := r.Socket.TryRecvString()
			switch r.Socket {
			case receiver:
				if want := fmt.Sprint("task ", tasks); err != nil || m != want {
					t.Fatalf("task: %q, %v; want %q", m, err, want)
				}
				tasks++
			case subscriber:
				if want := fmt.Sprint("10001 ", updates); err != nil || m != want {
					t.Fatalf("update: %q, %v; want %q", m, err, want)
				}
				updates++
			}
		}
	}
}
