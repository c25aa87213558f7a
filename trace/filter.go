package trace

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Filter is a compiled packet filter. The grammar is a subset of tcpdump's:
//
//	expr  := term { ("or" | "||") term }
//	term  := unary { ["and" | "&&"] unary }      juxtaposition means "and"
//	unary := ("not" | "!") unary | "(" expr ")" | prim
//	prim  := [src|dst] host ADDR | [src|dst] net PREFIX | [src|dst] port N
//	       | src ADDR | dst ADDR | ADDR | PREFIX | sport N | dport N
//	       | tcp | udp | icmp | icmp6 | ip | ip6 | vni N
//
// Every primitive about addresses, ports or protocols matches when either
// the outer or the inner headers satisfy it; vni matches the tunnel header.
// A Filter is immutable and safe for concurrent use; Match allocates nothing.
type Filter struct {
	root *node
	text string
	// byDir is what Match evaluates, one per dataplane.Direction.
	byDir [2]compiled
}

// String returns the filter as it was written.
func (f *Filter) String() string { return f.text }

type nodeKind uint8

const (
	nodeAll nodeKind = iota // empty filter: every packet
	nodeAnd
	nodeOr
	nodeNot
	nodeHost
	nodeNet
	nodePort
	nodeProto
	nodeVersion
	nodeVNI
	nodeNone // no packet; only in trees folded for a direction
)

// side says which address or port of a header a primitive looks at.
type side uint8

const (
	either side = iota
	srcSide
	dstSide
)

type node struct {
	kind        nodeKind
	left, right *node
	side        side
	addr        netip.Addr
	prefix      netip.Prefix
	num         uint32 // port, protocol, IP version or VNI
	num2        uint32 // a second protocol (icmp matches ICMPv4 and ICMPv6)
	// host and net as integers: a layer of version ver matches when its
	// address masked with mask equals val.
	ver       uint8
	val, mask addr
}

// ParseFilter compiles a filter; the empty string matches every packet.
// Errors wrap ErrFilter and say where the filter went wrong.
func ParseFilter(s string) (*Filter, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if len(toks) == 0 {
		return newFilter(&node{kind: nodeAll}, s), nil
	}
	root, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, p.errorf("unexpected %q", p.toks[p.pos])
	}
	return newFilter(root, strings.TrimSpace(s)), nil
}

type parser struct {
	toks []string
	pos  int
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) next() string {
	t := p.peek()
	if p.pos < len(p.toks) {
		p.pos++
	}
	return t
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s (at word %d)", ErrFilter, fmt.Sprintf(format, args...), p.pos+1)
}

func (p *parser) expr(depth int) (*node, error) {
	left, err := p.term(depth)
	if err != nil {
		return nil, err
	}
	for p.peek() == "or" {
		p.next()
		right, err := p.term(depth)
		if err != nil {
			return nil, err
		}
		left = &node{kind: nodeOr, left: left, right: right}
	}
	return left, nil
}

func (p *parser) term(depth int) (*node, error) {
	left, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for {
		switch p.peek() {
		case "", "or", ")":
			return left, nil
		case "and":
			p.next()
		}
		right, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		left = &node{kind: nodeAnd, left: left, right: right}
	}
}

func (p *parser) unary(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested deeper than %d", maxDepth)
	}
	switch p.peek() {
	case "not":
		p.next()
		n, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &node{kind: nodeNot, left: n}, nil
	case "(":
		p.next()
		n, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, p.errorf("missing )")
		}
		return n, nil
	}
	return p.prim()
}

func (p *parser) prim() (*node, error) {
	s := either
	switch p.peek() {
	case "src":
		s = srcSide
		p.next()
	case "dst":
		s = dstSide
		p.next()
	}
	tok := p.next()
	switch tok {
	case "":
		return nil, p.errorf("filter ends where a primitive was expected")
	case "host":
		return p.host(s, p.next())
	case "net":
		return p.network(s, p.next())
	case "port":
		return p.port(s, p.next())
	}
	if s != either {
		// "src 10.0.0.1" and "dst 10.0.0.0/8" without the host/net keyword.
		if strings.Contains(tok, "/") {
			return p.network(s, tok)
		}
		return p.host(s, tok)
	}
	switch tok {
	case "sport":
		return p.port(srcSide, p.next())
	case "dport":
		return p.port(dstSide, p.next())
	case "tcp":
		return &node{kind: nodeProto, num: 6, num2: 6}, nil
	case "udp":
		return &node{kind: nodeProto, num: 17, num2: 17}, nil
	case "icmp":
		return &node{kind: nodeProto, num: 1, num2: 58}, nil
	case "icmp6":
		return &node{kind: nodeProto, num: 58, num2: 58}, nil
	case "ip":
		return &node{kind: nodeVersion, num: 4}, nil
	case "ip6":
		return &node{kind: nodeVersion, num: 6}, nil
	case "vni":
		v, err := p.number(p.next(), 1<<24-1, "VNI")
		if err != nil {
			return nil, err
		}
		return &node{kind: nodeVNI, num: v}, nil
	}
	if strings.Contains(tok, "/") {
		return p.network(either, tok)
	}
	if _, err := netip.ParseAddr(tok); err == nil {
		return p.host(either, tok)
	}
	return nil, p.errorf("unknown primitive %q", tok)
}

func (p *parser) host(s side, tok string) (*node, error) {
	a, err := netip.ParseAddr(tok)
	if err != nil || a.Zone() != "" {
		return nil, p.errorf("%q is not an IP address", tok)
	}
	n := &node{kind: nodeHost, side: s, addr: a.Unmap()}
	n.val, n.ver = addrOf(n.addr)
	n.mask = maskOf(n.addr.BitLen(), n.ver)
	return n, nil
}

func (p *parser) network(s side, tok string) (*node, error) {
	if !strings.Contains(tok, "/") {
		a, err := netip.ParseAddr(tok)
		if err != nil {
			return nil, p.errorf("%q is not a network", tok)
		}
		return netNode(s, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())), nil
	}
	pfx, err := netip.ParsePrefix(tok)
	if err != nil || pfx.Addr().Zone() != "" {
		return nil, p.errorf("%q is not a network", tok)
	}
	if pfx.Addr().Is4In6() {
		return nil, p.errorf("%q: use the IPv4 form", tok)
	}
	return netNode(s, pfx.Masked()), nil
}

func netNode(s side, pfx netip.Prefix) *node {
	n := &node{kind: nodeNet, side: s, prefix: pfx}
	n.val, n.ver = addrOf(pfx.Addr())
	n.mask = maskOf(pfx.Bits(), n.ver)
	return n
}

func (p *parser) port(s side, tok string) (*node, error) {
	v, err := p.number(tok, 65535, "port")
	if err != nil {
		return nil, err
	}
	return &node{kind: nodePort, side: s, num: v}, nil
}

func (p *parser) number(tok string, max uint32, what string) (uint32, error) {
	v, err := strconv.ParseUint(tok, 10, 32)
	if err != nil || v > uint64(max) {
		return 0, p.errorf("%q is not a %s (0..%d)", tok, what, max)
	}
	return uint32(v), nil
}
