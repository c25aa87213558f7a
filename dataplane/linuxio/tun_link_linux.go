package linuxio

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// SetLinkMTU sets the MTU of the link called name through h, or through
// the calling thread's network namespace when h is nil. Addresses and
// routes are the caller's business.
func SetLinkMTU(h *netlink.Handle, name string, mtu int) error {
	link, err := linkByName(h, name)
	if err != nil {
		return err
	}
	if h == nil {
		err = netlink.LinkSetMTU(link, mtu)
	} else {
		err = h.LinkSetMTU(link, mtu)
	}
	if err != nil {
		return fmt.Errorf("linuxio: set mtu %d on %s: %w", mtu, name, err)
	}
	return nil
}

// SetLinkUp brings the link called name up through h, or through the
// calling thread's network namespace when h is nil.
func SetLinkUp(h *netlink.Handle, name string) error {
	link, err := linkByName(h, name)
	if err != nil {
		return err
	}
	if h == nil {
		err = netlink.LinkSetUp(link)
	} else {
		err = h.LinkSetUp(link)
	}
	if err != nil {
		return fmt.Errorf("linuxio: set %s up: %w", name, err)
	}
	return nil
}

func linkByName(h *netlink.Handle, name string) (netlink.Link, error) {
	var link netlink.Link
	var err error
	if h == nil {
		link, err = netlink.LinkByName(name)
	} else {
		link, err = h.LinkByName(name)
	}
	if err != nil {
		return nil, fmt.Errorf("linuxio: link %s: %w", name, err)
	}
	return link, nil
}
