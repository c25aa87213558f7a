package masq

import (
	"errors"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// family is what differs between the IPv4 and the IPv6 rule.
type family struct {
	v4       bool
	suffix   string
	nfproto  byte
	keyType  nftables.SetDatatype
	saddrOff uint32
	daddrOff uint32
	addrLen  uint32
}

var families = []family{
	{v4: true, suffix: "4", nfproto: unix.NFPROTO_IPV4, keyType: nftables.TypeIPAddr, saddrOff: 12, daddrOff: 16, addrLen: 4},
	{v4: false, suffix: "6", nfproto: unix.NFPROTO_IPV6, keyType: nftables.TypeIP6Addr, saddrOff: 8, daddrOff: 24, addrLen: 16},
}

func table() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
}

// Table programs the masquerade table. It is not safe for concurrent use.
type Table struct {
	// NetNS, when non-zero, is a descriptor of the network namespace to
	// program (tests); zero is the calling thread's.
	NetNS int

	applied *Rules // what the kernel holds since our last write; nil: unknown
}

func (t *Table) conn() (*nftables.Conn, error) {
	var opts []nftables.ConnOption
	if t.NetNS != 0 {
		opts = append(opts, nftables.WithNetNSFd(t.NetNS))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return c, nil
}

// Apply makes the table say r. The first call always rewrites the table,
// replacing whatever a previous run left (the adoption after a crash);
// later calls write only when r differs from what was last applied. The
// rewrite is one transaction: there is no moment without masquerading,
// and a failure leaves the previous table in force.
func (t *Table) Apply(r Rules) error {
	if t.applied != nil && t.applied.equal(r) {
		return nil
	}
	c, err := t.conn()
	if err != nil {
		return err
	}
	tbl := table()
	// Add, delete, add: the delete cannot fail for a missing table, and
	// the table rebuilt below replaces any earlier one whole.
	c.AddTable(tbl)
	c.DelTable(tbl)
	c.AddTable(tbl)
	chain := c.AddChain(&nftables.Chain{
		Name: "postrouting", Table: tbl, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource,
	})
	for _, f := range families {
		src := spans(r.Sources, f.v4)
		if len(src) == 0 {
			continue
		}
		pods := &nftables.Set{Table: tbl, Name: "pods" + f.suffix, KeyType: f.keyType, Interval: true}
		if err := c.AddSet(pods, elements(src)); err != nil {
			return fmt.Errorf("nftables set %s: %w", pods.Name, err)
		}
		exempt := &nftables.Set{Table: tbl, Name: "nomasq" + f.suffix, KeyType: f.keyType, Interval: true}
		if err := c.AddSet(exempt, elements(spans(r.Exempt, f.v4))); err != nil {
			return fmt.Errorf("nftables set %s: %w", exempt.Name, err)
		}
		c.AddRule(&nftables.Rule{Table: tbl, Chain: chain, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{f.nfproto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: f.saddrOff, Len: f.addrLen},
			&expr.Lookup{SourceRegister: 1, SetName: pods.Name, SetID: pods.ID},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: f.daddrOff, Len: f.addrLen},
			&expr.Lookup{SourceRegister: 1, SetName: exempt.Name, SetID: exempt.ID, Invert: true},
			&expr.Counter{},
			&expr.Masq{},
		}})
	}
	if err := c.Flush(); err != nil {
		t.applied = nil
		return fmt.Errorf("nftables table inet %s: %w", TableName, err)
	}
	t.applied = &r
	return nil
}

// elements encodes ranges as interval-set elements: each range opens at
// its first address and closes at the address after its last; a range
// that runs to the top of the address space has no closing element.
func elements(ss []span) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, 2*len(ss))
	for _, s := range ss {
		out = append(out, nftables.SetElement{Key: s.first.AsSlice()})
		if end := s.last.Next(); end.IsValid() {
			out = append(out, nftables.SetElement{Key: end.AsSlice(), IntervalEnd: true})
		}
	}
	return out
}

// Remove deletes the table if it exists, whoever's run made it.
func (t *Table) Remove() error {
	t.applied = nil
	present, err := t.Present()
	if err != nil || !present {
		return err
	}
	c, err := t.conn()
	if err != nil {
		return err
	}
	c.DelTable(table())
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete nftables table inet %s: %w", TableName, err)
	}
	return nil
}

// Present reports whether the table exists, made by this run or another.
func (t *Table) Present() (bool, error) {
	c, err := t.conn()
	if err != nil {
		return false, err
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("list nftables tables: %w", err)
	}
	for _, tb := range tables {
		if tb.Name == TableName {
			return true, nil
		}
	}
	return false, nil
}
