package zmtp_test

import (
	"context"
	"fmt"

	"github.com/zmtp-go/zmtp/zmtp"
)

// A RADIO sends each message with a group; a DISH receives the groups it
// joined. Over udp each message is one datagram, as libzmq sends it; over
// tcp, ipc and inproc the DISH tells the RADIO its groups (JOIN, LEAVE)
// and the RADIO sends only those.
func ExampleSocket_Join() {
	ctx := context.Background()
	dish, _ := zmtp.NewSocket(zmtp.Dish, zmtp.Options{})
	defer dish.Close()
	dish.Join("weather")
	if err := dish.Bind("udp://127.0.0.1:*"); err != nil { // or a group: udp://239.1.2.3:5555
		fmt.Println(err)
		return
	}

	radio, _ := zmtp.NewSocket(zmtp.Radio, zmtp.Options{})
	defer radio.Close()
	radio.Connect(dish.LastEndpoint())
	radio.SendGroup(ctx, "sports", []byte("2-1")) // not joined: the DISH drops it
	radio.SendGroup(ctx, "weather", []byte("sunny"))

	m, _ := dish.Recv(ctx)
	fmt.Printf("%s: %s\n", m.Group, m.Frames[0])
	// Output: weather: sunny
}
