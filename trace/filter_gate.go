package trace

import "github.com/podfwd/podfwd/dataplane"

// maxGateTests bounds the egress gate; a filter that would need more gets
// a gate passing every packet (Match still decides exactly).
const maxGateTests = 16

// EgressGate implements dataplane.Gater: the egress loop tests the gate
// inline and calls Match only for the packets it passes.
func (t *Tracer) EgressGate() dataplane.TraceGate { return t.filter.EgressGate() }

// EgressGate returns a condition every egress packet the filter matches
// meets: one primitive from each clause of the filter's necessary
// condition (need), the cheapest and most selective that the gate can
// express.
func (f *Filter) EgressGate() dataplane.TraceGate {
	c := &f.byDir[dataplane.Egress]
	switch {
	case c.root.kind == nodeNone:
		return dataplane.NewTraceGate(nil)
	case !c.checked:
		return dataplane.GateAll()
	}
	var tests []dataplane.GateTest
	for _, cl := range c.clauses {
		var best []dataplane.GateTest
		bestRank := len(gateRank)
		for _, n := range cl {
			if t := gateTests(n); t != nil && (gateRank[n.kind] < bestRank || gateRank[n.kind] == bestRank && len(t) < len(best)) {
				best, bestRank = t, gateRank[n.kind]
			}
		}
		if best == nil {
			return dataplane.GateAll()
		}
		tests = append(tests, best...)
	}
	if len(tests) > maxGateTests {
		return dataplane.GateAll()
	}
	return dataplane.NewTraceGate(tests)
}

// gateRank orders primitives by how few packets they are likely to pass:
// an address names a few hosts, a port a service, a protocol much of the
// traffic.
var gateRank = [...]int{nodeHost: 0, nodeNet: 0, nodePort: 1, nodeProto: 2, nodeVersion: 3, nodeVNI: 4}

// gateTests returns tests of which one holds on every valid egress packet
// n matches, or nil when the gate cannot express n.
func gateTests(n *node) []dataplane.GateTest {
	switch n.kind {
	case nodeHost, nodeNet:
		var t []dataplane.GateTest
		for _, f := range sideFields(n.side, dataplane.GateSrc, dataplane.GateDst) {
			t = append(t, dataplane.GateTest{Version: n.ver, Field: f, Hi: n.val.hi, Lo: n.val.lo, MaskHi: n.mask.hi, MaskLo: n.mask.lo})
		}
		return t
	case nodePort:
		// Port 0 also matches packets whose ports were not found (a later
		// fragment, a short header): the gate reads what is there.
		if n.num == 0 {
			return nil
		}
		var t []dataplane.GateTest
		for _, v := range []uint8{4, 6} {
			for _, f := range sideFields(n.side, dataplane.GateSrcPort, dataplane.GateDstPort) {
				t = append(t, dataplane.GateTest{Version: v, Field: f, Lo: uint64(n.num)})
			}
		}
		return t
	case nodeProto:
		var t []dataplane.GateTest
		for _, v := range []uint8{4, 6} {
			t = append(t, dataplane.GateTest{Version: v, Field: dataplane.GateProto, Lo: uint64(n.num)})
			if n.num2 != n.num {
				t = append(t, dataplane.GateTest{Version: v, Field: dataplane.GateProto, Lo: uint64(n.num2)})
			}
		}
		return t
	case nodeVersion:
		return []dataplane.GateTest{{Version: uint8(n.num), Field: dataplane.GateVersion}}
	}
	return nil
}

func sideFields(s side, src, dst dataplane.GateField) []dataplane.GateField {
	switch s {
	case srcSide:
		return []dataplane.GateField{src}
	case dstSide:
		return []dataplane.GateField{dst}
	}
	return []dataplane.GateField{src, dst}
}
