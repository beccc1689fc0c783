package legacytest_test

import (
	"context"
	"fmt"
	"net"

	"github.com/zmtp-go/zmtp/zmtp"
	"github.com/zmtp-go/zmtp/zmtp/legacytest"
)

// A ZMTP 2.0 DEALER greets a zmtp.Conn (a ROUTER), which downgrades: the
// peer reads its signature, major version 3, socket-type octet 6 and
// identity frame, and the ROUTER takes the peer's identity.
func Example() {
	ours, theirs := net.Pipe()
	defer theirs.Close()
	peer := &legacytest.Peer{Conn: theirs, Kind: legacytest.V2, SocketType: legacytest.Dealer, Identity: []byte("peer-2")}
	greeted := make(chan legacytest.Greeting)
	go func() {
		g, _ := peer.Greet()
		greeted <- g
	}()
	c, err := zmtp.NewConn(context.Background(), ours, zmtp.ConnConfig{SocketType: "ROUTER", Identity: []byte("r")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	g := <-greeted
	fmt.Printf("% X | %d %d | %q\n", g.Signature, g.Major, g.SocketType, g.Identity)
	major, minor := c.Version()
	fmt.Printf("ZMTP %d.%d, peer identity %q\n", major, minor, c.PeerMetadata().Get("Identity"))
	// Output:
	// FF 00 00 00 00 00 00 00 02 7F | 3 6 | "r"
	// ZMTP 2.0, peer identity "peer-2"
}
