package dataplane

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
	"github.com/podfwd/podfwd/dataplane/offload"
	"github.com/podfwd/podfwd/encap"
)

// Engines for the what-if table, each over in-memory ports.
func vxlanRig(t *testing.T) *simRig  { e, _, _ := newTestEngine(t, encap.KindVXLAN); return rigOf(e) }
func geneveRig(t *testing.T) *simRig { e, _, _ := newTestEngine(t, encap.KindGeneve); return rigOf(e) }
func frameRig(t *testing.T) *simRig  { e, _, _ := newFrameEngine(t, encap.KindVXLAN); return rigOf(e) }
func directRig(t *testing.T) *simRig { e, _, _, _ := newDirectEngine(t, localPod); return rigOf(e) }

func unresolvedRig(t *testing.T) *simRig {
	r := frameRig(t)
	withUnresolvedNode2(t, r.e)
	return r
}

// wholeRig has a tunnel GSO port and pod offloads (GRO, whole super-packets).
func wholeRig(t *testing.T) *simRig {
	e, _ := newWholeEngine(t, encap.KindVXLAN, &fakeTunnelGSO{})
	return rigOf(e)
}

// ipipRig has both raw sockets: protocol 4 and protocol 41.
func ipipRig(t *testing.T) *simRig {
	e, err := New(Options{Pod: NewMemPort("pod", 64), Underlay: NewMemPort("ipip4", 64), Underlay6: NewMemPort("ipip6", 64),
		UnderlayKind: UnderlayIP, UDPGSO: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetConfig(testConfig(encap.KindIPIP)); err != nil {
		t.Fatal(err)
	}
	return rigOf(e)
}

// hybridRig runs the config a hybrid node gives its engine: node 2 shares
// our underlay subnet and is routed natively by the kernel, so only node 3
// is tunnelled.
func hybridRig(t *testing.T) *simRig {
	e, _, _ := newTestEngine(t, encap.KindVXLAN)
	cfg := testConfig(encap.KindVXLAN)
	cfg.Peers = cfg.Peers[1:]
	if err := e.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return rigOf(e)
}

func noConfigRig(t *testing.T) *simRig {
	e, err := New(Options{Pod: NewMemPort("pod", 8), Underlay: NewMemPort("underlay", 8)})
	if err != nil {
		t.Fatal(err)
	}
	return rigOf(e)
}

// Every case runs through the live loop (over in-memory ports) and through
// Simulate on the same engine: the verdict (the ports written, the drop
// counters, an ICMP answer) and every traced stage, bytes included, must
// be the same, and the simulation must leave the engine's counters and
// ports alone.
func TestSimulateTakesTheLiveDecisions(t *testing.T) {
	cfg := testConfig(encap.KindVXLAN)
	node2, stranger := cfg.Peers[0], netip.MustParseAddr("10.99.0.9")
	tun := func(c *Config, inner []byte) []byte { return tunnelPayload(t, c, node2, inner, 42) }
	udpIn := func(src netip.Addr, payload []byte) []byte {
		return outer4(t, src, layers.IPProtocolUDP, 4789, payload)
	}
	vx := func(inner []byte) []byte { return udpIn(peerUnderlay, tun(cfg, inner)) }
	in4, in6 := udpPacket(t, remotePod, localPod, 64, true, 100), udpPacket(t, remotePod6, localPod6, 64, false, 100)
	out4, out6 := udpPacket(t, localPod, remotePod, 64, true, 100), udpPacket(t, localPod6, remotePod6, 64, false, 100)

	badLen := clone(out4, func(b []byte) { binary.BigEndian.PutUint16(b[2:], 2000) })
	badVersion := clone(out4, func(b []byte) { b[0] = 0x55 })
	noDF := udpPacket(t, localPod, remotePod, 64, false, 1480)
	super4, gso4 := outgoingSuper(t, false, 6000)
	super6, gso6 := outgoingSuper(t, true, 6000)
	udpSuper := clone(out4, nil)
	noMSS := gso4
	noMSS.GSOSize = 0
	hugeMSS := gso4
	hugeMSS.GSOSize = 1480
	small, _ := outgoingSuper(t, false, 300)
	csum := offload.VirtioNetHdr{Flags: offload.FlagNeedsCsum, CsumStart: 20, CsumOffset: 16}
	badCsumAt := offload.VirtioNetHdr{Flags: offload.FlagNeedsCsum, CsumStart: 20, CsumOffset: 2000}
	udpGSO := offload.VirtioNetHdr{Flags: offload.FlagNeedsCsum, GSOType: offload.GSOUDPL4, HdrLen: 28, GSOSize: 40, CsumStart: 20, CsumOffset: 6}

	corrupt := clone(in4, func(b []byte) { b[len(b)-1] ^= 0xff })
	wholeIn := tcpPacket(t, false, 3000)
	partialize(wholeIn)
	wholeBad := clone(tcpPacket(t, false, 3000), func(b []byte) { b[100] ^= 1 })
	ours := udpPacket(t, localPod, remotePod, 1, false, 20)
	expired := udpPacket(t, localPod, remotePod, 0, false, 20)
	icmpErr := icmpFromNode(t, peerUnderlay, localPod, 11, ours)

	none := offload.VirtioNetHdr{}
	cases := []struct {
		name string
		rig  func(*testing.T) *simRig
		dir  Direction
		pkt  []byte
		gso  offload.VirtioNetHdr
		want string // the verdict words, sorted, comma-joined
	}{
		// egress
		{"encap v4", vxlanRig, Egress, out4, none, "sent:underlay×1"},
		{"encap v6", vxlanRig, Egress, out6, none, "sent:underlay×1"},
		{"encap geneve", geneveRig, Egress, out4, none, "sent:underlay×1"},
		{"no-config egress", noConfigRig, Egress, out4, none, "drop:no-config"},
		{"bad-length", vxlanRig, Egress, badLen, none, "drop:bad-length"},
		{"bad-version", vxlanRig, Egress, badVersion, none, "drop:" + parseReason(badVersion)},
		{"no-route", vxlanRig, Egress, udpPacket(t, localPod, netip.MustParseAddr("10.250.0.1"), 64, true, 10), none, "drop:no-route"},
		{"local-loop", vxlanRig, Egress, udpPacket(t, localPod, netip.MustParseAddr("10.244.1.11"), 64, true, 10), none, "drop:local-loop"},
		{"ttl-exceeded answered", vxlanRig, Egress, expired, none, "drop:ttl-exceeded,icmp"},
		{"ttl 1 goes on (the next node takes it)", vxlanRig, Egress, ours, none, "sent:underlay×1"},
		{"too-big answered", vxlanRig, Egress, udpPacket(t, localPod, remotePod, 64, true, 1480), none, "drop:too-big,icmp"},
		{"too-big v6 answered", vxlanRig, Egress, udpPacket(t, localPod6, remotePod6, 64, false, 1480), none, "drop:too-big,icmp"},
		{"too-big without DF", vxlanRig, Egress, noDF, none, "drop:too-big"},
		{"gso split to udp gso trains", vxlanRig, Egress, super4, gso4, "sent:underlay×5"},
		{"gso split v6", vxlanRig, Egress, super6, gso6, "sent:underlay×5"},
		{"gso udp segmentation", vxlanRig, Egress, udpSuper, udpGSO, "sent:underlay×3"},
		{"gso without mss", vxlanRig, Egress, super4, noMSS, "drop:segment-failed"},
		{"gso segments over the mtu", vxlanRig, Egress, super4, hugeMSS, "drop:too-big"},
		{"checksum completed", vxlanRig, Egress, small, csum, "sent:underlay×1"},
		{"checksum offset outside", vxlanRig, Egress, small, badCsumAt, "drop:segment-failed"},
		{"gso whole to the tunnel gso port", wholeRig, Egress, super4, gso4, "sent:fake-tap×1"},
		{"gso v6 inner whole", wholeRig, Egress, super6, gso6, "sent:fake-tap×1"},
		{"frame encap", frameRig, Egress, out4, none, "sent:xdp×1"},
		{"frame gso split", frameRig, Egress, super4, gso4, "sent:xdp×5"},
		{"neighbour-unresolved", unresolvedRig, Egress, out4, none, "drop:neighbour-unresolved"},
		{"direct engine: icmp to local", directRig, Egress, expired, none, "drop:ttl-exceeded,icmp"},
		{"ipip v4 inner", ipipRig, Egress, out4, none, "sent:ipip4×1"},
		{"ipip v6 inner", ipipRig, Egress, out6, none, "sent:ipip6×1"},
		{"ipip v6 gso", ipipRig, Egress, super6, gso6, "sent:ipip6×5"},
		{"hybrid: native peer not tunnelled", hybridRig, Egress, out4, none, "drop:no-route"},
		{"hybrid: tunnelled peer", hybridRig, Egress, udpPacket(t, localPod, thirdPod, 64, true, 10), none, "sent:underlay×1"},

		// ingress
		{"deliver v4", vxlanRig, Ingress, vx(in4), none, "sent:pod×1"},
		{"deliver v6", vxlanRig, Ingress, vx(in6), none, "sent:pod×1"},
		{"deliver geneve", geneveRig, Ingress, outer4(t, peerUnderlay, layers.IPProtocolUDP, 6081, tun(testConfig(encap.KindGeneve), in4)), none, "sent:pod×1"},
		{"no-config ingress", noConfigRig, Ingress, vx(in4), none, "drop:no-config"},
		{"empty datagram", vxlanRig, Ingress, udpIn(peerUnderlay, nil), none, "drop:empty"},
		{"unknown-peer", vxlanRig, Ingress, udpIn(stranger, tun(cfg, in4)), none, "drop:unknown-peer"},
		{"bad-vni", vxlanRig, Ingress, udpIn(peerUnderlay, tunnelPayload(t, cfg, node2, in4, 9)), none, "drop:bad-vni"},
		{"bad-vxlan-flags", vxlanRig, Ingress, udpIn(peerUnderlay, clone(tun(cfg, in4), func(b []byte) { b[0] = 0 })), none, "drop:bad-vxlan-flags"},
		{"inner bad-version", vxlanRig, Ingress, udpIn(peerUnderlay, clone(tun(cfg, in4), func(b []byte) { b[encap.VXLANLen+encap.EthernetLen] = 0x55 })), none, "drop:bad-version"},
		{"spoofed-source", vxlanRig, Ingress, vx(udpPacket(t, thirdPod, localPod, 64, true, 10)), none, "drop:spoofed-source"},
		{"peer's icmp error", vxlanRig, Ingress, vx(icmpErr), none, "sent:pod×1"},
		{"not-local", vxlanRig, Ingress, vx(udpPacket(t, remotePod, thirdPod, 64, true, 10)), none, "drop:not-local-destination"},
		{"bad-inner-checksum", vxlanRig, Ingress, vx(corrupt), none, "drop:bad-inner-checksum"},
		{"oversize-inner", vxlanRig, Ingress, vx(udpPacket(t, remotePod, localPod, 64, true, 1480)), none, "drop:oversize-inner"},
		{"gro: checked and marked", wholeRig, Ingress, vx(tcpPacket(t, false, 500)), none, "sent:pod×1"},
		{"whole super-packet", wholeRig, Ingress, vx(wholeIn), none, "sent:pod×1"},
		{"whole super-packet bad checksum", wholeRig, Ingress, vx(wholeBad), none, "drop:bad-inner-checksum"},
		{"whole udp refused", wholeRig, Ingress, vx(udpPacket(t, remotePod, localPod, 64, true, 3000)), none, "drop:oversize-inner"},
		{"direct pod port", directRig, Ingress, vx(in4), none, "sent:pods×1"},
		{"direct port misses: tun", directRig, Ingress, vx(udpPacket(t, remotePod, netip.MustParseAddr("10.244.1.99"), 64, true, 10)), none, "sent:tun×1"},
		{"direct last hop: tun", directRig, Ingress, vx(udpPacket(t, remotePod, localPod, 1, true, 10)), none, "sent:tun×1"},
		{"frame deliver", frameRig, Ingress, vx(in4), none, "sent:pod×1"},
		{"frame not-ip", frameRig, Ingress, make([]byte, 40), none, "drop:not-ip"},
		{"ipip decap v4 inner", ipipRig, Ingress, outer4(t, peerUnderlay, layers.IPProtocolIPv4, 0, in4), none, "sent:pod×1"},
		{"ipip decap v6 inner (protocol 41)", ipipRig, Ingress, outer4(t, peerUnderlay, layers.IPProtocolIPv6, 0, in6), none, "sent:pod×1"},
		{"ipip unknown-peer", ipipRig, Ingress, outer4(t, stranger, layers.IPProtocolIPv4, 0, in4), none, "drop:unknown-peer"},
		{"ipip spoofed-source", ipipRig, Ingress, outer4(t, peerUnderlay, layers.IPProtocolIPv4, 0, udpPacket(t, thirdPod, localPod, 64, true, 10)), none, "drop:spoofed-source"},
		{"ipip bad-ip-checksum", ipipRig, Ingress, clone(outer4(t, peerUnderlay, layers.IPProtocolIPv4, 0, in4), func(b []byte) { b[10] ^= 0xff }), none, "drop:bad-ip-checksum"},
		{"frame outer-fragment", frameRig, Ingress, clone(vx(in4), func(b []byte) {
			b[6], b[7] = 0x20, 0
			b[10], b[11] = 0, 0
			binary.BigEndian.PutUint16(b[10:], encap.Checksum(b[:20], 0))
		}), none, "drop:outer-fragment"},
		{"hybrid: native peer's tunnel refused", hybridRig, Ingress, vx(in4), none, "drop:unknown-peer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.rig(t)
			before := counts(r.e)
			simV, simEvs := r.simulated(tc.dir, slices.Clone(tc.pkt), tc.gso)
			if !slices.Equal(counts(r.e), before) {
				t.Error("Simulate moved the engine's counters")
			}
			if w := r.written(tc.dir); len(w) != 0 {
				t.Errorf("Simulate wrote to the engine's ports: %v", w)
			}
			liveV, liveEvs := r.live(t, tc.dir, slices.Clone(tc.pkt), tc.gso)
			if got := strings.Join(liveV, ","); got != tc.want {
				t.Errorf("live verdict %s, want %s", got, tc.want)
			}
			if !slices.Equal(simV, liveV) {
				t.Errorf("simulated verdict %v, live %v", simV, liveV)
			}
			if len(liveEvs) == 0 {
				t.Fatal("the live loop traced nothing")
			}
			if r.e.opts.UnderlayKind == UnderlayFrame {
				blankOuterID(simEvs)
				blankOuterID(liveEvs)
			}
			if !reflect.DeepEqual(simEvs, liveEvs) {
				t.Errorf("simulated stages %s, live %s", stageList(simEvs), stageList(liveEvs))
				for i := range min(len(simEvs), len(liveEvs)) {
					if !reflect.DeepEqual(simEvs[i], liveEvs[i]) {
						t.Errorf("first difference at stage %d:\nsim  %+v\nlive %+v", i, simEvs[i], liveEvs[i])
						break
					}
				}
			}
		})
	}
}

func stageList(evs []TraceEvent) string {
	var s []string
	for _, ev := range evs {
		s = append(s, ev.Stage.String())
	}
	return strings.Join(s, ",")
}

// parseReason is the reason ParseInner gives pkt.
func parseReason(pkt []byte) string {
	var f encap.Flow
	return FromEncap(encap.ParseInner(pkt, &f)).String()
}

func clone(b []byte, mangle func([]byte)) []byte {
	c := slices.Clone(b)
	if mangle != nil {
		mangle(c)
	}
	return c
}

// blankOuterID zeroes the outer IPv4 Identification and header checksum of
// whole frames: for packets without DF the ID comes from a per-peer
// counter, which a simulation does not advance on the live engine.
func blankOuterID(evs []TraceEvent) {
	for _, ev := range evs {
		if b := ev.Packet; ev.Stage == StageEncap && len(b) >= encap.EthernetLen+encap.IPv4MinLen && b[encap.EthernetLen]>>4 == 4 {
			ip := b[encap.EthernetLen:]
			ip[4], ip[5], ip[10], ip[11] = 0, 0, 0, 0
		}
	}
}
