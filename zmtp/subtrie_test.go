package zmtp

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
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
		if s.many != nil && len(s.many) <= subOwnersFew/2 || s.many != nil && s.few != nil {
			err = fmt.Errorf("topic %q: owners kept in a map and a slice or a map too small", topic)
			return false
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
