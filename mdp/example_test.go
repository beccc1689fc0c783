package mdp_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/zmtp-go/zmtp/mdp"
	"github.com/zmtp-go/zmtp/zmtp"
)

// A broker, a worker of the "upper" service and a client, over inproc.
// Over tcp, leave Context out and use tcp:// endpoints.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	zc := zmtp.NewContext()

	b, _ := mdp.NewBroker(mdp.BrokerOptions{Context: zc})
	b.Bind("inproc://broker")
	brokerDone := make(chan error)
	go func() { brokerDone <- b.Run(ctx) }()

	w, _ := mdp.NewWorker("inproc://broker", "upper",
		mdp.HandlerFunc(func(ctx context.Context, req [][]byte) ([][]byte, error) {
			return [][]byte{[]byte(strings.ToUpper(string(req[0])))}, nil
		}), mdp.WorkerOptions{Context: zc})
	workerDone := make(chan error)
	go func() { workerDone <- w.Run(ctx) }()

	c, _ := mdp.NewClient("inproc://broker", mdp.ClientOptions{Context: zc})
	reply, err := c.Request(ctx, "upper", []byte("hello"))
	fmt.Printf("%s %v\n", reply[0], err)
	ok, _ := c.ServiceExists(ctx, "upper")
	fmt.Println("upper registered:", ok)
	c.Close()

	cancel()
	<-workerDone
	<-brokerDone
	// Output:
	// HELLO <nil>
	// upper registered: true
}
