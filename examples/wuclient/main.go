// Wuclient is the Guide's weather update client: a SUB socket connected
// to tcp://localhost:5556 that collects 100 updates for one zipcode
// (10001, or the first argument) and prints their average temperature.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/zmtp-go/zmtp/zmtp"
)

func main() {
	ctx := context.Background()
	fmt.Println("Collecting updates from weather server...")
	subscriber, _ := zmtp.NewConnected(zmtp.Sub, "tcp://localhost:5556")
	defer subscriber.Close()
	zipcode := "10001"
	if len(os.Args) > 1 {
		zipcode = os.Args[1]
	}
	subscriber.Subscribe([]byte(zipcode + " "))
	total := 0
	for range 100 {
		update, _ := subscriber.RecvString(ctx)
		var zip, temperature, relhumidity int
		fmt.Sscan(update, &zip, &temperature, &relhumidity)
		total += temperature
	}
	fmt.Printf("Average temperature for zipcode '%s' was %dF\n", zipcode, total/100)
}
