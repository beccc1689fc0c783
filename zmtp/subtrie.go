package zmtp

import "bytes"

// Subscription tries.
//
// subtrie is a radix (path-compressed) trie from topics to values. Each node
// stands for one compressed edge: the bytes from the end of its parent to
// its own end. A node does not keep that label in a separate buffer: it
// keeps key, the whole path from the root to its own end, as a slice of a
// buffer that a leaf below it allocated for its topic, and its label is
// key[len(parent.key):]. So a split and a merge move no topic bytes, and
// the trie holds at most one copy of each leaf's topic:
//
//   - every leaf owns its key: a buffer of exactly its topic, allocated when
//     the leaf was made;
//   - every other node's key is a prefix of the buffer of some leaf below it
//     (its key array belongs to a leaf of its own subtree);
//   - every node other than the root is a member (a topic ends there) or
//     branches to two children or more; the root may be anything.
//
// When a leaf goes (its topic was removed) or stops being a leaf (a longer
// topic was added below it), its buffer no longer belongs to a leaf, and
// every node whose key points into that buffer (the node itself, if it
// stays, and some of the nodes above it) takes a prefix of a buffer that
// does: those nodes are on the path of the topic at hand, so this is one
// more walk down that path with no octet comparisons.
//
// Memory is therefore at most the octets of the leaves' topics (never more
// than bytes()) plus one node and one child entry per topic and per branch.
// A topic of 16 MiB costs one node and one 16 MiB buffer.
//
// Children are a slice sorted by the first octet of their labels, found by
// binary search: no map per node. Nothing here recurses: insert, remove,
// match and iteration are loops, and iteration keeps its own stack.
//
// The cost of an insert or remove of a topic of length L is O(L) octet
// comparisons plus a binary search over the children of each node on its
// path, with a bounded number of allocations (the leaf, its buffer, a node
// for a split, a grown child slice; remove allocates only when a member
// becomes a leaf and needs a buffer of its own, or when it gives back the
// unused part of a child slice). A match of a message of length L is O(L)
// octet comparisons at most and allocates nothing.
//
// None of the types in this file is safe for concurrent use: their users
// hold their own locks.

// subtrie maps topics to values of type V. The zero value is empty and
// ready to use. It is not safe for concurrent use.
type subtrie[V any] struct {
	root   subNode[V]
	n      int // topics stored (member nodes)
	octets int // sum of the lengths of the topics stored
}

// subNode is a node of a subtrie. Its label (the compressed edge from its
// parent) is key[len(parent.key):]; key is the node's whole path from the
// root and len(key) is its depth in octets. The root's key is empty.
//
// key's capacity runs to the end of its buffer (a leaf's key has none to
// spare); nothing ever appends to it or changes its octets, and slices of
// it given to callers have their capacity cut to their length.
type subNode[V any] struct {
	key  []byte       // path from the root to this node; see subtrie
	kids []subEdge[V] // children sorted by the first octet of their labels
	val  V            // the value of the topic ending here, if member
	term bool         // a topic ends here
}

// subEdge is an entry of a node's child list: the first octet of the
// child's label and the child.
type subEdge[V any] struct {
	b byte
	n *subNode[V]
}

// len reports how many topics are stored.
func (t *subtrie[V]) len() int { return t.n }

// bytes reports the sum of the lengths of the topics stored. The topic
// octets the trie keeps in memory never exceed it.
func (t *subtrie[V]) bytes() int { return t.octets }

// reset drops every topic.
func (t *subtrie[V]) reset() { *t = subtrie[V]{} }

