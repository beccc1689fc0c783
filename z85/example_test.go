package z85_test

import (
	"fmt"

	"github.com/zmtp-go/zmtp/z85"
)

func ExampleEncodeToString() {
	text, err := z85.EncodeToString([]byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B})
	fmt.Println(text, err)
	// Output: HelloWorld <nil>
}

func ExampleDecodeString() {
	bin, err := z85.DecodeString("HelloWorld")
	fmt.Printf("% X %v\n", bin, err)

	_, err = z85.DecodeString("Hell")
	fmt.Println(err)
	// Output:
	// 86 4F D2 6F B5 59 F7 5B <nil>
	// z85: length is not a multiple of 4 (binary) or 5 (text)
}

func ExampleDecode() {
	dst := make([]byte, z85.DecodedLen(10))
	n, err := z85.Decode(dst, []byte("Hello Word"))
	fmt.Println(n, err)
	// Output: 0 z85: illegal character at offset 5
}
