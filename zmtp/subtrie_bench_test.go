package zmtp

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchTopics returns n random topics of 4 to 19 octets.
func benchTopics(n int) [][]byte {
	r := rand.New(rand.NewPCG(3, 3))
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, 4+r.IntN(16))
		for j := range out[i] {
			out[i][j] = byte(r.Uint32())
		}
	}
	return out
}

// BenchmarkSubtrieMatch matches a message against 1000 subscriptions, one
// of which is a prefix of it.
func BenchmarkSubtrieMatch(b *testing.B) {
	topics := benchTopics(1000)
	var s subSet
	for _, t := range topics {
		s.add(t)
	}
	msg := append(append([]byte(nil), topics[500]...), "payload of the message"...)
	miss := []byte("\x00\x01\x02 no subscription starts so")
	s.remove(miss[:1]) // not there: changes nothing
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !s.match(msg) {
				b.Fatal("no match")
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.match(miss)
		}
	})
}

// BenchmarkSubtrieMatchOwners matches a message once for 100 owners of 10
// subscriptions each, 20 owners of which match it.
func BenchmarkSubtrieMatchOwners(b *testing.B) {
	topics := benchTopics(1000)
	var x subIndex[int]
	for i, t := range topics {
		x.addOwner(t, i%100)
	}
	msg := append(append([]byte(nil), topics[500]...), "payload"...)
	for o := 0; o < 20; o++ {
		x.addOwner(topics[500][:2], o)
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		x.matchOwners(msg, func(int) { n++ })
		if n != 20 {
			b.Fatalf("%d owners matched", n)
		}
	}
}

// BenchmarkSubtrieAddRemove subscribes and cancels a 16 octet topic in a
// set of 1000.
func BenchmarkSubtrieAddRemove(b *testing.B) {
	topics := benchTopics(1000)
	var s subSet
	for _, t := range topics {
		s.add(t)
	}
	topic := []byte("0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		s.add(topic)
		s.remove(topic)
	}
}

// BenchmarkSubtrieAddHuge subscribes and cancels one topic of 1 MiB and of
// 16 MiB.
func BenchmarkSubtrieAddHuge(b *testing.B) {
	for _, size := range []int{1 << 20, 16 << 20} {
		topic := make([]byte, size)
		for i := range topic {
			topic[i] = byte(i)
		}
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			var s subSet
			for b.Loop() {
				s.add(topic)
				s.remove(topic)
			}
		})
	}
}