// find returns the index of the child whose label starts with b, or where
// such a child would be inserted, and whether it exists.
func (n *subNode[V]) find(b byte) (int, bool) {
	k := n.kids
	lo, hi := 0, len(k)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if k[m].b < b {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(k) && k[lo].b == b
}

// insertKid puts e at index i of the child list.
func (n *subNode[V]) insertKid(i int, e subEdge[V]) {
	n.kids = append(n.kids, subEdge[V]{})
	copy(n.kids[i+1:], n.kids[i:])
	n.kids[i] = e
}

// removeKid takes out the child at index i, and gives back the memory of a
// child list that has become much larger than needed.
func (n *subNode[V]) removeKid(i int) {
	k := n.kids
	copy(k[i:], k[i+1:])
	k[len(k)-1] = subEdge[V]{}
	k = k[:len(k)-1]
	switch {
	case len(k) == 0:
		k = nil
	case cap(k) >= 16 && len(k) <= cap(k)/4:
		k = append(make([]subEdge[V], 0, 2*len(k)), k...)
	}
	n.kids = k
}

// child returns the child of n whose label is a prefix of data beyond n's
// depth, or nil.
func (n *subNode[V]) child(data []byte) *subNode[V] {
	d := len(n.key)
	if d >= len(data) {
		return nil
	}
	i, ok := n.find(data[d])
	if !ok {
		return nil
	}
	// The first octet is the edge's: compare the rest of the label.
	c := n.kids[i].n
	if len(c.key) > len(data) || !bytes.Equal(data[d+1:len(c.key)], c.key[d+1:]) {
		return nil
	}
	return c
}

// insert makes topic a member and returns its node; fresh reports that it
// was not a member before, and its value is then the zero value. With
// adopt the trie may keep topic itself as a new leaf's buffer: the caller
// gives it up and never changes it.
func (t *subtrie[V]) insert(topic []byte, adopt bool) (n *subNode[V], fresh bool) {
	n = &t.root
	for d := 0; d < len(topic); d = len(n.key) {
		i, ok := n.find(topic[d])
		if !ok {
			key := topic[:len(topic):len(topic)]
			if !adopt {
				key = clone(topic)
			}
			leaf := &subNode[V]{key: key, term: true}
			wasLeaf := n != &t.root && len(n.kids) == 0
			n.insertKid(i, subEdge[V]{topic[d], leaf})
			if wasLeaf {
				// n's buffer no longer belongs to a leaf: n and the
				// nodes above it that use it take the new leaf's.
				t.repoint(topic, n, &n.key[0], leaf.key)
			}
			t.n++
			t.octets += len(topic)
			return leaf, true
		}
		c := n.kids[i].n
		if e := len(c.key); e <= len(topic) && bytes.Equal(topic[d+1:e], c.key[d+1:]) {
			n = c
			continue
		}
		// The topic leaves c's label part way: split the label at m with a
		// node that shares c's buffer.
		m := d + 1 + commonPrefix(c.key[d+1:], topic[d+1:])
		mid := &subNode[V]{key: c.key[:m], kids: make([]subEdge[V], 1, 2)}
		mid.kids[0] = subEdge[V]{c.key[m], c}
		n.kids[i].n = mid
		n = mid
	}
	if n.term {
		return n, false
	}
	n.term = true
	t.n++
	t.octets += len(topic)
	return n, true
}

// lookup returns the node of topic if it is a member, or nil.
func (t *subtrie[V]) lookup(topic []byte) *subNode[V] {
	n := &t.root
	for len(n.key) < len(topic) {
		if n = n.child(topic); n == nil {
			return nil
		}
	}
	if !n.term {
		return nil
	}
	return n
}

// remove finds the member topic and calls drop with its node, if drop is
// not nil; when drop is nil or returns true, the topic stops being a member
// and the trie gives back the nodes and memory it no longer needs. It
// reports whether topic was a member; a topic that is not changes nothing.
// drop may change the node's value but nothing else of the trie.
func (t *subtrie[V]) remove(topic []byte, drop func(n *subNode[V]) bool) (found bool) {
	// x is the topic's node, p its parent and g p's parent; pi and gi are
	// the indexes of x in p's and p in g's child lists.
	var g, p *subNode[V]
	gi, pi := 0, 0
	x := &t.root
	for d := 0; d < len(topic); d = len(x.key) {
		i, ok := x.find(topic[d])
		if !ok {
			return false
		}
		c := x.kids[i].n
		if e := len(c.key); e > len(topic) || !bytes.Equal(topic[d+1:e], c.key[d+1:]) {
			return false
		}
		g, gi, p, pi, x = p, pi, x, i, c
	}
	if !x.term {
		return false
	}
	if drop != nil && !drop(x) {
		return true
	}
	var zero V
	x.val, x.term = zero, false
	t.n--
	t.octets -= len(topic)
	switch {
	case x == &t.root || len(x.kids) >= 2:
		// Still a branch.
	case len(x.kids) == 1:
		// x's only child takes its place; its key already holds x's
		// path, and x's key belonged to a leaf that is still there.
		p.kids[pi].n = x.kids[0].n
	default:
		// x was a leaf: drop it, and its buffer with it.
		dead := &x.key[0]
		p.removeKid(pi)
		if p == &t.root {
			break
		}
		var r []byte // a buffer of a remaining leaf under p
		stop := p    // the deepest remaining node on the path
		switch {
		case len(p.kids) == 0:
			// p is a member and has become a leaf: it takes a buffer
			// of its own.
			p.key = clone(p.key)
			r = p.key
		case p.term || len(p.kids) >= 2:
			r = p.kids[0].n.key
		default:
			// p only branched to x and its one other child, which
			// takes p's place.
			c := p.kids[0].n
			g.kids[gi].n = c
			r, stop = c.key, g
		}
		if stop != &t.root {
			t.repoint(topic, stop, dead, r)
		}
	}
	return true
}

// repoint walks the path of topic from the root down to stop (a node on it)
// and gives every node on the way, stop included, whose key is in the
// buffer starting at dead the prefix of the same length of r instead. r
// must hold the path of stop.
func (t *subtrie[V]) repoint(topic []byte, stop *subNode[V], dead *byte, r []byte) {
	n := &t.root
	for n != stop {
		i, _ := n.find(topic[len(n.key)])
		n = n.kids[i].n
		if &n.key[0] == dead {
			n.key = r[:len(n.key)]
		}
	}
}

// any reports whether some member is a prefix of data.
func (t *subtrie[V]) any(data []byte) bool {
	for n := &t.root; n != nil; n = n.child(data) {
		if n.term {
			return true
		}
	}
	return false
}

// prefixes calls fn with the value of every member that is a prefix of
// data, shortest first. fn must not change the trie.
func (t *subtrie[V]) prefixes(data []byte, fn func(v *V)) {
	for n := &t.root; n != nil; n = n.child(data) {
		if n.term {
			fn(&n.val)
		}
	}
}

// each calls fn with every member and its value, in order of topic octets,
// until fn returns false. topic is only valid during the call and must not
// be changed; fn must not change the trie. each keeps its own stack, at
// most as deep as the trie.
func (t *subtrie[V]) each(fn func(topic []byte, v *V) bool) {
	if t.root.term && !fn(nil, &t.root.val) {
		return
	}
	type frame struct {
		n *subNode[V]
		i int // next child to visit
	}
	var stack []frame
	if len(t.root.kids) > 0 {
		stack = append(stack, frame{&t.root, 0})
	}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.i == len(f.n.kids) {
			stack = stack[:len(stack)-1]
			continue
		}
		c := f.n.kids[f.i].n
		f.i++
		if c.term && !fn(c.key[:len(c.key):len(c.key)], &c.val) {
			return
		}
		if len(c.kids) > 0 {
			stack = append(stack, frame{c, 0})
		}
	}
}

