package trace

import (
	"fmt"
	"strings"
)

// Canonical returns the filter in a normal form: every primitive spelled
// out with its keywords and every and/or/not parenthesized. Parsing the
// canonical form gives the same filter; the fuzz target holds the parser to
// that.
func (f *Filter) Canonical() string {
	var b strings.Builder
	f.root.print(&b)
	return b.String()
}

func (n *node) print(b *strings.Builder) {
	sideWord := [...]string{either: "", srcSide: "src ", dstSide: "dst "}[n.side]
	switch n.kind {
	case nodeAll:
	case nodeAnd, nodeOr:
		op := " and "
		if n.kind == nodeOr {
			op = " or "
		}
		b.WriteByte('(')
		n.left.print(b)
		b.WriteString(op)
		n.right.print(b)
		b.WriteByte(')')
	case nodeNot:
		b.WriteString("(not ")
		n.left.print(b)
		b.WriteByte(')')
	case nodeHost:
		fmt.Fprintf(b, "%shost %s", sideWord, n.addr)
	case nodeNet:
		fmt.Fprintf(b, "%snet %s", sideWord, n.prefix)
	case nodePort:
		fmt.Fprintf(b, "%sport %d", sideWord, n.num)
	case nodeProto:
		switch {
		case n.num == 1:
			b.WriteString("icmp")
		default:
			b.WriteString(protoName(uint8(n.num)))
		}
	case nodeVersion:
		if n.num == 4 {
			b.WriteString("ip")
		} else {
			b.WriteString("ip6")
		}
	case nodeVNI:
		fmt.Fprintf(b, "vni %d", n.num)
	}
}
