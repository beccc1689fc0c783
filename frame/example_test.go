package frame_test

import (
	"bytes"
	"fmt"

	"github.com/zmtp-go/zmtp/frame"
)

func ExampleAppendReady() {
	md := frame.Metadata{
		{Name: frame.PropSocketType, Value: []byte("DEALER")},
		{Name: frame.PropIdentity, Value: nil},
	}
	fmt.Printf("% X\n", frame.AppendReady(nil, md))
	// Output:
	// 04 29 05 52 45 41 44 59 0B 53 6F 63 6B 65 74 2D 54 79 70 65 00 00 00 06 44 45 41 4C 45 52 08 49 64 65 6E 74 69 74 79 00 00 00 00
}

func ExampleReader() {
	var stream []byte
	stream = frame.AppendReady(stream, frame.Metadata{{Name: frame.PropSocketType, Value: []byte("PUB")}})
	stream = frame.AppendFrame(stream, frame.FlagMore, []byte("weather"))
	stream = frame.AppendFrame(stream, 0, []byte("sunny"))

	r := frame.NewReader(bytes.NewReader(stream), 1<<20)
	for {
		f, err := r.ReadFrame()
		if err != nil {
			fmt.Println(err)
			break
		}
		if f.IsCommand() {
			cmd, err := frame.ParseCommand(f.Body)
			if err != nil {
				fmt.Println(err)
				break
			}
			md, err := frame.ParseMetadata(cmd.Data)
			if err != nil {
				fmt.Println(err)
				break
			}
			fmt.Printf("command %s, Socket-Type %s\n", cmd.Name, md.Get("socket-type"))
			continue
		}
		fmt.Printf("frame %q more=%v\n", f.Body, f.More())
	}
	// Output:
	// command READY, Socket-Type PUB
	// frame "weather" more=true
	// frame "sunny" more=false
	// EOF
}

func ExampleParseGreeting() {
	g := frame.Greeting{Major: 3, Minor: 1, Mechanism: frame.MechanismNull}
	b := frame.AppendGreeting(nil, g)
	fmt.Println(len(b))

	got, err := frame.ParseGreeting(b)
	fmt.Println(got.Mechanism, got.Version(), err)

	_, err = frame.ParseGreeting([]byte{0x01, 0x00})
	fmt.Println(err)
	// Output:
	// 64
	// NULL 31 <nil>
	// zmtp: peer speaks ZMTP 1.0
}

// A PLAIN server's refusal as libzmq writes it, and how a receiver that
// knows the form reads it back.
func ExampleLibzmqError() {
	cmd := frame.LibzmqError("400")
	wire := cmd.Append(nil)
	fmt.Printf("% X\n", wire)

	body := wire[2:] // after the short frame header
	if _, err := frame.ParseCommand(body); err != nil {
		reason, ok := frame.ParseLibzmqError(body)
		fmt.Println(err, "- libzmq's ERROR:", reason, ok)
	}
	// Output:
	// 04 09 5E 52 52 4F 52 03 34 30 30
	// zmtp: malformed command - libzmq's ERROR: 400 true
}