// clone returns a copy of b in a buffer of exactly its length.
func clone(b []byte) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	return c
}

// commonPrefix returns the length of the longest common prefix of a and b.
// It compares blocks with bytes.Equal, which is fast on long topics, and
// octets only within the first block that differs.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	a, b = a[:n], b[:n]
	if bytes.Equal(a, b) {
		return n
	}
	const block = 256
	i := 0
	for i+block <= n && bytes.Equal(a[i:i+block], b[i:i+block]) {
		i += block
	}
	for a[i] == b[i] {
		i++
	}
	return i
}

// subSet is a counted set of topics, as SUB and XSUB keep their
// subscriptions and XPUB the union of its peers': a topic added twice must
// be removed twice. The zero value is empty and ready to use. It is not
// safe for concurrent use.
type subSet struct {
	t subtrie[int] // the value is the count
}

// add counts one more subscription to topic and reports whether the topic
// was not there before.
func (s *subSet) add(topic []byte) (first bool) {
	n, first := s.t.insert(topic, false)
	n.val++
	return first
}

// remove takes back one subscription to topic and reports whether that was
// the last one, so that the topic is gone. Removing a topic that is not
// there changes nothing and reports false.
func (s *subSet) remove(topic []byte) (last bool) {
	s.t.remove(topic, func(n *subNode[int]) bool {
		n.val--
		last = n.val == 0
		return last
	})
	return last
}

