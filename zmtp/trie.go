package zmtp

// trie holds subscriptions with a reference count per topic and answers
// whether any subscription is a prefix of a message.
type trie struct {
	count    int // subscriptions ending here
	children map[byte]*trie
	size     int // distinct topics in the whole trie (root only)
}

// add records a subscription and reports whether the topic is new.
func (t *trie) add(topic []byte) bool {
	n := t
	for _, c := range topic {
		if n.children == nil {
			n.children = make(map[byte]*trie)
		}
		next := n.children[c]
		if next == nil {
			next = &trie{}
			n.children[c] = next
		}
		n = next
	}
	n.count++
	if n.count == 1 {
		t.size++
		return true
	}
	return false
}

// remove drops one subscription and reports whether the topic is gone.
// Removing an unknown topic does nothing and reports false.
func (t *trie) remove(topic []byte) bool {
	n := t
	path := make([]*trie, 0, len(topic)+1)
	path = append(path, n)
	for _, c := range topic {
		n = n.children[c]
		if n == nil {
			return false
		}
		path = append(path, n)
	}
	if n.count == 0 {
		return false
	}
	n.count--
	if n.count > 0 {
		return false
	}
	t.size--
	// Prune empty branches.
	for i := len(topic) - 1; i >= 0; i-- {
		child := path[i+1]
		if child.count > 0 || len(child.children) > 0 {
			break
		}
		delete(path[i].children, topic[i])
	}
	return true
}

// match reports whether some subscription is a prefix of data.
func (t *trie) match(data []byte) bool {
	n := t
	if n.count > 0 {
		return true
	}
	for _, c := range data {
		n = n.children[c]
		if n == nil {
			return false
		}
		if n.count > 0 {
			return true
		}
	}
	return false
}

// topics returns every subscribed topic, each once.
func (t *trie) topics() [][]byte {
	var out [][]byte
	var walk func(n *trie, prefix []byte)
	walk = func(n *trie, prefix []byte) {
		if n.count > 0 {
			out = append(out, append([]byte(nil), prefix...))
		}
		for c, child := range n.children {
			walk(child, append(prefix, c))
		}
	}
	walk(t, nil)
	return out
}
