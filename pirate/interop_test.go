package pirate

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestLazyClientAgainstLibzmqREP runs our LazyClient over TCP against a
// libzmq REP server (testdata/rep_server.py on pyzmq) that crashes on some
// requests and comes back on the same port: each such request is answered
// on the retry, once.
func TestLazyClientAgainstLibzmqREP(t *testing.T) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import zmq").CombinedOutput(); err != nil {
		t.Fatalf("this test needs %s with pyzmq (Debian package python3-zmq): %v\n%s", python, err, out)
	}
	cmd := exec.Command(python, "testdata/rep_server.py")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	defer func() {
		if stderr.Len() > 0 {
			t.Logf("server stderr:\n%s", stderr.String())
		}
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	var ep string
	select {
	case l := <-lines:
		ep = strings.TrimPrefix(l, "BOUND ")
	case <-time.After(time.Minute):
		t.Fatal("the server did not start")
	}
	// The timeout is what a dropped request costs: long enough for a
	// loaded machine to answer the others.
	c, err := NewLazyClient(ep, LazyOptions{Timeout: 3 * time.Second, Attempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for _, q := range []string{"a", "drop-1", "b", "drop-2", "c"} {
		r, err := c.Request(ctx, []byte(q), []byte("second"))
		if err != nil || frames(r) != frames([][]byte{[]byte("echo:" + q), []byte("second")}) {
			t.Fatalf("request %q: %s %v", q, frames(r), err)
		}
	}
	stdin.Close()
	var got []string
	for l := range lines {
		got = append(got, strings.TrimPrefix(l, "GOT "))
	}
	if want := "a drop-1 drop-1 b drop-2 drop-2 c"; strings.Join(got, " ") != want {
		t.Errorf("server saw %q, want %q", got, want)
	}
}
