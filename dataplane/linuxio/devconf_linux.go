package linuxio

import (
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Indexes of struct ipv4_devconf (IPV4_DEVCONF_* in linux/ip.h): the
// attribute types inside IFLA_INET_CONF.
const (
	ipv4DevConfForwarding  = 1
	ipv4DevConfRPFilter    = 8
	ipv4DevConfAcceptLocal = 23
)

// in6AddrGenModeNone (IN6_ADDR_GEN_MODE_NONE): no link-local address.
const in6AddrGenModeNone = 1

// setIPv4DevConf sets per-device IPv4 settings (what
// /proc/sys/net/ipv4/conf/<dev>/ holds) on the link with index ifindex in
// one RTM_SETLINK: IFLA_AF_SPEC → AF_INET → IFLA_INET_CONF → one u32 per
// setting, as the kernel's inet_set_link_af takes them.
func setIPv4DevConf(ifindex int, conf map[int]uint32) error {
	req := nl.NewNetlinkRequest(unix.RTM_SETLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(ifindex)
	req.AddData(msg)
	spec := nl.NewRtAttr(unix.IFLA_AF_SPEC, nil)
	inet := spec.AddRtAttr(unix.AF_INET, nil)
	cfg := inet.AddRtAttr(unix.IFLA_INET_CONF, nil)
	for k, v := range conf {
		cfg.AddRtAttr(k, nl.Uint32Attr(v))
	}
	req.AddData(spec)
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}
