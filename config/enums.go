package config

import "github.com/podfwd/podfwd/encap"

// The file's enumerated fields are named string types: the YAML spelling
// is the value, and Check (or Kind) is the one place that knows the
// allowed set and names the field when a value is outside it.

// IO is the io path a daemon runs (file: io).
type IO string

// IO paths a daemon can run.
const (
	IOTUN        IO = "tun"
	IOUDPProcess IO = "udp-process"
	// IOXDP carries the underlay through an AF_XDP socket (pod side: TUN).
	IOXDP IO = "xdp"
	// IOKernel hands the tunnel to the kernel's own VXLAN device,
	// programmed as flannel's vxlan backend does: the reference mode.
	IOKernel IO = "kernel"
)

// Check fails, naming the field, unless v is one of the io paths.
func (v IO) Check() error {
	switch v {
	case IOTUN, IOUDPProcess, IOXDP, IOKernel:
		return nil
	}
	return FieldError("io", "%q is not one of tun, udp-process, xdp, kernel", string(v))
}

// Encap is the tunnel format between nodes (file: encap).
type Encap string

// Encapsulations; EncapNone routes natively, without a tunnel.
const (
	EncapVXLAN  Encap = "vxlan"
	EncapGeneve Encap = "geneve"
	EncapIPIP   Encap = "ipip"
	EncapNone   Encap = "none"
)

// Kind maps e to the wire format; native is true for EncapNone (native
// routing, no kind), and err names the field for unknown values.
func (e Encap) Kind() (kind encap.Kind, native bool, err error) {
	switch e {
	case EncapVXLAN:
		return encap.KindVXLAN, false, nil
	case EncapGeneve:
		return encap.KindGeneve, false, nil
	case EncapIPIP:
		return encap.KindIPIP, false, nil
	case EncapNone:
		return 0, true, nil
	}
	return 0, false, FieldError("encap", "%q is not one of vxlan, geneve, ipip, none", string(e))
}

// PartialChecksums is the policy for inner checksums a sender's kernel
// left partial (file: underlay.partialChecksums).
type PartialChecksums string

// Partial checksum policies: accept completes and delivers them (nodes
// that share a host or a hypervisor send them), drop counts them as
// bad-inner-checksum (every node has its own NIC).
const (
	PartialChecksumsAccept PartialChecksums = "accept"
	PartialChecksumsDrop   PartialChecksums = "drop"
)

// Check fails, naming the field, unless p is a policy or empty (accept).
func (p PartialChecksums) Check() error {
	switch p {
	case "", PartialChecksumsAccept, PartialChecksumsDrop:
		return nil
	}
	return FieldError("underlay.partialChecksums", "%q is not one of accept, drop", string(p))
}

// XDPMode is where the XDP program runs (file: xdp.mode).
type XDPMode string

// XDP attach modes.
const (
	XDPModeAuto    XDPMode = "auto"
	XDPModeNative  XDPMode = "native"
	XDPModeGeneric XDPMode = "generic"
)

// Check fails, naming the field, unless m is an attach mode.
func (m XDPMode) Check() error {
	switch m {
	case XDPModeAuto, XDPModeNative, XDPModeGeneric:
		return nil
	}
	return FieldError("xdp.mode", "%q is not one of auto, native, generic", string(m))
}

// XDPZeroCopy is the AF_XDP socket's bind choice (file: xdp.zeroCopy).
type XDPZeroCopy string

// XDP zero-copy choices.
const (
	XDPZeroCopyAuto XDPZeroCopy = "auto"
	XDPZeroCopyOn   XDPZeroCopy = "on"
	XDPZeroCopyOff  XDPZeroCopy = "off"
)

// Check fails, naming the field, unless z is a zero-copy choice.
func (z XDPZeroCopy) Check() error {
	switch z {
	case XDPZeroCopyAuto, XDPZeroCopyOn, XDPZeroCopyOff:
		return nil
	}
	return FieldError("xdp.zeroCopy", "%q is not one of auto, on, off", string(z))
}
