package trace

import "github.com/podfwd/podfwd/dataplane"

// compiled is a filter made ready for one direction.
type compiled struct {
	root *node // the filter folded for the direction: exact
	// When checked, a packet can match only if every primitive of at
	// least one clause matches it (see need): the egress gate is made
	// from these.
	checked bool
	clauses [][]*node
}

// newFilter compiles root for each direction.
func newFilter(root *node, text string) *Filter {
	f := &Filter{root: root, text: text}
	for _, dir := range []dataplane.Direction{dataplane.Egress, dataplane.Ingress} {
		c := &f.byDir[dir&1]
		c.root = fold(root, dir)
		c.clauses, c.checked = need(c.root)
	}
	return f
}

// Never reports whether the filter matches no packet at all in direction
// dir (say "vni 7" on egress, where packets carry no tunnel header), so
// that the engine need not ask about each one.
func (f *Filter) Never(dir dataplane.Direction) bool { return f.byDir[dir&1].root.kind == nodeNone }

// fold returns n with the primitives that direction dir alone decides
// replaced by constants and the constants propagated: egress packets are
// inner packets, with no tunnel header, so "vni N" never matches there.
// The tree it returns matches exactly the packets n matches in dir.
func fold(n *node, dir dataplane.Direction) *node {
	switch n.kind {
	case nodeVNI:
		if dir == dataplane.Egress {
			return &node{kind: nodeNone}
		}
	case nodeNot:
		switch l := fold(n.left, dir); l.kind {
		case nodeAll:
			return &node{kind: nodeNone}
		case nodeNone:
			return &node{kind: nodeAll}
		default:
			return &node{kind: nodeNot, left: l}
		}
	case nodeAnd, nodeOr:
		// absorb is the constant that decides the operator whatever the
		// other side; the other constant leaves just the other side.
		absorb, neutral := nodeNone, nodeAll
		if n.kind == nodeOr {
			absorb, neutral = nodeAll, nodeNone
		}
		l, r := fold(n.left, dir), fold(n.right, dir)
		switch {
		case l.kind == absorb || r.kind == absorb:
			return &node{kind: absorb}
		case l.kind == neutral:
			return r
		case r.kind == neutral:
			return l
		}
		return &node{kind: n.kind, left: l, right: r}
	}
	return n
}
