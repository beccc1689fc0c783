package mdp

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// A handler that fails sends no reply: its worker leaves (DISCONNECT) and
// comes back after ReconnectMin, and the broker gives the request to a
// worker again, at most MaxDeliveries times; the client sees a reply when
// a later try succeeds, and a failure at MaxWait when none does. (Over
// TCP, in real time: the deadlines are generous and the counts exact.)
func TestHandlerFailure(t *testing.T) {
	b, _ := runBroker(t, "tcp://127.0.0.1:*")
	var mu sync.Mutex
	calls := map[string]int{}
	wk := runWorker(t, b.Endpoint(), "svc", func(ctx context.Context, req [][]byte) ([][]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		calls[string(req[0])]++
		if string(req[0]) == "poison" || calls[string(req[0])] == 1 {
			return nil, errors.New("failed")
		}
		return [][]byte{[]byte("ok")}, nil
	})
	c := newClient(t, b.Endpoint(), wait/2, 2)
	ctx := context.Background()
	r, err := c.Request(ctx, "svc", []byte("flaky"))
	if err != nil || frames(r) != `["ok"]` {
		t.Fatalf("flaky: %s %v", frames(r), err)
	}
	// The worker counts its reply once sent: the client may have it
	// first.
	eventually(t, "the worker's reply counted", func() bool { return wk.Stats().Replies == 1 })
	if s := wk.Stats(); s.Connects != 2 || s.Abandoned != 1 || s.Replies != 1 {
		t.Errorf("worker %+v after flaky", s)
	}

	// The poison request is dropped by the broker after MaxDeliveries
	// tries, long before the client's attempt times out.
	c2 := newClient(t, b.Endpoint(), 3*time.Second, 2)
	start := time.Now()
	if _, err := c2.Request(ctx, "svc", []byte("poison")); !errors.Is(err, ErrNoReply) {
		t.Fatalf("poison: %v", err)
	}
	if d := time.Since(start); d < c2.MaxWait() || d > c2.MaxWait()+wait {
		t.Errorf("poison failed after %v, want MaxWait (%v)", d, c2.MaxWait())
	}
	mu.Lock()
	n := calls["poison"]
	mu.Unlock()
	// Each of the client's two attempts is tried by MaxDeliveries workers.
	if n != 2*DefaultMaxDeliveries {
		t.Errorf("poison served %d times, want %d", n, 2*DefaultMaxDeliveries)
	}
	if s := b.Stats(); s.Expired != 2 || s.Replies != 1 {
		t.Errorf("broker %+v, want 2 requests dropped and 1 reply", s)
	}
}
