// Wuserver is the Guide's weather update server: a PUB socket bound to
// tcp://*:5556 that publishes random weather updates.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	ctx := context.Background()
	publisher, _ := zmtp.NewBound(zmtp.Pub, "tcp://*:5556")
	defer publisher.Close()
	for {
		zipcode := rand.IntN(100000)
		temperature := rand.IntN(215) - 80
		relhumidity := rand.IntN(50) + 10
		// Formatted straight into the frame, which is sent without a copy.
		publisher.SendFrames(ctx, fmt.Appendf(nil, "%05d %d %d", zipcode, temperature, relhumidity))
	}
}
