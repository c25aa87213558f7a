// Package hostnet programs the node's own network stack to match a
// dataplane.Config: the routes podfwd owns (marked RouteProtocol, so
// reconciliation never touches anyone else's), the kernel VXLAN device of
// io: kernel, and the egress masquerade table (through hostnet/masq). It
// also looks up the underlay interface for config validation. Everything
// it installs can be removed again; the dataplane never calls into it.
package hostnet
