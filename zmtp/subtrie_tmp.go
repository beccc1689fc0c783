package zmtp

// Temporary stand-ins for the compact subscription structures.

type topicSet struct{ t trie }

func (s *topicSet) add(topic []byte) bool    { return s.t.add(topic) }
func (s *topicSet) remove(topic []byte) bool { return s.t.remove(topic) }
func (s *topicSet) match(data []byte) bool   { return s.t.match(data) }
func (s *topicSet) each(fn func([]byte) bool) {
	for _, t := range s.t.topics() {
		if !fn(t) {
			return
		}
	}
}

type subIndex[T comparable] struct {
	byTopic map[string]map[T]struct{}
	byOwner map[T]map[string]struct{}
}

func (x *subIndex[T]) addOwner(topic []byte, o T) (newForOwner, first bool) {
	if x.byTopic == nil {
		x.byTopic, x.byOwner = map[string]map[T]struct{}{}, map[T]map[string]struct{}{}
	}
	set := x.byTopic[string(topic)]
	if set == nil {
		set = map[T]struct{}{}
		x.byTopic[string(topic)] = set
		first = true
	}
	if _, ok := set[o]; ok {
		return false, false
	}
	set[o] = struct{}{}
	if x.byOwner[o] == nil {
		x.byOwner[o] = map[string]struct{}{}
	}
	x.byOwner[o][string(topic)] = struct{}{}
	return true, first
}

func (x *subIndex[T]) removeOwner(topic []byte, o T) (removed, last bool) {
	set := x.byTopic[string(topic)]
	if _, ok := set[o]; !ok {
		return false, false
	}
	delete(set, o)
	delete(x.byOwner[o], string(topic))
	if len(set) == 0 {
		delete(x.byTopic, string(topic))
		return true, true
	}
	return true, false
}

func (x *subIndex[T]) removeAll(o T, fn func(topic []byte, last bool)) {
	for t := range x.byOwner[o] {
		_, last := x.removeOwner([]byte(t), o)
		fn([]byte(t), last)
	}
	delete(x.byOwner, o)
}

func (x *subIndex[T]) matchOwners(data []byte, fn func(o T)) {
	for i := 0; i <= len(data); i++ {
		for o := range x.byTopic[string(data[:i])] {
			fn(o)
		}
	}
}
