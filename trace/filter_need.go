package trace

// Bounds of a pre-check, so that it stays a few comparisons: past them a
// filter keeps a looser pre-check or none.
const (
	maxClauses   = 8
	maxClauseLen = 4
)

// need returns a necessary condition of n: clauses such that whenever n
// matches a view, every primitive of at least one clause matches it too
// (no clauses: n never matches). ok is false when there is none worth
// testing, as for "not tcp" or the empty filter.
//
// Why this holds: a primitive is false on a view with no layers, so a
// filter true on such a view has a "not" (or is empty) and gets ok false;
// "or" unites its sides' conditions; "and" may keep either side's or, while
// small, their cross product, which is tighter.
func need(n *node) (clauses [][]*node, ok bool) {
	switch n.kind {
	case nodeNone:
		return nil, true
	case nodeAll, nodeNot:
		return nil, false
	case nodeOr:
		l, lok := need(n.left)
		r, rok := need(n.right)
		if !lok || !rok || len(l)+len(r) > maxClauses {
			return nil, false
		}
		return append(l[:len(l):len(l)], r...), true
	case nodeAnd:
		l, lok := need(n.left)
		r, rok := need(n.right)
		switch {
		case !lok:
			return r, rok
		case !rok:
			return l, true
		case len(l)*len(r) <= maxClauses && longest(l)+longest(r) <= maxClauseLen:
			return cross(l, r), true
		case len(r) < len(l):
			return r, true
		}
		return l, true
	}
	return [][]*node{{n}}, true
}

func longest(clauses [][]*node) int {
	m := 0
	for _, c := range clauses {
		m = max(m, len(c))
	}
	return m
}

// cross is the clauses of "l and r": one per pair, both sides' primitives.
func cross(l, r [][]*node) [][]*node {
	out := make([][]*node, 0, len(l)*len(r))
	for _, a := range l {
		for _, b := range r {
			out = append(out, append(a[:len(a):len(a)], b...))
		}
	}
	return out
}