// has reports whether topic is there.
func (s *subSet) has(topic []byte) bool { return s.t.lookup(topic) != nil }

// match reports whether some topic is a prefix of data; the empty topic
// matches everything.
func (s *subSet) match(data []byte) bool { return s.t.any(data) }

// len reports how many distinct topics there are.
func (s *subSet) len() int { return s.t.len() }

// bytes reports the sum of the lengths of the distinct topics, an upper
// bound of the topic octets kept in memory.
func (s *subSet) bytes() int { return s.t.bytes() }

// reset drops every topic.
func (s *subSet) reset() { s.t.reset() }

// each calls fn with every distinct topic once, in order of topic octets,
// until fn returns false. topic is only valid during the call (copy it to
// keep it) and must not be changed; fn must not change the set.
func (s *subSet) each(fn func(topic []byte) bool) {
	s.t.each(func(topic []byte, _ *int) bool { return fn(topic) })
}

// subIndex is the subscriptions of all the peers (owners) of a PUB or XPUB
// socket in one trie, so that a message is matched once and then handed to
// every owner with a matching subscription. Each owner's subscriptions are
// a set: a second add of a topic by the same owner changes nothing, and one
// remove takes it away. The zero value is empty and ready to use. It is not
// safe for concurrent use.
//
// A topic's octets are kept once, in the trie, however many owners share
// it. Each owner keeps the set of the trie nodes of its topics, for
// removeAll: a node stays the same object for as long as its topic is
// there, whatever splits and merges happen around it.
type subIndex[T comparable] struct {
	t      subtrie[subOwners[T]] // every topic and the owners subscribed to it
	owners map[T]*subOwner[T]    // owners with at least one topic
	gen    uint64                // the mark of the last matchOwners
}

// subOwner is an owner of a subIndex and the nodes of its topics.
type subOwner[T comparable] struct {
	id     T
	nodes  map[*subNode[subOwners[T]]]struct{}
	octets int    // sum of the lengths of its topics
	mark   uint64 // the matchOwners call that last reported this owner
}

// subOwnersFew is the most owners of one topic found by a walk of their
// list; for more, a map from each to its place in the list answers
// membership, until they are down to half of that.
const subOwnersFew = 8

// subOwners is the set of owners subscribed to one topic. They are kept in
// a list, in no particular order, which matching walks (a message
// published to a topic with a hundred subscribers visits a hundred
// pointers in a row, not a map); a large set also has an index of the
// list, so that adding and removing one owner stays cheap.
type subOwners[T comparable] struct {
	list []*subOwner[T]
	pos  map[*subOwner[T]]int // the place of each in list; nil while few
}

// has reports whether o is in the set.
func (s *subOwners[T]) has(o *subOwner[T]) bool {
	if s.pos != nil {
		_, ok := s.pos[o]
		return ok
	}
	for _, q := range s.list {
		if q == o {
			return true
		}
	}
	return false
}

// add puts o in the set; o must not be in it already.
func (s *subOwners[T]) add(o *subOwner[T]) {
	s.list = append(s.list, o)
	switch {
	case s.pos != nil:
		s.pos[o] = len(s.list) - 1
	case len(s.list) > subOwnersFew:
		s.pos = make(map[*subOwner[T]]int, 2*subOwnersFew)
		for i, q := range s.list {
			s.pos[q] = i
		}
	}
}

// del takes o out of the set, if it is there.
func (s *subOwners[T]) del(o *subOwner[T]) {
	i := -1
	if s.pos != nil {
		k, ok := s.pos[o]
		if !ok {
			return
		}
		i = k
		delete(s.pos, o)
	} else {
		for k, q := range s.list {
			if q == o {
				i = k
				break
			}
		}
		if i < 0 {
			return
		}
	}
	last := len(s.list) - 1
	if i != last {
		s.list[i] = s.list[last]
		if s.pos != nil {
			s.pos[s.list[i]] = i
		}
	}
	s.list[last] = nil
	s.list = s.list[:last]
	if s.pos != nil && len(s.list) <= subOwnersFew/2 {
		s.pos = nil
	}
	if c := cap(s.list); c > subOwnersFew && 4*len(s.list) <= c {
		// A set that lost most of its owners gives the memory back.
		s.list = append(make([]*subOwner[T], 0, 2*len(s.list)), s.list...)
	}
}

