package zmtp

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// check verifies the invariants of the trie described in subtrie.go and
// its counters; it walks with its own stack.
func (t *subtrie[V]) check() error {
	if len(t.root.key) != 0 {
		return fmt.Errorf("root key %q", t.root.key)
	}
	type frame struct {
		n   *subNode[V]
		gp  int  // depth of the parent
		i   int  // next child
		own bool // a leaf below (or the node itself) owns the node's buffer
	}
	members, octets, leafOctets := 0, 0, 0
	if t.root.term {
		members++
	}
	leaves := map[*byte]bool{}
	stack := []frame{{n: &t.root, own: true}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		n := f.n
		if f.i == len(n.kids) {
			if !f.own {
				return fmt.Errorf("node %q: its buffer belongs to no leaf below it", n.key)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		e := n.kids[f.i]
		f.i++
		c := e.n
		d := len(n.key)
		if f.i > 1 && n.kids[f.i-2].b >= e.b {
			return fmt.Errorf("node %q: children not sorted", n.key)
		}
		if len(c.key) <= d {
			return fmt.Errorf("node %q: empty label", c.key)
		}
		if e.b != c.key[d] {
			return fmt.Errorf("node %q: edge octet %#x", c.key, e.b)
		}
		if !bytes.Equal(c.key[f.gp:d], n.key[f.gp:]) {
			return fmt.Errorf("node %q: path differs from its parent's %q", c.key, n.key)
		}
		if !c.term && len(c.kids) < 2 {
			return fmt.Errorf("node %q: neither a member nor a branch", c.key)
		}
		if c.term {
			members++
			octets += len(c.key)
		}
		if len(c.kids) == 0 {
			p := &c.key[0]
			if leaves[p] {
				return fmt.Errorf("leaf %q: buffer shared with another leaf", c.key)
			}
			leaves[p] = true
			if cap(c.key) != len(c.key) {
				return fmt.Errorf("leaf %q: buffer of %d octets", c.key, cap(c.key))
			}
			leafOctets += len(c.key)
			// The leaf's buffer: mark the ancestors that use it.
			for j := 1; j < len(stack); j++ {
				if &stack[j].n.key[0] == p {
					stack[j].own = true
				}
			}
			continue
		}
		stack = append(stack, frame{n: c, gp: d})
	}
	if members != t.n || octets != t.octets {
		return fmt.Errorf("counters %d topics %d octets, trie has %d and %d", t.n, t.octets, members, octets)
	}
	if leafOctets > t.octets {
		return fmt.Errorf("leaves keep %d octets for %d of topics", leafOctets, t.octets)
	}
	return nil
}

// setModel is the reference model of a subSet: a count per topic.
type setModel struct {
	count  map[string]int
	octets int // the sum of the lengths of the topics
}

func newSetModel() *setModel { return &setModel{count: map[string]int{}} }

func (m *setModel) add(topic []byte) bool {
	m.count[string(topic)]++
	if m.count[string(topic)] == 1 {
		m.octets += len(topic)
		return true
	}
	return false
}

func (m *setModel) remove(topic []byte) bool {
	c, ok := m.count[string(topic)]
	if !ok {
		return false
	}
	if c == 1 {
		delete(m.count, string(topic))
		m.octets -= len(topic)
		return true
	}
	m.count[string(topic)] = c - 1
	return false
}

func (m *setModel) match(data []byte) bool {
	for k := range m.count {
		if bytes.HasPrefix(data, []byte(k)) {
			return true
		}
	}
	return false
}

func (m *setModel) sorted() []string {
	out := make([]string, 0, len(m.count))
	for k := range m.count {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// listSet returns the topics of s in the order each gives them.
func listSet(s *subSet) []string {
	out := []string{}
	s.each(func(topic []byte) bool {
		out = append(out, string(topic))
		return true
	})
	return out
}

// topicGen makes topics that share prefixes, split and extend each other's
// labels, with the empty topic and the octets 0x00 and 0xFF among them.
type topicGen struct {
	r    *rand.Rand
	seen [][]byte
}

func (g *topicGen) next() []byte {
	alpha := []byte{0x00, 0x01, 'a', 'b', 0xFE, 0xFF}
	randBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[g.r.IntN(len(alpha))]
		}
		return b
	}
	var t []byte
	switch k := g.r.IntN(10); {
	case k < 3 || len(g.seen) == 0:
		t = randBytes(g.r.IntN(6))
	case k < 5: // a prefix of a known topic: splits its label
		s := g.seen[g.r.IntN(len(g.seen))]
		t = slices.Clone(s[:g.r.IntN(len(s)+1)])
	case k < 7: // a known topic made longer: a child of its node
		s := g.seen[g.r.IntN(len(g.seen))]
		t = append(slices.Clone(s), randBytes(1+g.r.IntN(30))...)
	case k < 9: // a known topic with one octet changed: a split and a sibling
		s := slices.Clone(g.seen[g.r.IntN(len(g.seen))])
		if len(s) > 0 {
			s[g.r.IntN(len(s))] ^= alpha[1+g.r.IntN(len(alpha)-1)]
		}
		t = s
	default: // a known topic as it is
		t = slices.Clone(g.seen[g.r.IntN(len(g.seen))])
	}
	if len(g.seen) < 400 {
		g.seen = append(g.seen, t)
	} else {
		g.seen[g.r.IntN(len(g.seen))] = t
	}
	return t
}

func TestSubtrieSetTable(t *testing.T) {
	type step struct {
		op    string // add, remove, match, has
		topic string
		want  bool
	}
	tests := []struct {
		name  string
		steps []step
		list  []string // the topics left, in order
	}{
		{"empty", []step{
			{"match", "", false}, {"match", "abc", false}, {"remove", "", false}, {"remove", "a", false},
		}, []string{}},
		{"counted", []step{
			{"add", "abc", true}, {"add", "abc", false}, {"remove", "abc", false},
			{"match", "abcd", true}, {"remove", "abc", true}, {"match", "abcd", false}, {"remove", "abc", false},
		}, []string{}},
		{"empty topic matches everything", []step{
			{"add", "", true}, {"match", "", true}, {"match", "\x00\xff", true}, {"add", "", false},
			{"remove", "", false}, {"remove", "", true}, {"match", "x", false},
		}, []string{}},
		{"prefix splits a label", []step{
			{"add", "abcdef", true}, {"add", "abc", true}, {"match", "abcx", true}, {"match", "abx", false},
			{"has", "abc", true}, {"has", "ab", false}, {"has", "abcdef", true}, {"has", "abcde", false},
		}, []string{"abc", "abcdef"}},
		{"sibling splits a label into a branch", []step{
			{"add", "abcdef", true}, {"add", "abxy", true}, {"has", "ab", false}, {"match", "ab", false},
			{"match", "abxyz", true}, {"match", "abcdex", false}, {"remove", "ab", false},
		}, []string{"abcdef", "abxy"}},
		{"branch merges when a sibling goes", []step{
			{"add", "abcdef", true}, {"add", "abxy", true}, {"remove", "abxy", true},
			{"match", "abcdefg", true}, {"match", "abxy", false}, {"has", "abcdef", true},
		}, []string{"abcdef"}},
		{"member with one child merges when removed", []step{
			{"add", "abc", true}, {"add", "abcdef", true}, {"remove", "abc", true},
			{"match", "abcd", false}, {"match", "abcdef", true},
		}, []string{"abcdef"}},
		{"member becomes a leaf when its child goes", []step{
			{"add", "abc", true}, {"add", "abcdef", true}, {"remove", "abcdef", true},
			{"match", "abcd", true}, {"has", "abc", true},
		}, []string{"abc"}},
		{"binary octets", []step{
			{"add", "\x00", true}, {"add", "\xff\x00", true}, {"add", "\xff\xff", true},
			{"match", "\x00\x00", true}, {"match", "\xff", false}, {"match", "\xff\x00\x01", true},
			{"match", "\x01", false}, {"remove", "\xff\x00", true}, {"match", "\xff\x00", false},
		}, []string{"\x00", "\xff\xff"}},
		{"unknown topics change nothing", []step{
			{"add", "abc", true}, {"remove", "ab", false}, {"remove", "abcd", false}, {"remove", "x", false},
			{"remove", "", false}, {"has", "abc", true},
		}, []string{"abc"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s subSet
			for i, st := range tc.steps {
				var got bool
				switch st.op {
				case "add":
					got = s.add([]byte(st.topic))
				case "remove":
					got = s.remove([]byte(st.topic))
				case "match":
					got = s.match([]byte(st.topic))
				case "has":
					got = s.has([]byte(st.topic))
				}
				if got != st.want {
					t.Fatalf("step %d: %s(%q) = %v, want %v", i, st.op, st.topic, got, st.want)
				}
				if err := s.t.check(); err != nil {
					t.Fatalf("step %d: %s(%q): %v", i, st.op, st.topic, err)
				}
			}
			if got := listSet(&s); !slices.Equal(got, tc.list) {
				t.Fatalf("topics %q, want %q", got, tc.list)
			}
			if s.len() != len(tc.list) {
				t.Fatalf("len %d, want %d", s.len(), len(tc.list))
			}
		})
	}
}

// TestSubtrieSetRandom runs random operations on a subSet and on a
// reference model and compares every result, the topics and the trie's
// invariants.
func TestSubtrieSetRandom(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		g := &topicGen{r: r}
		var s subSet
		m := newSetModel()
		for i := 0; i < 15000; i++ {
			topic := g.next()
			var got, want bool
			op := r.IntN(10)
			switch {
			case op < 4:
				got, want = s.add(topic), m.add(topic)
			case op < 8:
				got, want = s.remove(topic), m.remove(topic)
			case op < 9:
				data := append(topic, g.next()...)
				got, want = s.match(data), m.match(data)
			default:
				_, want = m.count[string(topic)]
				got = s.has(topic)
			}
			if got != want {
				t.Fatalf("seed %d op %d (%d) on %q: got %v, want %v", seed, i, op, topic, got, want)
			}
			if s.len() != len(m.count) || s.bytes() != m.octets {
				t.Fatalf("seed %d op %d: len %d bytes %d, want %d and %d", seed, i, s.len(), s.bytes(), len(m.count), m.octets)
			}
			if i%20 == 0 {
				if err := s.t.check(); err != nil {
					t.Fatalf("seed %d op %d: %v", seed, i, err)
				}
			}
			if i%500 == 0 {
				if got, want := listSet(&s), m.sorted(); !slices.Equal(got, want) {
					t.Fatalf("seed %d op %d: topics %q, want %q", seed, i, got, want)
				}
			}
		}
		// Empty it: no node may be left.
		for _, k := range m.sorted() {
			for m.count[k] > 0 {
				if got, want := s.remove([]byte(k)), m.remove([]byte(k)); got != want {
					t.Fatalf("seed %d: draining %q: got %v, want %v", seed, k, got, want)
				}
			}
		}
		if s.len() != 0 || s.bytes() != 0 || len(s.t.root.kids) != 0 || s.t.root.term {
			t.Fatalf("seed %d: not empty after removing everything: %d topics", seed, s.len())
		}
	}
}

// indexModel is the reference model of a subIndex: the owners of each
// topic.
type indexModel struct {
	owners map[string]map[int]bool
	octets int // the sum of the lengths of the topics
}

func newIndexModel() *indexModel { return &indexModel{owners: map[string]map[int]bool{}} }

func (m *indexModel) add(topic []byte, o int) (bool, bool) {
	owners := m.owners[string(topic)]
	if owners[o] {
		return false, false
	}
	first := owners == nil
	if first {
		owners = map[int]bool{}
		m.owners[string(topic)] = owners
		m.octets += len(topic)
	}
	owners[o] = true
	return true, first
}

func (m *indexModel) remove(topic []byte, o int) (bool, bool) {
	owners := m.owners[string(topic)]
	if !owners[o] {
		return false, false
	}
	delete(owners, o)
	if len(owners) == 0 {
		delete(m.owners, string(topic))
		m.octets -= len(topic)
		return true, true
	}
	return true, false
}

func (m *indexModel) match(data []byte) []int {
	set := map[int]bool{}
	for k, owners := range m.owners {
		if bytes.HasPrefix(data, []byte(k)) {
			for o := range owners {
				set[o] = true
			}
		}
	}
	out := []int{}
	for o := range set {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}

func (m *indexModel) owned(o int) (int, int) {
	n, b := 0, 0
	for k, owners := range m.owners {
		if owners[o] {
			n++
			b += len(k)
		}
	}
	return n, b
}

// TestSubtrieIndexRandom runs random operations on a subIndex and on a
// reference model and compares every result; owners are many enough for a
// topic's owners to be kept in a map as well as in a slice.
func TestSubtrieIndexRandom(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		r := rand.New(rand.NewPCG(seed, 0x1de))
		g := &topicGen{r: r}
		var x subIndex[int]
		m := newIndexModel()
		owners := 3 + int(seed)*5 // up to 23: more than subOwnersFew
		for i := 0; i < 20000; i++ {
			topic := g.next()
			o := r.IntN(owners)
			op := r.IntN(100)
			switch {
			case op < 45:
				n1, f1 := x.addOwner(topic, o)
				n2, f2 := m.add(topic, o)
				if n1 != n2 || f1 != f2 {
					t.Fatalf("seed %d op %d: addOwner(%q, %d) = %v %v, want %v %v", seed, i, topic, o, n1, f1, n2, f2)
				}
			case op < 85:
				r1, l1 := x.removeOwner(topic, o)
				r2, l2 := m.remove(topic, o)
				if r1 != r2 || l1 != l2 {
					t.Fatalf("seed %d op %d: removeOwner(%q, %d) = %v %v, want %v %v", seed, i, topic, o, r1, l1, r2, l2)
				}
			case op < 87:
				// Before: the topics o has, and which of them o alone has.
				want := map[string]bool{}
				for k, ow := range m.owners {
					if ow[o] {
						want[k] = len(ow) == 1
					}
				}
				for k := range want {
					m.remove([]byte(k), o)
				}
				got := map[string]bool{}
				x.removeAll(o, func(topic []byte, last bool) {
					if _, dup := got[string(topic)]; dup {
						t.Fatalf("seed %d op %d: removeAll(%d) reported %q twice", seed, i, o, topic)
					}
					got[string(topic)] = last
				})
				if len(got) != len(want) {
					t.Fatalf("seed %d op %d: removeAll(%d) reported %d topics, want %d", seed, i, o, len(got), len(want))
				}
				for k, last := range want {
					if l, ok := got[k]; !ok || l != last {
						t.Fatalf("seed %d op %d: removeAll(%d) on %q: %v %v, want last %v", seed, i, o, k, ok, l, last)
					}
				}
			default:
				data := append(topic, g.next()...)
				got := []int{}
				x.matchOwners(data, func(o int) { got = append(got, o) })
				slices.Sort(got)
				if want := m.match(data); !slices.Equal(got, want) {
					t.Fatalf("seed %d op %d: matchOwners(%q) = %v, want %v (each owner once)", seed, i, data, got, want)
				}
				if x.match(data) != (len(m.match(data)) > 0) {
					t.Fatalf("seed %d op %d: match(%q) = %v", seed, i, data, x.match(data))
				}
			}
			if x.len() != len(m.owners) || x.bytes() != m.octets {
				t.Fatalf("seed %d op %d: len %d bytes %d, want %d and %d", seed, i, x.len(), x.bytes(), len(m.owners), m.octets)
			}
			if i%20 == 0 {
				n1, b1 := x.owned(o)
				n2, b2 := m.owned(o)
				if n1 != n2 || b1 != b2 {
					t.Fatalf("seed %d op %d: owned(%d) = %d %d, want %d %d", seed, i, o, n1, b1, n2, b2)
				}
				if err := x.t.check(); err != nil {
					t.Fatalf("seed %d op %d: %v", seed, i, err)
				}
				if err := x.checkOwners(); err != nil {
					t.Fatalf("seed %d op %d: %v", seed, i, err)
				}
			}
		}
		for o := 0; o < owners; o++ {
			x.removeAll(o, nil)
		}
		if x.len() != 0 || x.bytes() != 0 || len(x.t.root.kids) != 0 || x.t.root.term || len(x.owners) != 0 {
			t.Fatalf("seed %d: not empty after removeAll of every owner: %d topics", seed, x.len())
		}
	}
}

// checkOwners verifies that the owners' node sets and the nodes' owner sets
// agree, and that every node of an owner is a member.
func (x *subIndex[T]) checkOwners() error {
	links := 0
	for id, r := range x.owners {
		if r.id != id {
			return fmt.Errorf("owner %v filed as %v", r.id, id)
		}
		if len(r.nodes) == 0 {
			return fmt.Errorf("owner %v kept without topics", id)
		}
		octets := 0
		for n := range r.nodes {
			if !n.term || !n.val.has(r) || x.t.lookup(n.key) != n {
				return fmt.Errorf("owner %v: node %q is not its member", id, n.key)
			}
			octets += len(n.key)
		}
		if octets != r.octets {
			return fmt.Errorf("owner %v: %d octets counted, %d in its topics", id, r.octets, octets)
		}
		links += len(r.nodes)
	}
	total := 0
	var err error
	x.t.each(func(topic []byte, s *subOwners[T]) bool {
		if s.len() == 0 {
			err = fmt.Errorf("topic %q without owners", topic)
			return false
		}
		if s.pos != nil && (len(s.pos) <= subOwnersFew/2 || len(s.pos) != len(s.list)) {
			err = fmt.Errorf("topic %q: an index of %d for %d owners", topic, len(s.pos), len(s.list))
			return false
		}
		for i, r := range s.list {
			if k, ok := s.pos[r]; s.pos != nil && (!ok || k != i) {
				err = fmt.Errorf("topic %q: owner %d of the list indexed at %d", topic, i, k)
				return false
			}
		}
		total += s.len()
		return true
	})
	if err != nil {
		return err
	}
	if total != links {
		return fmt.Errorf("%d owner links from the topics, %d from the owners", total, links)
	}
	return nil
}

func TestSubtrieIndexTable(t *testing.T) {
	var x subIndex[string]
	type step struct {
		op, topic, owner string
		a, b             bool // the two results
	}
	steps := []step{
		{"add", "ab", "p", true, true},
		{"add", "ab", "p", false, false}, // a set per owner
		{"add", "ab", "q", true, false},
		{"add", "", "q", true, true},
		{"add", "abcdef", "r", true, true},
		{"remove", "ab", "r", false, false},
		{"remove", "ab", "p", true, false},
		{"remove", "ab", "p", false, false},
		{"remove", "ab", "q", true, true},
		{"remove", "ab", "q", false, false},
		{"remove", "x", "nobody", false, false},
	}
	for i, st := range steps {
		var a, b bool
		if st.op == "add" {
			a, b = x.addOwner([]byte(st.topic), st.owner)
		} else {
			a, b = x.removeOwner([]byte(st.topic), st.owner)
		}
		if a != st.a || b != st.b {
			t.Fatalf("step %d: %s(%q, %q) = %v %v, want %v %v", i, st.op, st.topic, st.owner, a, b, st.a, st.b)
		}
		if err := x.t.check(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	// q has "" and r "abcdef": a message "abcdefg" matches both, once each.
	x.addOwner([]byte("abc"), "r")
	x.addOwner([]byte("a"), "r")
	var got []string
	x.matchOwners([]byte("abcdefg"), func(o string) { got = append(got, o) })
	slices.Sort(got)
	if !slices.Equal(got, []string{"q", "r"}) {
		t.Fatalf("matchOwners reported %q, want each of q and r once", got)
	}
	got = got[:0]
	x.matchOwners([]byte("b"), func(o string) { got = append(got, o) })
	if !slices.Equal(got, []string{"q"}) {
		t.Fatalf("matchOwners(b) reported %q, want q", got)
	}
	var gone []string
	x.removeAll("r", func(topic []byte, last bool) { gone = append(gone, fmt.Sprintf("%s:%v", topic, last)) })
	slices.Sort(gone)
	if want := []string{"a:true", "abc:true", "abcdef:true"}; !slices.Equal(gone, want) {
		t.Fatalf("removeAll(r) reported %q, want %q", gone, want)
	}
	if n, b := x.owned("q"); n != 1 || b != 0 || x.len() != 1 {
		t.Fatalf("after removeAll(r): q owns %d topics of %d octets, %d topics in all", n, b, x.len())
	}
}

// heapAlloc returns the live heap after a collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// onGoroutine runs fn on a new goroutine and waits for it: a recursion as
// deep as a long topic would overflow the goroutine's stack and crash.
func onGoroutine(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// TestSubtrieHugeTopic subscribes a topic of 16 MiB, splits and merges its
// label, lists it, matches it and cancels it: one node and about one copy
// of the topic in memory, all of it given back.
func TestSubtrieHugeTopic(t *testing.T) {
	const size = 16 << 20
	const limit = 64 << 20
	topic := make([]byte, size)
	for i := range topic {
		topic[i] = byte(i*7 + i>>13)
	}
	data := append(slices.Clone(topic), "tail"...)
	short, near := topic[:3], slices.Clone(topic)
	near[size-1]++
	base := heapAlloc()

	var s subSet
	start := time.Now()
	s.add(topic)
	addTook := time.Since(start)
	held := heapAlloc() - base
	t.Logf("subSet: add of a 16 MiB topic took %v, heap grew by %.1f MiB", addTook, float64(held)/(1<<20))
	if held > limit {
		t.Fatalf("heap grew by %d octets for a %d octet topic", held, size)
	}
	// Split the huge label near its start and its end, then merge it back.
	start = time.Now()
	s.add(short)
	s.add(near)
	s.add(topic)
	if !s.match(data) || !s.match(topic[:10]) || s.match(topic[:2]) || s.len() != 3 {
		t.Fatal("wrong matches with the huge topic split")
	}
	if err := s.t.check(); err != nil {
		t.Fatal(err)
	}
	s.remove(short)
	s.remove(near)
	s.remove(topic)
	t.Logf("subSet: split and merge of the 16 MiB label took %v", time.Since(start))
	if held := heapAlloc() - base; held > limit {
		t.Fatalf("heap grew by %d octets with the label split", held)
	}
	if !s.match(data) || s.match(topic[:size-1]) || !s.has(topic) || s.len() != 1 {
		t.Fatal("wrong matches after the merge")
	}
	onGoroutine(func() {
		n := 0
		s.each(func(got []byte) bool {
			n++
			if !bytes.Equal(got, topic) {
				t.Errorf("each gave %d octets, not the topic", len(got))
			}
			return true
		})
		if n != 1 {
			t.Errorf("each gave %d topics", n)
		}
	})
	if len(s.t.root.kids) != 1 || len(s.t.root.kids[0].n.kids) != 0 {
		t.Fatal("the topic is not one node")
	}
	start = time.Now()
	if !s.remove(topic) {
		t.Fatal("remove did not report the last subscription")
	}
	t.Logf("subSet: remove took %v", time.Since(start))
	if left := int64(heapAlloc()) - int64(base); left > 1<<20 {
		t.Fatalf("%d octets still held after the cancel", left)
	}

	// The same through a subIndex, with three owners.
	var x subIndex[int]
	start = time.Now()
	x.addOwner(topic, 1)
	x.addOwner(topic, 2)
	x.addOwner(topic[:5], 3)
	x.addOwner(near, 3)
	t.Logf("subIndex: three owners of a 16 MiB topic took %v", time.Since(start))
	if held := heapAlloc() - base; held > limit {
		t.Fatalf("heap grew by %d octets for two topics of 16 MiB", held)
	}
	var got []int
	x.matchOwners(data, func(o int) { got = append(got, o) })
	slices.Sort(got)
	if !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("matchOwners reported %v", got)
	}
	onGoroutine(func() {
		for o := 1; o <= 3; o++ {
			x.removeAll(o, nil)
		}
	})
	if x.len() != 0 {
		t.Fatalf("%d topics left", x.len())
	}
	if left := int64(heapAlloc()) - int64(base); left > 1<<20 {
		t.Fatalf("%d octets still held after removeAll", left)
	}
	runtime.KeepAlive(data)
	runtime.KeepAlive(topic)
	runtime.KeepAlive(near)
}

// TestSubtrieDeep makes tries as deep as their topics are long: "a",
// "aa", "aaa" and so on to 20000 octets, one node per topic in a chain,
// and works on them from the deep end; operations run on a goroutine of
// their own, whose stack a recursion that deep would overflow.
func TestSubtrieDeep(t *testing.T) {
	const deepest = 20000
	long := bytes.Repeat([]byte("a"), deepest+1)
	var s subSet
	var x subIndex[int]
	start := time.Now()
	onGoroutine(func() {
		// Longest first: each topic splits the label of the one before.
		for n := deepest; n >= 1; n-- {
			s.add(long[:n])
			x.addOwner(long[:n], 0)
			if n > deepest-10 {
				x.addOwner(long[:n], 1)
			}
		}
	})
	t.Logf("%d topics of 1 to %d octets in a subSet and a subIndex: added in %v", deepest, deepest, time.Since(start))
	if s.len() != deepest || s.bytes() != deepest*(deepest+1)/2 {
		t.Fatalf("len %d bytes %d", s.len(), s.bytes())
	}
	depth := 0
	for n := &s.t.root; len(n.kids) > 0; n = n.kids[0].n {
		depth++
	}
	if depth != deepest {
		t.Fatalf("a chain of %d nodes, want %d", depth, deepest)
	}
	start = time.Now()
	onGoroutine(func() {
		if !s.match(long) || !s.match(long[:1]) || s.match([]byte("b")) {
			t.Error("wrong match")
		}
		var got []int
		x.matchOwners(long, func(o int) { got = append(got, o) })
		if slices.Sort(got); !slices.Equal(got, []int{0, 1}) {
			t.Errorf("matchOwners reported %v, want 0 and 1", got)
		}
		n := 0
		s.each(func(topic []byte) bool {
			n++
			if len(topic) != n {
				t.Errorf("topic %d has %d octets", n, len(topic))
				return false
			}
			return true
		})
		if n != deepest {
			t.Errorf("each gave %d topics", n)
		}
		// At the deep end: the last leaf goes (its parent becomes a leaf
		// and takes a buffer of its own) and comes back (the parent gives
		// it up), a member in the middle goes (a merge) and comes back (a
		// split).
		for _, k := range []int{deepest, deepest / 2} {
			if !s.remove(long[:k]) || s.has(long[:k]) || !s.has(long[:k-1]) {
				t.Errorf("remove of %d octets", k)
			}
			if err := s.t.check(); err != nil {
				t.Error(err)
			}
			if !s.add(long[:k]) {
				t.Errorf("add of %d octets", k)
			}
			if err := s.t.check(); err != nil {
				t.Error(err)
			}
		}
		// Shortest first: each removal merges the top of the chain.
		for k := 1; k <= deepest; k++ {
			if !s.remove(long[:k]) {
				t.Errorf("remove of %d octets", k)
				return
			}
			if r, l := x.removeOwner(long[:k], 0); !r || l != (k <= deepest-10) {
				t.Errorf("removeOwner of %d octets: %v %v", k, r, l)
				return
			}
		}
		n = 0
		x.removeAll(1, func(topic []byte, last bool) {
			n++
			if !last || len(topic) <= deepest-10 {
				t.Errorf("removeAll reported %d octets, last %v", len(topic), last)
			}
		})
		if n != 10 {
			t.Errorf("removeAll reported %d topics, want 10", n)
		}
	})
	t.Logf("matched, listed and removed in %v", time.Since(start))
	if s.len() != 0 || len(s.t.root.kids) != 0 || x.len() != 0 || len(x.t.root.kids) != 0 {
		t.Fatalf("left %d and %d topics", s.len(), x.len())
	}

	// Shortest first, in a smaller trie: each topic makes the leaf before
	// it a member with a child, whose buffer the chain above takes from
	// the new leaf; all removed from the deep end.
	const chain = 2000
	var a subSet
	onGoroutine(func() {
		for n := 1; n <= chain; n++ {
			a.add(long[:n])
		}
		if err := a.t.check(); err != nil {
			t.Error(err)
		}
		for n := chain; n >= 1; n-- {
			if !a.remove(long[:n]) {
				t.Errorf("remove of %d octets", n)
				return
			}
		}
	})
	if a.len() != 0 || len(a.t.root.kids) != 0 {
		t.Fatalf("left %d topics", a.len())
	}
}

// TestSubtrieMemoryPerTopic stores 100000 random topics of 16 octets and
// bounds the memory used beyond their octets.
func TestSubtrieMemoryPerTopic(t *testing.T) {
	const n, size = 100000, 16
	r := rand.New(rand.NewPCG(7, 7))
	topics := make([][]byte, n)
	for i := range topics {
		topics[i] = make([]byte, size)
		for j := range topics[i] {
			topics[i][j] = byte(r.Uint32())
		}
	}
	base := heapAlloc()
	var s subSet
	for _, tp := range topics {
		s.add(tp)
	}
	setPer := float64(heapAlloc()-base) / n
	var x subIndex[int]
	for i, tp := range topics {
		x.addOwner(tp, i%4)
	}
	indexPer := float64(heapAlloc()-base)/n - setPer
	t.Logf("per topic of %d octets: subSet %.1f octets, subIndex (4 owners) %.1f octets", size, setPer, indexPer)
	if setPer-size > 200 {
		t.Errorf("subSet: %.1f octets per topic beyond its %d", setPer-size, size)
	}
	if indexPer-size > 300 {
		t.Errorf("subIndex: %.1f octets per topic beyond its %d", indexPer-size, size)
	}
	for _, tp := range topics {
		s.remove(tp)
	}
	for o := 0; o < 4; o++ {
		x.removeAll(o, nil)
	}
	if left := int64(heapAlloc()) - int64(base); left > 1<<20 {
		t.Errorf("%d octets still held after removing every topic", left)
	}
	runtime.KeepAlive(topics)
}

// TestSubtrieAllocs bounds the allocations of each operation, whatever the
// topic's length.
func TestSubtrieAllocs(t *testing.T) {
	for _, size := range []int{16, 1 << 16} {
		topic := bytes.Repeat([]byte{'x'}, size)
		other := slices.Clone(topic)
		other[size/2] = 'y'
		var s subSet
		s.add(topic)
		s.add([]byte("a"))
		// A new topic that splits a label: the leaf, its buffer, the split
		// node, its child list.
		if a := testing.AllocsPerRun(50, func() { s.add(other); s.remove(other) }); a > 6 {
			t.Errorf("%d octets: add and remove of a topic that splits a label: %.0f allocations", size, a)
		}
		if a := testing.AllocsPerRun(50, func() { s.add(topic); s.remove(topic) }); a != 0 {
			t.Errorf("%d octets: add and remove of a topic already there: %.0f allocations", size, a)
		}
		data := append(slices.Clone(topic), "more"...)
		if a := testing.AllocsPerRun(50, func() { s.match(data) }); a != 0 {
			t.Errorf("%d octets: match: %.0f allocations", size, a)
		}
		var x subIndex[int]
		x.addOwner(topic, 1)
		x.addOwner(topic[:3], 2)
		calls := 0
		if a := testing.AllocsPerRun(50, func() { x.matchOwners(data, func(int) { calls++ }) }); a != 0 {
			t.Errorf("%d octets: matchOwners: %.0f allocations", size, a)
		}
	}
}

// TestSubtrieListingOrder checks that each lists topics in order of their
// octets and stops when told to.
func TestSubtrieListingOrder(t *testing.T) {
	var s subSet
	in := []string{"b", "", "\xff", "\x00", "ab", "a", "abc", "b\x00"}
	for _, tp := range in {
		s.add([]byte(tp))
	}
	want := slices.Clone(in)
	sort.Strings(want)
	if got := listSet(&s); !slices.Equal(got, want) {
		t.Fatalf("each gave %q, want %q", got, want)
	}
	var first []string
	s.each(func(topic []byte) bool {
		first = append(first, string(topic))
		return len(first) < 3
	})
	if !slices.Equal(first, want[:3]) {
		t.Fatalf("each did not stop: %q", first)
	}
	// The slices given must not let a caller's append reach the trie.
	s.each(func(topic []byte) bool {
		_ = append(topic, strings.Repeat("!", 8)...)
		return true
	})
	if err := s.t.check(); err != nil {
		t.Fatal(err)
	}
	if got := listSet(&s); !slices.Equal(got, want) {
		t.Fatalf("after appends to the given topics: %q", got)
	}
}

// FuzzSubtrie reads operations from its input (an operation octet, a
// length octet and that many topic octets, over and over) and runs them on
// a subSet and a subIndex and on their reference models.
func FuzzSubtrie(f *testing.F) {
	f.Add([]byte("\x00\x03abc\x00\x06abcdef\x01\x03abc\x02\x07abcdefg\x00\x00\x03\x01x"))
	f.Add([]byte("\x00\x02\xff\x00\x00\x02\xff\xff\x04\x02\xff\x00\x05\x01\xff\x06\x00\x07\x02\xff\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var s subSet
		var x subIndex[int]
		m := newSetModel()
		mi := newIndexModel()
		for len(in) >= 2 {
			op, n := in[0], int(in[1])
			in = in[2:]
			n = min(n, len(in))
			topic := in[:n]
			in = in[n:]
			o := int(op>>3) % 4
			switch op % 8 {
			case 0:
				if got, want := s.add(topic), m.add(topic); got != want {
					t.Fatalf("add(%q) = %v", topic, got)
				}
			case 1:
				if got, want := s.remove(topic), m.remove(topic); got != want {
					t.Fatalf("remove(%q) = %v", topic, got)
				}
			case 2:
				if got, want := s.match(topic), m.match(topic); got != want {
					t.Fatalf("match(%q) = %v", topic, got)
				}
			case 3, 4:
				n1, f1 := x.addOwner(topic, o)
				n2, f2 := mi.add(topic, o)
				if n1 != n2 || f1 != f2 {
					t.Fatalf("addOwner(%q, %d) = %v %v", topic, o, n1, f1)
				}
			case 5:
				r1, l1 := x.removeOwner(topic, o)
				r2, l2 := mi.remove(topic, o)
				if r1 != r2 || l1 != l2 {
					t.Fatalf("removeOwner(%q, %d) = %v %v", topic, o, r1, l1)
				}
			case 6:
				for k, owners := range mi.owners {
					if owners[o] {
						mi.remove([]byte(k), o)
					}
				}
				x.removeAll(o, nil)
			case 7:
				var got []int
				x.matchOwners(topic, func(o int) { got = append(got, o) })
				slices.Sort(got)
				if want := mi.match(topic); !slices.Equal(got, want) {
					t.Fatalf("matchOwners(%q) = %v, want %v", topic, got, want)
				}
			}
			if err := s.t.check(); err != nil {
				t.Fatal(err)
			}
			if err := x.t.check(); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := listSet(&s), m.sorted(); !slices.Equal(got, want) {
			t.Fatalf("topics %q, want %q", got, want)
		}
		if err := x.checkOwners(); err != nil {
			t.Fatal(err)
		}
		if x.len() != len(mi.owners) || x.bytes() != mi.octets || s.bytes() != m.octets {
			t.Fatalf("counters: %d %d %d", x.len(), x.bytes(), s.bytes())
		}
	})
}
