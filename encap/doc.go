// Package encap holds podfwd's wire formats: byte-slice header views for
// Ethernet, IPv4, IPv6, UDP, VXLAN and Geneve; encapsulation into and
// decapsulation out of VXLAN (RFC 7348), Geneve (RFC 8926) and IPIP (IPv4/IPv6
// in IPv4/IPv6); the inner-packet helpers a tunnel endpoint needs (parse,
// TTL decrement, ICMP errors); and Internet checksums.
//
// Nothing here does I/O, locks or allocates on a per-packet path: encap
// writes headers into the headroom in front of a packet, decap returns an
// offset into the caller's buffer, and every failure is a DropReason (a small
// integer with a stable name), never a formatted error. Only configuration
// checks (Params.Validate) return errors.
//
// The package imports nothing of podfwd's.
package encap