// len reports how many owners are in the set.
func (s *subOwners[T]) len() int { return len(s.list) }

// addOwner subscribes owner o to topic. newForOwner reports that o was not
// subscribed to topic (otherwise nothing changes); firstForTopic that no
// owner was.
func (x *subIndex[T]) addOwner(topic []byte, o T) (newForOwner, firstForTopic bool) {
	return x.add(topic, o, false)
}

// adoptOwner is addOwner that may keep topic itself instead of a copy: the
// caller gives it up (a large subscription received in memory of its own
// is then stored once).
func (x *subIndex[T]) adoptOwner(topic []byte, o T) (newForOwner, firstForTopic bool) {
	return x.add(topic, o, true)
}

func (x *subIndex[T]) add(topic []byte, o T, adopt bool) (newForOwner, firstForTopic bool) {
	r := x.owners[o]
	if r == nil {
		if x.owners == nil {
			x.owners = make(map[T]*subOwner[T])
		}
		r = &subOwner[T]{id: o, nodes: make(map[*subNode[subOwners[T]]]struct{})}
		x.owners[o] = r
	}
	n, first := x.t.insert(topic, adopt)
	if !first && n.val.has(r) {
		return false, false
	}
	n.val.add(r)
	r.nodes[n] = struct{}{}
	r.octets += len(topic)
	return true, first
}

// removeOwner unsubscribes owner o from topic. removed reports that o was
// subscribed to it (otherwise nothing changes); lastForTopic that no owner
// is any more.
func (x *subIndex[T]) removeOwner(topic []byte, o T) (removed, lastForTopic bool) {
	r := x.owners[o]
	if r == nil {
		return false, false
	}
	x.t.remove(topic, func(n *subNode[subOwners[T]]) bool {
		if !n.val.has(r) {
			return false
		}
		removed = true
		n.val.del(r)
		delete(r.nodes, n)
		r.octets -= len(topic)
		lastForTopic = n.val.len() == 0
		return lastForTopic
	})
	if len(r.nodes) == 0 {
		delete(x.owners, o)
	}
	return removed, lastForTopic
}

// removeAll unsubscribes owner o from every topic, as when the peer is
// gone, and calls fn, if not nil, for each of them, in no particular order,
// with lastForTopic reporting that no owner is subscribed to it any more.
// topic is only valid during the call (copy it to keep it) and must not be
// changed; fn must not change the index. The cost is that of removeOwner
// for each of o's topics.
func (x *subIndex[T]) removeAll(o T, fn func(topic []byte, lastForTopic bool)) {
	r := x.owners[o]
	if r == nil {
		return
	}
	delete(x.owners, o)
	for n := range r.nodes {
		// n is the node of one of r's topics, so a member, and n.key is
		// its topic: the trie never changes the octets of a buffer,
		// only which buffer a node points into.
		topic := n.key[:len(n.key):len(n.key)]
		n.val.del(r)
		last := n.val.len() == 0
		if last {
			x.t.remove(topic, nil)
		}
		if fn != nil {
			fn(topic, last)
		}
	}
	r.nodes = nil
}

// matchOwners calls fn once for every owner subscribed to a prefix of data
// (an owner with several such subscriptions is reported once), in no
// particular order. fn must not change the index.
func (x *subIndex[T]) matchOwners(data []byte, fn func(o T)) {
	x.gen++
	gen := x.gen
	x.t.prefixes(data, func(s *subOwners[T]) {
		for _, r := range s.list {
			if r.mark != gen {
				r.mark = gen
				fn(r.id)
			}
		}
	})
}

// match reports whether some owner is subscribed to a prefix of data.
func (x *subIndex[T]) match(data []byte) bool { return x.t.any(data) }

// len reports how many distinct topics have at least one owner.
func (x *subIndex[T]) len() int { return x.t.len() }

// bytes reports the sum of the lengths of the distinct topics, an upper
// bound of the topic octets kept in memory: they are kept once however
// many owners share them.
func (x *subIndex[T]) bytes() int { return x.t.bytes() }

// owned reports how many topics owner o is subscribed to and the sum of
// their lengths.
func (x *subIndex[T]) owned(o T) (topics, octets int) {
	if r := x.owners[o]; r != nil {
		return len(r.nodes), r.octets
	}
	return 0, 0
}
